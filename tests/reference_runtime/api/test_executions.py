"""Execution status: phases in order, the stream, restarts, and tenant isolation."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.reference_runtime.support import RuntimeApi
from tests.support.processes import RuntimeProcess

PHASES = ["created", "executing", "artifacts_received", "completed"]


def _ws_url(runtime: RuntimeProcess, execution_id: str, tenant_id: str) -> str:
    host = runtime.url.removeprefix("http://")
    return f"ws://{host}/api/execution/{execution_id}/stream?tenant_id={tenant_id}"


def test_phases_are_observed_in_order_with_progress(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    shared_runtime.set_faults(phase_delay=0.1)
    execution_id = api.submit_upload("a.csv", b"a\n1\n", "text/csv")
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = api.status(execution_id).json()
        step = (body["status"], body["progress"]["percent"])
        if not seen or seen[-1] != step:
            seen.append(step)
        assert body["progress"]["phase"] == body["status"]
        if body["status"] == "completed":
            break
        time.sleep(0.01)
    assert seen == [
        ("created", 0.0),
        ("executing", 25.0),
        ("artifacts_received", 75.0),
        ("completed", 100.0),
    ]
    final = api.status(execution_id).json()
    assert [e["status"] for e in final["events"]] == PHASES
    assert final["intent_type"] == "content.upload"
    assert final["updated_at"] > final["created_at"]


async def _read_stream(url: str) -> list[dict[str, Any]]:
    messages = []
    async with websockets.connect(url) as socket:
        async for raw in socket:
            messages.append(json.loads(raw))
        assert socket.close_code == 1000
    return messages


def test_stream_pushes_every_change_and_closes_after_the_terminal_status(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    shared_runtime.set_faults(phase_delay=0.1)
    execution_id = api.submit_upload("a.csv", b"a\n1\n", "text/csv")
    messages = asyncio.run(_read_stream(_ws_url(shared_runtime, execution_id, api.tenant_id)))
    statuses = [m["status"] for m in messages if m.get("type") != "ping"]
    assert statuses == PHASES
    assert messages[-1]["artifacts"]["file"]["semantic_payload"]["format"] == "csv"
    assert shared_runtime.stats()["stream_connections"][execution_id] == 1


def test_stream_of_a_finished_execution_sends_it_once_and_closes(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    status = api.upload("a.csv", b"a\n1\n", "text/csv")
    messages = asyncio.run(
        _read_stream(_ws_url(shared_runtime, status["execution_id"], api.tenant_id))
    )
    assert messages == [status]


def test_stream_sends_pings_while_nothing_changes(tmp_path: Path) -> None:
    env = {"REFERENCE_RUNTIME_STREAM_PING_INTERVAL": "0.05", "REFERENCE_RUNTIME_PHASE_DELAY": "0.3"}
    with RuntimeProcess(tmp_path / "rt", env=env) as runtime:
        api = RuntimeApi(runtime.url)
        execution_id = api.submit_upload("a.txt", b"x", "text/plain")
        messages = asyncio.run(_read_stream(_ws_url(runtime, execution_id, api.tenant_id)))
        assert {"type": "ping"} in messages
        assert [m["status"] for m in messages if "status" in m] == PHASES
        api.close()


def test_stream_errors_fail_an_open_stream_and_refuse_new_ones(tmp_path: Path) -> None:
    """`error_rate` reaches the stream, as a failing Runtime's errors would: an open stream is
    closed with 1011, a new handshake answered 503 (a Runtime error, not a missing endpoint)."""
    env = {"REFERENCE_RUNTIME_STREAM_PING_INTERVAL": "0.05", "REFERENCE_RUNTIME_PHASE_DELAY": "30"}
    with RuntimeProcess(tmp_path / "rt", env=env) as runtime:
        api = RuntimeApi(runtime.url)
        execution_id = api.submit_upload("a.txt", b"x", "text/plain")
        url = _ws_url(runtime, execution_id, api.tenant_id)

        async def failed() -> int | None:
            async with websockets.connect(url) as socket:
                assert json.loads(await socket.recv())["status"] == "created"
                assert json.loads(await socket.recv()) == {"type": "ping"}
                runtime.set_faults(error_rate=1.0)
                with pytest.raises(websockets.ConnectionClosedError):
                    _ = [message async for message in socket]
                return socket.close_code

        assert asyncio.run(failed()) == 1011
        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(_read_stream(url))
        assert refused.value.response.status_code == 503
        api.close()


@pytest.mark.parametrize("tenant", ["other-tenant", ""])
def test_stream_of_an_unknown_or_foreign_execution_is_refused(
    shared_runtime: RuntimeProcess, api: RuntimeApi, tenant: str
) -> None:
    status = api.upload("a.txt", b"x", "text/plain")
    for execution_id, tenant_id in (
        (status["execution_id"], tenant),
        ("exec_missing", api.tenant_id),
    ):
        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(_read_stream(_ws_url(shared_runtime, execution_id, tenant_id)))
        assert refused.value.response.status_code == 403


def test_another_tenants_execution_and_artifact_are_not_found(api: RuntimeApi) -> None:
    status = api.upload("a.csv", b"a\n1\n", "text/csv")
    file_id = status["artifacts"]["file"]["semantic_payload"]["file_id"]
    foreign = api.status(status["execution_id"], tenant_id="intruder")
    assert (foreign.status_code, foreign.json()) == (404, {"detail": "Execution not found"})
    missing = api.status("exec_nope")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Execution not found"})
    artifact = api.artifact(file_id, tenant_id="intruder")
    assert (artifact.status_code, artifact.json()) == (404, {"detail": "Artifact not found"})
    assert api.artifact(file_id).status_code == 200


def test_another_tenants_file_cannot_be_mashed(
    api: RuntimeApi, shared_runtime: RuntimeProcess
) -> None:
    file_id = api.upload_file_id("a.csv", b"id\n1\n", "text/csv")
    intruder = RuntimeApi(shared_runtime.url)
    status = intruder.mash([file_id])
    intruder.close()
    assert status["status"] == "failed"
    assert status["error"].startswith(f"Unknown content refs: {file_id}.")


def test_restart_keeps_finished_work_and_fails_interrupted_executions(tmp_path: Path) -> None:
    with RuntimeProcess(tmp_path / "rt") as runtime:
        api = RuntimeApi(runtime.url)
        done = api.upload("a.csv", b"a,b\n1,2\n", "text/csv")
        file_id = done["artifacts"]["file"]["semantic_payload"]["file_id"]
        runtime.set_faults(phase_delay=30)
        pending = api.submit_upload("b.csv", b"a\n1\n", "text/csv")
        assert api.status(pending).json()["status"] == "created"

        runtime.restart()

        assert api.status(done["execution_id"]).json() == done
        interrupted = api.status(pending).json()
        assert interrupted["status"] == "failed"
        assert interrupted["error"] == (
            "Interrupted: the Runtime restarted before this execution finished; submit it again"
        )
        artifact = api.artifact(file_id).json()
        assert artifact["semantic_payload"] == done["artifacts"]["file"]["semantic_payload"]
        # The stored bytes are still there: a mash can read the file after the restart.
        assert api.mash([file_id])["status"] == "completed"
        api.close()
