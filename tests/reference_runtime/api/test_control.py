"""Test controls: counters, live faults, and their absence when disabled."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.reference_runtime.support import RuntimeApi
from tests.support.processes import RuntimeProcess


def test_stats_count_requests_status_reads_and_submits(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    shared_runtime.reset_stats()
    status = api.upload("a.txt", b"x", "text/plain")
    execution_id = status["execution_id"]
    for _ in range(3):
        api.status(execution_id)
    stats = shared_runtime.stats()
    reads = stats["status_reads"][execution_id]
    assert reads >= 4  # at least one read while waiting, then three more
    assert stats["requests"]["GET /api/execution/{execution_id}/status"] == reads
    assert stats["requests"]["POST /api/intent/submit"] == 1
    assert stats["submits"] == {"content.upload": 1}
    assert stats["executions_created"] == {"content.upload": 1}
    assert stats["stream_connections"] == {}
    shared_runtime.reset_stats()
    assert shared_runtime.stats() == {
        "requests": {},
        "status_reads": {},
        "stream_connections": {},
        "submits": {},
        "executions_created": {},
        "submits_deduplicated": {},
    }


def test_faults_are_set_live_and_reported(shared_runtime: RuntimeProcess) -> None:
    response = httpx.post(shared_runtime.url + "/_control/faults", json={"latency": 0.2})
    assert response.json() == {
        "latency": 0.2,
        "status_error_rate": 0.0,
        "drop_rate": 0.0,
        "phase_delay": 0.0,
        "error_rate": 0.0,
        "drop_after_handling_rate": 0.0,
        "step_delay": 0.0,
    }
    # One client made beforehand: building one (its TLS context) is no part of what is timed,
    # and on a busy machine can take longer than the latency itself.
    with httpx.Client(base_url=shared_runtime.url) as http:
        http.get("/health")  # connected before the clock starts
        started = time.monotonic()
        http.get("/api/execution/x/status", params={"tenant_id": "t"})
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        http.get("/health")
        assert time.monotonic() - started < 0.2  # only /api requests are slowed down
    shared_runtime.set_faults(latency=0)


@pytest.mark.parametrize("bad", [{"drop_rate": 2}, {"latency": -1}, {"colour": 1}])
def test_bad_fault_values_are_422(shared_runtime: RuntimeProcess, bad: dict[str, float]) -> None:
    assert httpx.post(shared_runtime.url + "/_control/faults", json=bad).status_code == 422


def test_status_errors_answer_503_with_retry_after_and_are_counted(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    status = api.upload("a.txt", b"x", "text/plain")
    shared_runtime.reset_stats()
    shared_runtime.set_faults(status_error_rate=1.0)
    response = api.status(status["execution_id"])
    assert response.status_code == 503
    assert response.headers["retry-after"] == "0"
    assert shared_runtime.stats()["status_reads"][status["execution_id"]] == 1
    # Submits are not status reads: they still work.
    assert (
        api.submit("content.upload", api.upload_params("b", b"y", "text/plain")).status_code == 200
    )
    shared_runtime.set_faults(status_error_rate=0)
    assert api.status(status["execution_id"]).status_code == 200


def test_dropped_connections_cut_the_response_short(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    shared_runtime.set_faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        api.status("exec_any")
    shared_runtime.set_faults(drop_rate=0)
    assert api.status("exec_any").status_code == 404


def test_error_rate_answers_503_to_submits_too(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    shared_runtime.reset_stats()
    shared_runtime.set_faults(error_rate=1.0)
    response = api.submit("content.upload", api.upload_params("c", b"z", "text/plain"))
    assert response.status_code == 503
    shared_runtime.set_faults(error_rate=0)
    assert shared_runtime.stats()["submits"] == {}  # refused before it was handled


def test_drop_after_handling_runs_the_submit_then_cuts_the_answer(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    shared_runtime.reset_stats()
    shared_runtime.set_faults(drop_after_handling_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        api.submit("content.upload", api.upload_params("d", b"w", "text/plain"))
    # Status reads are not submits: they are answered.
    assert api.status("exec_any").status_code == 404
    shared_runtime.set_faults(drop_after_handling_rate=0)
    stats = shared_runtime.stats()
    assert stats["submits"] == {"content.upload": 1}
    assert stats["executions_created"] == {"content.upload": 1}


def test_faults_can_be_configured_from_the_environment(tmp_path: Path) -> None:
    env = {"REFERENCE_RUNTIME_FAULT_STATUS_ERROR_RATE": "1", "REFERENCE_RUNTIME_PHASE_DELAY": "0.5"}
    with RuntimeProcess(tmp_path / "rt", env=env) as runtime:
        faults = httpx.post(runtime.url + "/_control/faults", json={}).json()
        assert faults["status_error_rate"] == 1.0
        assert faults["phase_delay"] == 0.5
        assert httpx.get(runtime.url + "/api/execution/e/status?tenant_id=t").status_code == 503


def test_control_endpoints_are_absent_unless_enabled(tmp_path: Path) -> None:
    env = {"REFERENCE_RUNTIME_CONTROL_ENABLED": "false"}
    with RuntimeProcess(tmp_path / "rt", env=env) as runtime:
        assert httpx.get(runtime.url + "/_control/stats").status_code == 404
        assert httpx.post(runtime.url + "/_control/faults", json={}).status_code == 404
        assert httpx.get(runtime.url + "/health").status_code == 200
