"""Real processes for the end-to-end suite: the reference Runtime and the API, on free ports.

Module-scoped, so a module's tests share one pair; every test creates its own executions, and
the Runtime's counters are keyed by execution id, so tests do not see each other's traffic.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import ApiProcess, RuntimeProcess

PHASE_DELAY = 0.2


@pytest.fixture(scope="module")
def e2e_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    """The reference Runtime (asynchronous mode), phases slowed so changes are observable."""
    data_dir = tmp_path_factory.mktemp("e2e") / "runtime"
    with RuntimeProcess(data_dir, require_session=True) as runtime:
        runtime.set_faults(phase_delay=PHASE_DELAY)
        yield runtime


@pytest.fixture(scope="module")
def api(
    e2e_runtime: RuntimeProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """`experience-plane serve` pointed at the Runtime, with authentication (production)."""
    with ApiProcess(e2e_runtime.url, tmp_path_factory.mktemp("api-logs"), auth=True) as process:
        yield process
