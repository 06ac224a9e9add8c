"""The TypeScript client (`clients/typescript`) against a real API and reference Runtime.

The client's own tests (`npm test`: node's test runner over the built ESM output) upload with
progress, watch to COMPLETED over graphql-ws and over the SSE fallback, query, mash two
uploads, page every record and read typed errors' codes. This module installs and builds the
package when needed, starts the processes and runs those tests; Node 20+ and npm are required.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.node import NodeMissing, node_binary, npm_project
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"
# Slow enough that a watch sees a running execution before it completes.
PHASE_DELAY = 0.2
NPM_TIMEOUT = 600


@pytest.fixture(scope="module")
def built_client() -> str:
    """npm, once the lockfile's packages are installed and `npm run build` has run."""
    try:
        node_binary()
    except NodeMissing as exc:
        pytest.fail(str(exc))
    npm_project(PACKAGE)
    npm = shutil.which("npm")
    assert npm is not None
    # Always: codegen reads schema/schema.graphql, so the types follow the checked-in SDL.
    result = subprocess.run(
        [npm, "run", "build"], cwd=PACKAGE, capture_output=True, text=True, timeout=NPM_TIMEOUT
    )
    assert result.returncode == 0, f"npm run build failed:\n{result.stdout}\n{result.stderr}"
    return npm


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """A reference Runtime of this module's own (phases slowed) and the API, with auth."""
    root = tmp_path_factory.mktemp("typescript-client")
    runtime = RuntimeProcess(
        root / "runtime",
        env={"REFERENCE_RUNTIME_PHASE_DELAY": str(PHASE_DELAY)},
        require_session=True,
    )
    api = ApiProcess(runtime.url, root / "api-logs", auth=True)
    with started_together(runtime, api):
        yield api


def test_the_typescript_client_passes_its_tests_against_a_real_api(
    built_client: str, api: ApiProcess
) -> None:
    env = {
        **os.environ,
        "EXPERIENCE_GRAPHQL_URL": api.graphql_url,
        "EXPERIENCE_TOKEN": api.token(ttl=timedelta(minutes=30)),
    }
    result = subprocess.run(
        [built_client, "test"],
        cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=NPM_TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"node --test failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
        f"API log:\n{api.log_text()[-4000:]}"
    )
    assert "# fail 0" in result.stdout, result.stdout
    assert "# pass 0" not in result.stdout, result.stdout
