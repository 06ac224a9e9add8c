"""Listing executions (`GET /api/executions`) and cancelling one (`POST .../cancel`)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reference_runtime.api.test_executions import _read_stream, _ws_url
from tests.reference_runtime.support import CUSTOMERS_CSV, POLICIES_JSON, RuntimeApi
from tests.support.processes import RuntimeProcess, SharedRuntimeProcess


def _submit_as(api: RuntimeApi, user: str, name: str) -> str:
    params = api.upload_params(name, b"a\n1\n", "text/csv")
    response = api.submit("content.upload", params, metadata={"user_id": user})
    assert response.status_code == 200, response.text
    execution_id: str = response.json()["execution_id"]
    return execution_id


def _list(api: RuntimeApi, tenant_id: str | None = None, **params: Any) -> httpx.Response:
    return api.http.get(
        "/api/executions", params={"tenant_id": tenant_id or api.tenant_id, **params}
    )


def _all_pages(api: RuntimeApi, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = _list(api, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["executions"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def _cancel(api: RuntimeApi, execution_id: str, tenant_id: str | None = None) -> httpx.Response:
    return api.http.post(
        f"/api/execution/{execution_id}/cancel", params={"tenant_id": tenant_id or api.tenant_id}
    )


def _wait_for_status(api: RuntimeApi, execution_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if api.status(execution_id).json()["status"] == status:
            return
        time.sleep(0.01)
    raise AssertionError(f"{execution_id} never reached {status}")


def test_the_list_is_newest_first_paged_by_cursor_and_narrowed_by_user(api: RuntimeApi) -> None:
    ids = [_submit_as(api, "ann" if i % 2 else "bob", f"f{i}.csv") for i in range(7)]
    for execution_id in ids:
        api.wait(execution_id)

    first = _list(api, limit=3).json()
    assert [e["execution_id"] for e in first["executions"]] == ids[::-1][:3]
    assert first["next_cursor"]
    listed = _all_pages(api, limit=3)
    assert [e["execution_id"] for e in listed] == ids[::-1]
    newest = listed[0]
    assert newest["status"] == "completed"
    assert newest["intent_type"] == "content.upload"
    assert newest["user_id"] == "bob"
    assert newest["created_at"]
    assert newest["artifacts"]["file"]["semantic_payload"]["filename"] == "f6.csv"

    anns = _all_pages(api, user_id="ann", limit=2)
    assert [e["execution_id"] for e in anns] == [ids[5], ids[3], ids[1]]
    assert {e["user_id"] for e in anns} == {"ann"}


def test_a_cursor_is_a_position_new_executions_do_not_shift_the_next_page(
    api: RuntimeApi,
) -> None:
    ids = [_submit_as(api, "ann", f"f{i}.csv") for i in range(4)]
    first = _list(api, limit=2).json()
    _submit_as(api, "ann", "late.csv")
    rest = _list(api, limit=10, cursor=first["next_cursor"]).json()
    assert [e["execution_id"] for e in rest["executions"]] == [ids[1], ids[0]]
    assert rest["next_cursor"] is None


def test_tenants_never_see_each_others_executions(api: RuntimeApi) -> None:
    mine = _submit_as(api, "ann", "mine.csv")
    assert _list(api, tenant_id="intruder-" + api.tenant_id).json() == {
        "executions": [],
        "next_cursor": None,
    }
    first = _list(api, limit=1).json()
    assert [e["execution_id"] for e in first["executions"]] == [mine]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMl0"},  # [1,2]: JSON, but not a position
        {"limit": 0},
        {"limit": 201},
        {"tenant_id": ""},
    ],
)
def test_a_bad_list_request_is_a_422(api: RuntimeApi, params: dict[str, Any]) -> None:
    response = api.http.get("/api/executions", params={"tenant_id": api.tenant_id, **params})
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


def test_the_list_survives_a_restart(tmp_path: Path) -> None:
    with RuntimeProcess(tmp_path / "rt") as runtime:
        api = RuntimeApi(runtime.url)
        ids = [_submit_as(api, "ann", f"f{i}.csv") for i in range(3)]
        for execution_id in ids:
            api.wait(execution_id)
        before = _all_pages(api, limit=2)
        runtime.restart()
        after = _all_pages(api, limit=2)
        assert [e["execution_id"] for e in after] == ids[::-1]
        assert after == before
        api.close()


def test_cancelling_mid_mash_stops_it_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with RuntimeProcess(tmp_path / "rt") as runtime:
        api = RuntimeApi(runtime.url)
        refs = [
            api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv"),
            api.upload_file_id("policies.json", POLICIES_JSON, "application/json"),
        ]
        runtime.set_faults(step_delay=0.3)
        response = api.submit(
            "data_mash.create", {"content_refs": refs, "options": {"target_domain": "insurance"}}
        )
        execution_id = response.json()["execution_id"]
        _wait_for_status(api, execution_id, "executing")
        # Let the mash get under way: the first safe points pass, the work is in the middle.
        time.sleep(0.5)

        cancelled = _cancel(api, execution_id)

        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
        assert body["status"] == "cancelled"
        assert body["artifacts"] is None
        assert body["error"].startswith("Cancelled")
        assert [e["status"] for e in body["events"]][-1] == "cancelled"
        assert api.status(execution_id).json() == body
        again = _cancel(api, execution_id)
        assert (again.status_code, again.json()) == (
            409,
            {"detail": "Execution already finished: cancelled"},
        )
        runtime.set_faults(step_delay=0.0)
        # Nothing half-written: no artifact of the cancelled execution, no mash blob.
        with sqlite3.connect(tmp_path / "rt" / "runtime.sqlite3") as db:
            rows = db.execute(
                "SELECT artifact_type FROM artifacts WHERE execution_id = ?", (execution_id,)
            ).fetchall()
        assert rows == []
        blobs = [p for p in (tmp_path / "rt" / "blobs").rglob("*") if p.is_file()]
        assert len(blobs) == 2  # the two uploaded files, nothing more
        # The same mash, not cancelled, completes: the cancelled one broke nothing.
        done = api.mash(refs, target_domain="insurance")
        assert done["status"] == "completed"
        api.close()


def test_cancelling_an_upload_mid_way_stores_no_file(tmp_path: Path) -> None:
    with RuntimeProcess(tmp_path / "rt") as runtime:
        api = RuntimeApi(runtime.url)
        runtime.set_faults(step_delay=0.3)
        execution_id = api.submit_upload("customers.csv", CUSTOMERS_CSV, "text/csv")
        _wait_for_status(api, execution_id, "executing")
        cancelled = _cancel(api, execution_id)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        blobs = [p for p in (tmp_path / "rt" / "blobs").rglob("*") if p.is_file()]
        assert blobs == []
        with sqlite3.connect(tmp_path / "rt" / "runtime.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM artifacts").fetchone() == (0,)
        api.close()


def test_a_stream_subscriber_sees_the_cancellation_and_the_stream_ends(
    shared_runtime: SharedRuntimeProcess, api: RuntimeApi
) -> None:
    shared_runtime.set_faults(phase_delay=5.0)
    execution_id = api.submit_upload("a.csv", b"a\n1\n", "text/csv")

    async def watch_and_cancel() -> list[dict[str, Any]]:
        reading = asyncio.create_task(
            _read_stream(_ws_url(shared_runtime, execution_id, api.tenant_id))
        )
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=shared_runtime.url) as http:
            answer = await http.post(
                f"/api/execution/{execution_id}/cancel", params={"tenant_id": api.tenant_id}
            )
        assert answer.json()["status"] == "cancelled"
        return await asyncio.wait_for(reading, 10)

    messages = asyncio.run(watch_and_cancel())
    assert [m["status"] for m in messages if "status" in m] == ["created", "cancelled"]


def test_a_finished_execution_cannot_be_cancelled(api: RuntimeApi) -> None:
    status = api.upload("a.csv", b"a\n1\n", "text/csv")
    response = _cancel(api, status["execution_id"])
    assert (response.status_code, response.json()) == (
        409,
        {"detail": "Execution already finished: completed"},
    )
    assert api.status(status["execution_id"]).json() == status


def test_cancelling_an_unknown_or_foreign_execution_is_not_found(api: RuntimeApi) -> None:
    status = api.upload("a.csv", b"a\n1\n", "text/csv")
    for execution_id, tenant in ((status["execution_id"], "intruder"), ("exec_missing", None)):
        response = _cancel(api, execution_id, tenant)
        assert (response.status_code, response.json()) == (404, {"detail": "Execution not found"})


def test_platform_mode_has_neither_list_nor_cancel(
    shared_platform_runtime: SharedRuntimeProcess,
) -> None:
    shared_platform_runtime.reset()
    with httpx.Client(base_url=shared_platform_runtime.url) as http:
        listed = http.get("/api/executions", params={"tenant_id": "t"})
        cancel = http.post("/api/execution/exec_1/cancel", params={"tenant_id": "t"})
    assert (listed.status_code, listed.json()) == (404, {"detail": "Not Found"})
    assert (cancel.status_code, cancel.json()) == (404, {"detail": "Not Found"})
