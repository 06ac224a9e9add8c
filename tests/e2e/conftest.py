"""Real processes for the end-to-end suite: the reference Runtime and the API, on free ports.

Session-scoped (one pair per xdist worker), started side by side: every test creates its own
executions under its own ids and keys, and the Runtime's counters are keyed by execution id, so
tests do not see each other's traffic. Before each test the Runtime's faults go back to the
pacing below. Modules that need other settings (auth, hardening, faults, replicas...) start a
pair of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import ApiProcess, SharedRuntimeProcess, started_together

PHASE_DELAY = 0.2


@pytest.fixture(scope="session")
def e2e_processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SharedRuntimeProcess, ApiProcess]]:
    """The reference Runtime (asynchronous mode, phases slowed so changes are observable) and
    `experience-plane serve` pointed at it, with authentication (production)."""
    root = tmp_path_factory.mktemp("e2e")
    runtime = SharedRuntimeProcess(
        root / "runtime", defaults={"phase_delay": PHASE_DELAY}, require_session=True
    )
    api = ApiProcess(runtime.url, root / "api-logs", auth=True)
    with started_together(runtime, api):
        runtime.reset()
        yield runtime, api


@pytest.fixture(scope="session")
def e2e_runtime(e2e_processes: tuple[SharedRuntimeProcess, ApiProcess]) -> SharedRuntimeProcess:
    """The shared Runtime."""
    return e2e_processes[0]


@pytest.fixture(scope="session")
def api(e2e_processes: tuple[SharedRuntimeProcess, ApiProcess]) -> ApiProcess:
    """The shared API, in front of `e2e_runtime`."""
    return e2e_processes[1]


@pytest.fixture(autouse=True)
def _rested_e2e_runtime(request: pytest.FixtureRequest) -> None:
    """Before each test that uses the shared pair: faults back to the e2e pacing, counters zero."""
    if "e2e_processes" in request.fixturenames:
        runtime, _ = request.getfixturevalue("e2e_processes")
        runtime.reset()
