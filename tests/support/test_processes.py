"""The process fixtures themselves: a shared Runtime is lent, reset, and never stopped by a test."""

from __future__ import annotations

import httpx
import pytest

from tests.support.processes import NO_FAULTS, RuntimeProcess, SharedProcessError


def test_the_shared_runtime_refuses_to_be_stopped_or_restarted(runtime: RuntimeProcess) -> None:
    for action in (runtime.stop, runtime.kill, runtime.restart):
        with pytest.raises(SharedProcessError, match="own_runtime"):
            action()
    assert httpx.get(runtime.url + "/health").status_code == 200


def test_a_test_that_changes_faults_and_counts_leaves_them_for_the_next(
    runtime: RuntimeProcess,
) -> None:
    runtime.set_faults(phase_delay=5.0, latency=0.5)
    assert httpx.get(runtime.url + "/health").status_code == 200
    assert runtime.stats()["requests"] == {"GET /health": 1}


def test_the_next_test_finds_resting_faults_and_zero_counters(runtime: RuntimeProcess) -> None:
    faults = httpx.post(runtime.url + "/_control/faults", json={}).json()
    assert faults == NO_FAULTS
    assert all(counts == {} for counts in runtime.stats().values())


@pytest.mark.own_runtime
def test_an_own_runtime_is_a_process_of_its_own(
    runtime: RuntimeProcess, shared_async_runtime: RuntimeProcess
) -> None:
    assert runtime.pid != shared_async_runtime.pid
    runtime.restart()
    assert httpx.get(runtime.url + "/health").status_code == 200
