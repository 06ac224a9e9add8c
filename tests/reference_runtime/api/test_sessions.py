"""Sessions and health, over HTTP against a Runtime process."""

from __future__ import annotations

from tests.reference_runtime.support import RuntimeApi


def test_health_says_healthy_and_how_the_runtime_runs(api: RuntimeApi) -> None:
    body = api.http.get("/health").json()
    assert body["status"] == "healthy"
    assert body["mode"] == "async"
    assert body["intent_types"] == ["content.upload", "data_mash.create"]


def _create(api: RuntimeApi, **overrides: object) -> tuple[int, dict[str, object]]:
    body = {
        "tenant_id": api.tenant_id,
        "user_id": "user-1",
        "session_id": "s-1",
        "execution_contract": {"action": "create_session", "session_id": "s-1"},
        "metadata": {"channel": "test"},
        **overrides,
    }
    response = api.http.post("/api/session/create", json=body)
    return response.status_code, response.json()


def test_session_is_created_and_read_back_by_its_tenant_only(api: RuntimeApi) -> None:
    status, created = _create(api)
    assert status == 200
    assert created["session_id"] == "s-1"
    assert created["tenant_id"] == api.tenant_id
    assert created["user_id"] == "user-1"
    assert created["created_at"]

    mine = api.http.get("/api/session/s-1", params={"tenant_id": api.tenant_id})
    assert mine.status_code == 200
    assert mine.json()["created_at"] == created["created_at"]
    theirs = api.http.get("/api/session/s-1", params={"tenant_id": "someone-else"})
    assert theirs.status_code == 404
    unknown = api.http.get("/api/session/nope", params={"tenant_id": api.tenant_id})
    assert unknown.status_code == 404


def test_creating_a_session_again_returns_the_same_session(api: RuntimeApi) -> None:
    _, first = _create(api)
    _, second = _create(api)
    assert first == second


def test_session_id_may_come_from_the_contract_alone(api: RuntimeApi) -> None:
    status, created = _create(api, session_id=None)
    assert (status, created["session_id"]) == (200, "s-1")


def test_session_create_without_the_right_contract_is_forbidden(api: RuntimeApi) -> None:
    for contract in (
        {},
        {"action": "something_else", "session_id": "s-1"},
        {"action": "create_session"},
        {"action": "create_session", "session_id": "another"},
    ):
        status, body = _create(api, execution_contract=contract)
        assert status == 403, contract
        assert "execution_contract" in str(body["detail"])
