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

from tests.support.processes import ApiProcess, RuntimeProcess

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"
PHASE_DELAY = 0.2
NPM_TIMEOUT = 600


def _npm() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "Node.js 20+ with npm is required to test the TypeScript client (clients/typescript); "
            "install it (Debian/Ubuntu: `apt-get install nodejs npm`, or https://nodejs.org)"
        )
    return npm


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        command, cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=NPM_TIMEOUT
    )
    assert result.returncode == 0, (
        f"`{' '.join(command)}` in clients/typescript exited with {result.returncode}:\n"
        f"{result.stdout}\n{result.stderr}"
    )


@pytest.fixture(scope="module")
def built_client() -> str:
    """npm, once `npm ci` has installed the lockfile's packages and `npm run build` has run."""
    npm = _npm()
    installed = PACKAGE / "node_modules" / ".package-lock.json"
    lockfile = PACKAGE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lockfile.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund"])
    # Always: codegen reads schema/schema.graphql, so the types follow the checked-in SDL.
    _run([npm, "run", "build"])
    return npm


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The reference Runtime (phases slowed, so changes are watchable) and the API in front."""
    data_dir = tmp_path_factory.mktemp("typescript") / "runtime"
    with RuntimeProcess(data_dir, require_session=True) as runtime:
        runtime.set_faults(phase_delay=PHASE_DELAY)
        logs = tmp_path_factory.mktemp("typescript-api-logs")
        with ApiProcess(runtime.url, logs, auth=True) as process:
            yield process


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
