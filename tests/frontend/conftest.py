"""The frontend tests need Node.js (every test using the `node_tools` fixture). Without it they
fail on CI (`CI=true`); on a developer's machine they are deselected here, and the run ends with
a banner saying so and why (`tests/conftest.py`, which the xdist controller loads too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.frontend import NodeTools, find_node, in_ci
from tests.support.node import npm_built

ROOT = Path(__file__).resolve().parents[2]
TYPESCRIPT_CLIENT = ROOT / "clients" / "typescript"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needing_node = [item for item in items if "node_tools" in getattr(item, "fixturenames", ())]
    found = find_node()
    if not needing_node or in_ci() or isinstance(found, NodeTools):
        return
    config.hook.pytest_deselected(items=needing_node)
    items[:] = [item for item in items if item not in needing_node]


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """Node.js and npm; a clear failure when they are missing (on CI)."""
    found = find_node()
    if not isinstance(found, NodeTools):
        pytest.fail(f"The frontend tests need Node.js: {found}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def typescript_client(node_tools: NodeTools) -> Path:
    """clients/typescript, installed from its lockfile and built (`npm run build`: codegen from
    the checked-in SDL, then tsc) unless dist/ was built from the same SDL and sources."""
    package = TYPESCRIPT_CLIENT
    sources = sorted((package / "src").glob("*.ts"))  # not src/generated/: codegen writes it
    config = ("package.json", "package-lock.json", "tsconfig.json", "codegen.ts")
    inputs = [ROOT / "schema" / "schema.graphql", *(package / name for name in config), *sources]
    return npm_built(package, package / "dist", inputs)
