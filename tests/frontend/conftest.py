"""The frontend tests need Node.js (every test using the `node_tools` fixture). Without it they
fail on CI (`CI=true`); on a developer's machine they are deselected and the run ends with a
banner saying so and why, never silently."""

from __future__ import annotations

import pytest

from tests.support.frontend import NodeTools, find_node, in_ci

_NOT_RUN = pytest.StashKey[tuple[str, int]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needing_node = [item for item in items if "node_tools" in getattr(item, "fixturenames", ())]
    found = find_node()
    if not needing_node or in_ci() or isinstance(found, NodeTools):
        return
    config.stash[_NOT_RUN] = (found, len(needing_node))
    config.hook.pytest_deselected(items=needing_node)
    items[:] = [item for item in items if item not in needing_node]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    not_run = config.stash.get(_NOT_RUN, None)
    if not_run is None:
        return
    reason, count = not_run
    terminalreporter.section("FRONTEND TESTS DID NOT RUN", sep="!", red=True, bold=True)
    terminalreporter.write_line(
        f"{count} frontend tests were deselected: {reason}. On CI (CI=true) they fail instead.",
        red=True,
        bold=True,
    )


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """Node.js and npm; a clear failure when they are missing (on CI)."""
    found = find_node()
    if not isinstance(found, NodeTools):
        pytest.fail(f"The frontend tests need Node.js: {found}", pytrace=False)
    return found
