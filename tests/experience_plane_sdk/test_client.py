"""`ExperienceClient` against the real API and reference Runtime processes."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
from typing import BinaryIO

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from experience_plane_sdk import (
    ApiUnreachable,
    AuthenticationFailed,
    DataMash,
    Execution,
    ExecutionFailed,
    ExecutionNotFoundError,
    ExecutionState,
    ExperienceClient,
    FailureCode,
    IdempotencyConflictError,
    InvalidInput,
    RateLimited,
    WaitTimeout,
)
from tests.experience_plane_sdk.conftest import (
    CUSTOMER_COUNT,
    CUSTOMERS,
    POLICIES,
    POLICY_CUSTOMER_IDS,
    Mashed,
    StandInServer,
)
from tests.experience_plane_sdk.test_models import execution_json
from tests.support.processes import ApiProcess, free_port


async def test_uploads_two_files_from_a_path_and_a_file_object(api: ApiProcess, token: str) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        from_path = await client.upload_content(CUSTOMERS)
        with POLICIES.open("rb") as stream:
            from_stream = await client.upload_content(stream)
        assert from_path.intent_type == "content.upload"
        assert not from_path.state.is_terminal

        customers = await client.wait(from_path.id, timeout=30)
        policies = await client.wait(from_stream.id, timeout=30)

    assert customers.state is ExecutionState.COMPLETED
    [file] = customers.files
    assert (file.name, file.format, file.row_count, file.size) == (
        "customers.csv",
        "csv",
        CUSTOMER_COUNT,
        CUSTOMERS.stat().st_size,
    )
    assert file.columns is not None
    assert [c.name for c in file.columns][:2] == ["customer_id", "full_name"]
    assert policies.files[0].name == "policies.json"
    assert policies.files[0].format == "json"


async def test_uploads_bytes_with_a_name_and_media_type(api: ApiProcess, token: str) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        accepted = await client.upload_content(
            b"id,amount\n1,2.5\n2,3\n", filename="amounts.csv", mime_type="text/csv"
        )
        done = await client.wait(accepted.id, timeout=30)
    [file] = done.files
    assert (file.name, file.mime_type, file.row_count, file.size) == (
        "amounts.csv",
        "text/csv",
        2,
        20,
    )


async def test_uploads_an_unseekable_stream_chunked(api: ApiProcess, token: str) -> None:
    data = CUSTOMERS.read_bytes()
    async with ExperienceClient(api.graphql_url, token) as client:
        with unseekable(data) as pipe:
            accepted = await client.upload_content(pipe, filename="piped.csv")
        done = await client.wait(accepted.id, timeout=30)
    [file] = done.files
    assert (file.name, file.size, file.row_count) == ("piped.csv", len(data), CUSTOMER_COUNT)


async def test_mash_and_wait_returns_the_data_mash(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        accepted = await client.create_data_mash(
            list(mashed.file_ids), name="again", confidence_level="HIGH", join="full"
        )
        done = await client.wait(accepted.id, timeout=30)
    mash = done.data_mash
    assert mash is not None
    assert mash.name == "again"
    assert mash.entity  # which entity, and how policies join in, is the Runtime's business
    # A full join: every customer has a record, with a policy or without.
    assert mash.row_count is not None
    assert mash.row_count >= CUSTOMER_COUNT
    assert [key.field for key in mash.join_keys] == ["customer_id"]
    assert {s.file_id for s in mash.join_keys[0].sources} == set(mashed.file_ids)
    assert mash.quality_report is not None


async def test_watch_sees_the_states_in_order_and_ends_at_the_terminal_one(
    api: ApiProcess, token: str
) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        accepted = await client.upload_content(CUSTOMERS)
        seen = [execution async for execution in client.watch(accepted.id)]

    order = list(ExecutionState)
    states = [execution.state for execution in seen]
    assert states == sorted(states, key=order.index)
    assert states[-1] is ExecutionState.COMPLETED
    assert ExecutionState.RUNNING in states
    assert all(not execution.is_terminal for execution in seen[:-1])
    percents = [execution.progress.percent for execution in seen if execution.progress]
    assert percents == sorted(percents)


async def test_several_watches_share_one_connection(api: ApiProcess, token: str) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        first = await client.upload_content(b"a\n1\n", filename="a.csv")
        second = await client.upload_content(b"b\n2\n", filename="b.csv")
        done = await asyncio.gather(client.wait(first.id), client.wait(second.id))
    assert [execution.files[0].name for execution in done] == ["a.csv", "b.csv"]


async def test_records_are_paginated_with_cursors(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        status = await client.execution_status(mashed.mash_execution_id)
        first = await client.records_page(mashed.mash_execution_id, first=4)
        second = await client.records_page(
            mashed.mash_execution_id, first=4, after=first.end_cursor
        )
        everything = [r async for r in client.records(mashed.mash_execution_id, page_size=2)]

    assert status is not None
    assert status.data_mash is not None
    total = status.data_mash.row_count
    assert total is not None
    assert total >= CUSTOMER_COUNT > 4
    assert (len(first.records), first.total_count, first.has_next_page) == (4, total, True)
    assert len(second.records) == min(4, total - 4)
    assert second.has_next_page is (total > 8)
    assert len(everything) == total
    assert everything[:8] == [*first.records, *second.records]
    # One record per policy: every customer with a policy appears.
    assert {record["customer_id"] for record in everything} == POLICY_CUSTOMER_IDS


async def test_records_of_an_upload_are_invalid_input(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        with pytest.raises(InvalidInput, match="has no data mash") as caught:
            await client.records_page(mashed.upload_execution_id)
        with pytest.raises(InvalidInput):
            await client.records_page(mashed.mash_execution_id, first=0)
    assert caught.value.code == "INVALID_INPUT"


async def test_unknown_executions(api: ApiProcess, token: str) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        assert await client.execution_status("exec_does_not_exist") is None
        with pytest.raises(ExecutionNotFoundError) as caught:
            await client.wait("exec_does_not_exist", timeout=10)
        with pytest.raises(ExecutionNotFoundError):
            [_ async for _ in client.records("exec_does_not_exist")]
        # The subscription's error did not break the connection for the next one.
        accepted = await client.upload_content(b"x\n1\n", filename="x.csv")
        assert (await client.wait(accepted.id)).state is ExecutionState.COMPLETED
    assert caught.value.code == "NOT_FOUND"


async def test_waiting_on_a_failing_mash_raises_execution_failed(
    api: ApiProcess, token: str
) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        accepted = await client.create_data_mash(["file_unknown"])
        with pytest.raises(ExecutionFailed) as caught:
            await client.wait(accepted.id, timeout=30)
    execution = caught.value.execution
    assert execution.id == accepted.id
    assert execution.state is ExecutionState.FAILED
    assert execution.error is not None
    assert "file_unknown" in execution.error
    assert "file_unknown" in str(caught.value)
    assert execution.failure is not None
    assert execution.failure.code is FailureCode.UNKNOWN_CONTENT_REF
    assert "UNKNOWN_CONTENT_REF" in str(caught.value)


async def test_records_page_backwards_with_last_and_before(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        everything = [r async for r in client.records(mashed.mash_execution_id, page_size=500)]
        end = await client.records_page(mashed.mash_execution_id, last=2)
        before = await client.records_page(
            mashed.mash_execution_id, last=2, before=end.start_cursor
        )
    assert list(end.records) == everything[-2:]
    assert (end.has_previous_page, end.has_next_page) == (True, False)
    assert list(before.records) == everything[-4:-2]
    assert before.has_next_page is True


async def test_node_and_nodes_refetch_by_global_id(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        mash = await client.execution_status(mashed.mash_execution_id)
        assert mash is not None
        assert mash.data_mash is not None
        again = await client.node(mash.global_id)
        data_mash = await client.node(mash.data_mash.global_id)
        found = await client.nodes([mash.global_id, mash.data_mash.global_id])
        with pytest.raises(InvalidInput, match="not a valid global id"):
            await client.node(mashed.mash_execution_id)  # an own id, not a global one
    async with ExperienceClient(api.graphql_url, api.token("sdk-stranger")) as stranger:
        assert await stranger.node(mash.global_id) is None
    assert isinstance(again, Execution)
    assert (again.id, again.state) == (mash.id, ExecutionState.COMPLETED)
    assert isinstance(data_mash, DataMash)
    assert data_mash.mash_id == mash.data_mash.mash_id
    assert [type(node) for node in found] == [Execution, DataMash]


async def test_empty_content_refs_are_invalid_input(api: ApiProcess, token: str) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        with pytest.raises(InvalidInput) as caught:
            await client.create_data_mash([])
        with pytest.raises(InvalidInput, match="confidence_level"):
            await client.create_data_mash(["file_1"], confidence_level="certain")
    assert caught.value.code == "INVALID_INPUT"
    assert caught.value.field == "contentRefs"


async def test_a_key_reused_with_other_input_is_an_idempotency_conflict(api: ApiProcess) -> None:
    key = "sdk-conflict-key"
    async with ExperienceClient(api.graphql_url, api.token("conflict-tenant")) as client:
        first = await client.upload_content(
            b"id,name\n1,Ada\n", filename="a.csv", idempotency_key=key
        )
        again = await client.upload_content(
            b"id,name\n1,Ada\n", filename="a.csv", idempotency_key=key
        )
        with pytest.raises(IdempotencyConflictError) as caught:
            await client.upload_content(b"id,name\n2,Bo\n", filename="a.csv", idempotency_key=key)
    assert again.id == first.id
    assert caught.value.code == "IDEMPOTENCY_CONFLICT"
    assert key in caught.value.message


async def test_a_wait_shorter_than_the_execution_times_out(api: ApiProcess, token: str) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        accepted = await client.upload_content(CUSTOMERS)
        with pytest.raises(WaitTimeout) as caught:
            await client.wait(accepted.id, timeout=0.05)
        # The client is still usable after the abandoned wait.
        final = await client.wait(accepted.id, timeout=30)
    assert caught.value.code == "WAIT_TIMEOUT"
    assert caught.value.execution_id == accepted.id
    assert final.state is ExecutionState.COMPLETED


async def test_a_closed_port_is_api_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}/graphql"
    async with ExperienceClient(url, retries=1) as client:
        with pytest.raises(ApiUnreachable, match="Cannot connect"):
            await client.execution_status("exec_1")
        with pytest.raises(ApiUnreachable):
            await client.wait("exec_1")


@pytest.mark.parametrize(
    "bad_token",
    [None, "not-a-jwt", "wrong-secret"],
    ids=["missing", "malformed", "wrong-signature"],
)
async def test_the_api_refuses_bad_credentials_on_http_and_websocket(
    api: ApiProcess, bad_token: str | None
) -> None:
    if bad_token == "wrong-secret":
        bad_token = api.token("sdk-tenant", secret="another-secret-" + "x" * 32)
    async with ExperienceClient(api.graphql_url, bad_token) as client:
        with pytest.raises(AuthenticationFailed, match="HTTP 401"):
            await client.execution_status("exec_1")
        with pytest.raises(AuthenticationFailed, match="4403"):
            [_ async for _ in client.watch("exec_1")]


async def test_executions_belong_to_the_tenant_of_the_token(api: ApiProcess, token: str) -> None:
    async with ExperienceClient(api.graphql_url, token) as client:
        accepted = await client.upload_content(b"a\n1\n", filename="mine.csv")
    async with ExperienceClient(api.graphql_url, api.token("another-tenant")) as other:
        assert await other.execution_status(accepted.id) is None


async def test_a_401_answer_is_authentication_failed(stand_in: StandInServer) -> None:
    async with ExperienceClient(stand_in.url, token="t.o.k") as client:
        with pytest.raises(AuthenticationFailed, match="HTTP 401") as caught:
            await client.create_data_mash(["file_1"])
        with pytest.raises(AuthenticationFailed):
            await client.wait("exec_1")
    assert caught.value.code == "UNAUTHENTICATED"
    # Not retried: credentials do not get better by asking again. The WebSocket handshake
    # carries no header: its token travels in connection_init, which a 401 never reaches.
    http, websocket = stand_in.requests
    assert http["authorization"] == "Bearer t.o.k"
    assert websocket["upgrade"] == "websocket"


async def test_5xx_is_retried_with_one_idempotency_key(stand_in: StandInServer) -> None:
    stand_in.status = 503
    async with ExperienceClient(stand_in.url, retries=2) as client:
        with pytest.raises(ApiUnreachable):
            await client.upload_content(io.BytesIO(b"a\n1\n"), filename="a.csv")
        with pytest.raises(ApiUnreachable):
            await client.create_data_mash(["file_1"], idempotency_key="mine")

    keys = [request.get("idempotency-key") for request in stand_in.requests]
    assert len(keys) == 6
    assert keys[0] is not None
    assert keys[:3] == [keys[0]] * 3
    assert keys[3:] == ["mine"] * 3
    # Every attempt of the upload carried the whole multipart body again.
    assert {r["content-length"] for r in stand_in.requests[:3]} == {
        stand_in.requests[0]["content-length"]
    }


async def test_an_unopened_client_says_how_to_open_it() -> None:
    client = ExperienceClient("http://127.0.0.1:9/graphql")
    with pytest.raises(RuntimeError, match="async with"):
        await client.execution_status("exec_1")


async def test_the_token_rides_in_connection_init_and_4403_is_authentication_failed() -> None:
    payloads: list[object] = []

    async def refuse(connection: ServerConnection) -> None:
        payloads.append(json.loads(await connection.recv()))
        await connection.close(4403, "expired")

    async with serve(
        refuse, "127.0.0.1", 0, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with ExperienceClient(f"http://127.0.0.1:{port}/graphql", "t.o.k") as client:
            with pytest.raises(AuthenticationFailed, match="4403"):
                await client.wait("exec_1")
    assert payloads == [{"type": "connection_init", "payload": {"Authorization": "Bearer t.o.k"}}]


def unseekable(data: bytes) -> BinaryIO:
    """A pipe's read end holding `data`: readable once, not seekable."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return open(read_end, "rb")


