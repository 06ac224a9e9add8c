"""The frontend tests need Node.js: without it they fail on CI and, on a developer's machine,
are left out with a banner at the end of the run saying so and why (never silently)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.frontend import NodeTools, find_node, in_ci

_NOT_RUN = pytest.StashKey[str]()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if not collection_path.name.startswith("test_") or in_ci():
        return None
    found = find_node()
    if isinstance(found, NodeTools):
        return None
    config.stash[_NOT_RUN] = found
    return True


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    reason = config.stash.get(_NOT_RUN, None)
    if reason is None:
        return
    terminalreporter.section("FRONTEND TESTS DID NOT RUN", sep="!", red=True, bold=True)
    terminalreporter.write_line(
        f"tests/frontend/ was left out: {reason}. CI (CI=true) fails instead.", red=True, bold=True
    )


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """Node.js and npm; a clear failure when they are missing (CI)."""
    found = find_node()
    if not isinstance(found, NodeTools):
        pytest.fail(f"The frontend tests need Node.js: {found}", pytrace=False)
    return found
