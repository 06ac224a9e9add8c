"""The TypeScript client (`clients/typescript`) against a real API and reference Runtime.

The client's own tests (`npm test`: node's test runner over the built ESM output) upload with
progress, watch to COMPLETED over graphql-ws and over the SSE fallback, query, mash two
uploads, page every record and read typed errors' codes. This module starts the processes and
runs those tests over the package the `typescript_client` fixture installs and builds; Node 20+
and npm are required.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.frontend import NodeTools
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

# Slow enough that a watch sees a running execution before it completes.
PHASE_DELAY = 0.2
NPM_TIMEOUT = 600


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
    node_tools: NodeTools, typescript_client: Path, api: ApiProcess
) -> None:
    env = {
        **os.environ,
        "EXPERIENCE_GRAPHQL_URL": api.graphql_url,
        "EXPERIENCE_TOKEN": api.token(ttl=timedelta(minutes=30)),
        # The Runtime's test controls: the client's cancel test slows its work down.
        "EXPERIENCE_RUNTIME_CONTROL_URL": api.env["EXPERIENCE_RUNTIME_URL"],
    }
    result = subprocess.run(
        [node_tools.npm, "test"],
        cwd=typescript_client, env=env, capture_output=True, text=True, timeout=NPM_TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"node --test failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
        f"API log:\n{api.log_text()[-4000:]}"
    )
    assert "# fail 0" in result.stdout, result.stdout
    assert "# pass 0" not in result.stdout, result.stdout
