"""The REST v1 surface against real processes: upload, mash, follow over SSE and WebSocket,
status and records; tenancy and the error paths a client meets."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.experience_plane.rest.client import (
    EXAMPLES,
    STATE_ORDER,
    create_mash,
    follow_sse,
    sse_events,
    status,
    upload,
    ws_messages,
)
from tests.support.processes import ApiProcess


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


def error_of(response: httpx.Response, status_code: int, code: str) -> dict[str, Any]:
    """The common-shape error, checked for its status and code."""
    assert response.status_code == status_code, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def assert_in_order(executions: list[dict[str, Any]]) -> None:
    """States never go back, each event differs from the last, only the last is terminal."""
    assert executions
    positions = [STATE_ORDER.index(execution["state"]) for execution in executions]
    assert positions == sorted(positions), [execution["state"] for execution in executions]
    snapshots = [(e["raw_status"], (e["progress"] or {}).get("percent")) for e in executions]
    assert len(set(snapshots)) == len(snapshots), snapshots
    assert [e["is_terminal"] for e in executions] == [False] * (len(executions) - 1) + [True]
    assert executions[-1]["state"] == "COMPLETED"


@pytest.fixture(scope="module")
def uploaded(api: ApiProcess) -> dict[str, dict[str, Any]]:
    """Both example files uploaded over REST (tenant t1) and completed: name -> execution."""
    import asyncio

    async def run() -> dict[str, dict[str, Any]]:
        done = {}
        async with httpx.AsyncClient(timeout=30.0) as http:
            for name in ("customers.csv", "policies.json"):
                response = await upload(http, api, EXAMPLES / name)
                assert response.status_code == 202, response.text
                done[name] = await follow_sse(http, api, response.json()["id"])
        return done

    return asyncio.run(run())


async def test_upload_answers_202_at_once_with_the_execution(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await upload(http, api, EXAMPLES / "customers.csv")
    assert response.status_code == 202
    execution = response.json()
    assert execution["intent_type"] == "content.upload"
    assert execution["is_terminal"] is False
    assert execution["artifacts"] == []
    assert response.headers["location"] == f"/v1/execution/{execution['id']}/status"
    followed = await http.get(api.url + response.headers["location"], headers=api.headers())
    assert followed.status_code == 200
    assert followed.json()["id"] == execution["id"]


async def test_sse_sends_each_change_in_order_then_complete(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await upload(http, api, EXAMPLES / "policies.json")
    execution_id = response.json()["id"]
    events = await sse_events(http, api, execution_id)
    named = [(event, data) for event, data in events if event != "comment"]
    assert [event for event, _ in named] == ["status"] * (len(named) - 1) + ["complete"]
    executions = [data for event, data in named if event == "status"]
    assert_in_order(executions)
    assert named[-1][1] == {"id": execution_id, "state": "COMPLETED"}
    (artifact,) = executions[-1]["artifacts"]
    assert artifact["type"] == "content_file"
    assert artifact["name"] == "policies.json"


async def test_the_status_of_a_completed_upload_has_the_file_profile(
    http: httpx.AsyncClient, api: ApiProcess, uploaded: dict[str, dict[str, Any]]
) -> None:
    for name, final in uploaded.items():
        response = await status(http, api, final["id"])
        assert response.status_code == 200
        execution = response.json()
        assert execution["state"] == "COMPLETED"
        assert execution["is_terminal"] is True
        (artifact,) = execution["artifacts"]
        assert artifact["type"] == "content_file"
        assert artifact["id"] == artifact["file_id"]
        assert artifact["name"] == name
        assert artifact["size"] == (EXAMPLES / name).stat().st_size
        assert artifact["format"] == name.rsplit(".", 1)[1]
        assert artifact["row_count"] == 6
        assert artifact["columns"]
        assert {"name", "type", "null_count", "distinct_count"} == set(artifact["columns"][0])


async def test_mash_followed_over_websocket_then_records_paged(
    http: httpx.AsyncClient, api: ApiProcess, uploaded: dict[str, dict[str, Any]]
) -> None:
    refs = [final["artifacts"][0]["file_id"] for final in uploaded.values()]
    response = await create_mash(
        http, api, refs, target_domain="insurance", confidence_level="low", name="book"
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["intent_type"] == "data_mash.create"
    assert response.headers["location"] == f"/v1/execution/{accepted['id']}/status"

    messages, code, _ = await ws_messages(api, accepted["id"], headers=api.headers())
    assert code == 1000
    assert {message["type"] for message in messages} == {"status"}
    executions = [message["execution"] for message in messages]
    assert_in_order(executions)
    (mash,) = executions[-1]["artifacts"]
    assert mash["type"] == "data_mash"
    assert mash["name"] == "book"
    assert mash["canonical_fields"]
    assert mash["join_keys"]
    assert mash["row_count"] > 0
    assert mash["records_url"] == f"/v1/data-mash/{mash['mash_id']}/records"

    records: list[dict[str, Any]] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = await http.get(
            api.url + mash["records_url"],
            params={"offset": offset, "limit": 4},
            headers=api.headers(),
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["total"] == mash["row_count"]
        assert len(body["records"]) <= 4
        records.extend(body["records"])
        offset = body["next_offset"]
        pages += 1
    assert len(records) == mash["row_count"]
    assert pages == -(-mash["row_count"] // 4)
    whole = await http.get(
        api.url + mash["records_url"], params={"limit": 500}, headers=api.headers()
    )
    assert whole.json()["records"] == records
    fields = {field["name"] for field in mash["canonical_fields"]}
    assert set().union(*(record.keys() for record in records)) <= fields


async def test_websocket_authenticates_with_a_first_auth_message(
    api: ApiProcess, uploaded: dict[str, dict[str, Any]]
) -> None:
    execution_id = uploaded["customers.csv"]["id"]
    messages, code, _ = await ws_messages(
        api, execution_id, first={"type": "auth", "token": api.token()}
    )
    assert code == 1000
    (only,) = messages  # already terminal: the current status, then the close
    assert only["execution"]["state"] == "COMPLETED"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("bad-header", "bad_signature"),
        ("bad-message", "bad_signature"),
        ("not-auth", "missing_token"),
    ],
)
async def test_websocket_refuses_bad_credentials_with_4403_before_anything(
    api: ApiProcess, uploaded: dict[str, dict[str, Any]], kind: str, reason: str
) -> None:
    forged = api.token(secret="another-secret-0123456789abcdef0123456789")
    headers = {"Authorization": f"Bearer {forged}"} if kind == "bad-header" else None
    first: object = {
        "bad-header": None,
        "bad-message": {"type": "auth", "token": forged},
        "not-auth": {"type": "subscribe"},
    }[kind]
    messages, code, close_reason = await ws_messages(
        api, uploaded["customers.csv"]["id"], headers=headers, first=first
    )
    assert messages == []
    assert code == 4403
    assert close_reason == f"Forbidden: {reason}"


async def test_websocket_refuses_a_foreign_origin(
    api: ApiProcess, uploaded: dict[str, dict[str, Any]]
) -> None:
    messages, code, _ = await ws_messages(
        api,
        uploaded["customers.csv"]["id"],
        headers=api.headers(),
        origin="https://evil.example",
    )
    assert (messages, code) == ([], 4403)


async def test_unknown_and_other_tenants_ids_are_the_same_404(
    http: httpx.AsyncClient, api: ApiProcess, uploaded: dict[str, dict[str, Any]]
) -> None:
    mine = uploaded["customers.csv"]
    theirs_id = mine["id"]
    unknown_id = "exec_" + "0" * 32
    for execution_id in (theirs_id, unknown_id):
        for suffix in ("status", "events"):
            response = await http.get(
                api.url + f"/v1/execution/{execution_id}/{suffix}", headers=api.headers("t2")
            )
            error = error_of(response, 404, "NOT_FOUND")
            assert error["message"] == f"Execution {execution_id!r} not found."
            assert error["details"] == {}
        messages, code, _ = await ws_messages(api, execution_id, headers=api.headers("t2"))
        assert code == 4404
        assert [m["type"] for m in messages] == ["error"]
        assert messages[0]["error"]["code"] == "NOT_FOUND"
    file_id = mine["artifacts"][0]["file_id"]
    for mash_id in (file_id, "mash_" + "0" * 32):
        response = await http.get(
            api.url + f"/v1/data-mash/{mash_id}/records", headers=api.headers("t2")
        )
        assert error_of(response, 404, "NOT_FOUND")["message"] == (
            f"Data mash {mash_id!r} not found."
        )


async def test_mashing_another_tenants_files_fails(
    http: httpx.AsyncClient, api: ApiProcess, uploaded: dict[str, dict[str, Any]]
) -> None:
    refs = [final["artifacts"][0]["file_id"] for final in uploaded.values()]
    response = await create_mash(http, api, refs, tenant="t2")
    assert response.status_code == 202, response.text
    final = await follow_sse(http, api, response.json()["id"], tenant="t2")
    assert final["state"] == "FAILED"
    assert final["error"]
    assert final["artifacts"] == []


async def test_a_missing_token_is_401_in_the_common_shape(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await http.post(api.url + "/v1/content/data-mash/create", json={})
    error = error_of(response, 401, "UNAUTHENTICATED")
    assert error["details"] == {"reason": "missing_token"}
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_invalid_json_is_the_common_shape(http: httpx.AsyncClient, api: ApiProcess) -> None:
    response = await http.post(
        api.url + "/v1/content/data-mash/create",
        content=b'{"content_refs": [',
        headers={**api.headers(), "content-type": "application/json"},
    )
    error_of(response, 400, "INVALID_INPUT")
    response = await create_mash(http, api, [])
    assert error_of(response, 422, "INVALID_INPUT")["details"]["field"] == "content_refs"


async def test_openapi_is_served_and_docs_are_off_in_production(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    spec = (await http.get(api.url + "/openapi.json")).json()
    assert "/v1/content/upload" in spec["paths"]
    assert (await http.get(api.url + "/docs")).status_code == 404


async def test_the_same_idempotency_key_gives_the_same_execution(
    http: httpx.AsyncClient, api: ApiProcess, uploaded: dict[str, dict[str, Any]]
) -> None:
    refs = [final["artifacts"][0]["file_id"] for final in uploaded.values()]
    key = {"Idempotency-Key": f"rest-mash-{uuid.uuid4()}"}
    first = await create_mash(http, api, refs, headers=key, name="once")
    again = await create_mash(http, api, refs, headers=key, name="once")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    conflict = await create_mash(http, api, refs, headers=key, name="other input")
    error = error_of(conflict, 409, "IDEMPOTENCY_CONFLICT")
    assert key["Idempotency-Key"] in error["message"]
    # Keys are per tenant: another tenant's request with the same key is its own.
    elsewhere = await create_mash(http, api, refs, tenant="t3", headers=key, name="once")
    assert elsewhere.status_code == 202
    assert elsewhere.json()["id"] != first.json()["id"]


async def test_an_upload_repeated_with_its_key_is_one_execution(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    key = f"rest-upload-{uuid.uuid4()}"
    path = EXAMPLES / "customers.csv"
    first = await upload(http, api, path, **{"Idempotency-Key": key})
    again = await upload(http, api, path, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