async def test_an_unseekable_stream_is_sent_once(stand_in: StandInServer) -> None:
    stand_in.status = 503
    async with ExperienceClient(stand_in.url, retries=2) as client:
        with unseekable(b"a\n1\n") as pipe, pytest.raises(ApiUnreachable):
            await client.upload_content(pipe, filename="a.csv")
    assert len(stand_in.requests) == 1


async def test_wait_polls_when_the_websocket_cannot_be_opened(stand_in: StandInServer) -> None:
    # A server (think: a proxy) that answers HTTP but refuses every WebSocket upgrade.
    stand_in.status = 200
    stand_in.body = json.dumps({"data": {"executionStatus": execution_json()}}).encode()
    updates: list[Execution] = []
    async with ExperienceClient(stand_in.url) as client:
        final = await client.wait("exec_1", timeout=10, on_update=updates.append)
    assert final.state is ExecutionState.COMPLETED
    assert updates == [final]
    upgrade, poll = stand_in.requests
    assert upgrade.get("upgrade") == "websocket"
    assert "content-length" in poll


async def test_a_tenant_over_its_rate_gets_rate_limited(api: ApiProcess) -> None:
    # The API's default budget is a burst of 50 mutations per tenant; this tenant spends it.
    async def spend_the_budget(client: ExperienceClient) -> None:
        for _ in range(200):
            with contextlib.suppress(InvalidInput):
                await client.create_data_mash([])

    async with ExperienceClient(api.graphql_url, api.token("busy-tenant")) as client:
        with pytest.raises(RateLimited) as caught:
            await spend_the_budget(client)
    assert caught.value.code == "RATE_LIMITED"
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0


async def test_an_http_429_is_rate_limited_with_its_retry_after(stand_in: StandInServer) -> None:
    stand_in.status = 429
    stand_in.headers = {"Retry-After": "7"}
    async with ExperienceClient(stand_in.url) as client:
        with pytest.raises(RateLimited, match="HTTP 429") as caught:
            await client.execution_status("exec_1")
    assert caught.value.retry_after == 7.0
    assert len(stand_in.requests) == 1
