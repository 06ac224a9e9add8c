"""The Runtime client against the reference Runtime, started as a real process, in both modes.

These tests hold the client and the reference Runtime to the same contract: what one sends the
other understands, and every failure the Runtime can produce reaches the caller as the right
typed error or a failed execution with a message a person can act on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence

import pytest

from experience_plane.runtime import (
    ArtifactNotFound,
    DataMashArtifact,
    ExecutionNotFound,
    ExecutionState,
    ExecutionStatus,
    FileArtifact,
    RuntimeCaller,
    RuntimeClient,
    RuntimeFlavour,
    RuntimeRejected,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamUnavailable,
    SubmitResult,
)
from tests.support.processes import RuntimeProcess

TENANT = "tenant-a"
CUSTOMERS_CSV = (
    b"customer_id,name,email\n"
    b"1,Ada Lovelace,ada@example.com\n"
    b"2,Grace Hopper,grace@example.com\n"
    b"3,Alan Turing,alan@example.com\n"
)
POLICIES_JSON = json.dumps(
    [
        {"policy_number": "P-100", "cust_id": 1, "premium": 120.5},
        {"policy_number": "P-101", "cust_id": 2, "premium": 99.0},
        {"policy_number": "P-102", "cust_id": 3, "premium": 250.0},
    ]
).encode()
COLOURS_CSV = b"colour,hex\nred,#ff0000\ngreen,#00ff00\n"
PLANETS_JSON = b'[{"planet": "Mars", "moons": 2}, {"planet": "Venus", "moons": 0}]'
DEADLINE = 15.0


def client_for(runtime: RuntimeProcess, **kwargs: object) -> RuntimeClient:
    flavour = RuntimeFlavour.PLATFORM if runtime.mode == "platform" else RuntimeFlavour.REFERENCE
    options: dict[str, object] = {"flavour": flavour, "backoff_base": 0.01, **kwargs}
    return RuntimeClient(runtime.url, **options)  # type: ignore[arg-type]


async def caller_of(client: RuntimeClient, tenant: str = TENANT) -> RuntimeCaller:
    session = await client.create_session(tenant, "user-1")
    return RuntimeCaller(tenant_id=tenant, user_id="user-1", session_id=session)


async def finished(client: RuntimeClient, submitted: SubmitResult) -> ExecutionStatus:
    """Poll until the execution is terminal."""
    assert submitted.execution_id is not None, submitted.error
    deadline = time.monotonic() + DEADLINE
    status = await client.get_execution(TENANT, submitted.execution_id)
    while not status.state.is_terminal:
        assert time.monotonic() < deadline, f"still {status.raw_status} after {DEADLINE}s"
        await asyncio.sleep(0.02)
        status = await client.get_execution(TENANT, submitted.execution_id)
    return status


async def chunked(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def upload(
    client: RuntimeClient, caller: RuntimeCaller, filename: str, mime_type: str, data: bytes
) -> FileArtifact:
    """Upload (streamed in small chunks), wait, and return the file artifact, made complete."""
    submitted = await client.upload_content(
        caller, filename=filename, mime_type=mime_type, content=chunked(data)
    )
    status = await finished(client, submitted)
    assert status.state is ExecutionState.COMPLETED, status.error
    (artifact,) = status.artifacts
    assert isinstance(artifact, FileArtifact)
    if not artifact.complete:
        completed = await client.get_artifact(caller.tenant_id, artifact.file_id)
        assert isinstance(completed, FileArtifact)
        return completed
    return artifact


async def mash(
    client: RuntimeClient, caller: RuntimeCaller, refs: Sequence[str]
) -> tuple[SubmitResult, ExecutionStatus | None]:
    submitted = await client.create_data_mash(
        caller, content_refs=refs, target_domain="insurance", name="Book of business"
    )
    if submitted.execution_id is None:
        return submitted, None
    return submitted, await finished(client, submitted)


@pytest.fixture(params=["async", "platform"])
def any_runtime(request: pytest.FixtureRequest) -> RuntimeProcess:
    """The reference Runtime in each of its modes, one process per test."""
    name = "runtime" if request.param == "async" else "platform_runtime"
    process: RuntimeProcess = request.getfixturevalue(name)
    return process


async def test_health_and_files_are_profiled(any_runtime: RuntimeProcess) -> None:
    async with client_for(any_runtime) as client:
        assert await client.health()
        caller = await caller_of(client)
        customers = await upload(client, caller, "customers.csv", "text/csv", CUSTOMERS_CSV)
        policies = await upload(client, caller, "policies.json", "application/json", POLICIES_JSON)
    assert customers.complete
    assert (customers.filename, customers.size, customers.format) == (
        "customers.csv",
        len(CUSTOMERS_CSV),
        "csv",
    )
    assert customers.row_count == 3
    assert customers.columns is not None
    assert [c.name for c in customers.columns] == ["customer_id", "name", "email"]
    assert customers.columns[0].type == "integer"
    assert policies.format == "json"
    assert policies.columns is not None
    assert {c.name: c.type for c in policies.columns}["premium"] == "number"


async def test_reduced_artifacts_in_platform_mode(platform_runtime: RuntimeProcess) -> None:
    async with client_for(platform_runtime) as client:
        caller = await caller_of(client)
        submitted = await client.upload_content(
            caller, filename="customers.csv", mime_type="text/csv", content=CUSTOMERS_CSV
        )
        assert submitted.state is ExecutionState.COMPLETED  # synchronous
        assert submitted.intent_id is None  # sparse: ""
        status = await finished(client, submitted)
        (reduced,) = status.artifacts
        assert isinstance(reduced, FileArtifact)
        assert not reduced.complete
        assert reduced.filename is None
        assert (status.intent_id, status.created_at, status.events) == (None, None, ())
        full = await client.get_artifact(TENANT, reduced.file_id)
    assert isinstance(full, FileArtifact)
    assert full.complete
    assert (full.file_id, full.filename, full.row_count) == (reduced.file_id, "customers.csv", 3)


async def test_data_mash_of_customers_and_policies(any_runtime: RuntimeProcess) -> None:
    async with client_for(any_runtime) as client:
        caller = await caller_of(client)
        customers = await upload(client, caller, "customers.csv", "text/csv", CUSTOMERS_CSV)
        policies = await upload(client, caller, "policies.json", "application/json", POLICIES_JSON)
        _, status = await mash(client, caller, [customers.file_id, policies.file_id])
        assert status is not None
        assert status.state is ExecutionState.COMPLETED, status.error
        (artifact,) = status.artifacts
        assert isinstance(artifact, DataMashArtifact)
        assert artifact.complete is (any_runtime.mode == "async")
        mash_artifact = await client.get_artifact(TENANT, artifact.mash_id)
        page = await client.get_mash_records(TENANT, artifact.mash_id, offset=1, limit=1)
        everything = await client.get_mash_records(TENANT, artifact.mash_id)

    assert isinstance(mash_artifact, DataMashArtifact)
    assert mash_artifact.complete
    assert mash_artifact.row_count == 3
    sources = {
        field.name: {(s.file_id, s.column) for s in field.sources}
        for field in mash_artifact.canonical_fields
    }
    assert sources["customer_id"] == {
        (customers.file_id, "customer_id"),
        (policies.file_id, "cust_id"),
    }
    assert (customers.file_id, "email") in sources["email"]
    assert (policies.file_id, "premium") in sources["premium"]
    (key,) = mash_artifact.join_keys
    assert key.field == "customer_id"
    assert {(s.file_id, s.column) for s in key.sources} == {
        (customers.file_id, "customer_id"),
        (policies.file_id, "cust_id"),
    }

    assert (page.total, page.offset, len(page.records)) == (3, 1, 1)
    assert everything.total == 3
    by_id = {record["customer_id"]: record for record in everything.records}
    assert by_id[2]["email"] == "grace@example.com"
    assert by_id[2]["premium"] == 99.0
    assert page.records[0] in everything.records


async def test_a_tampered_upload_fails_with_a_reason(runtime: RuntimeProcess) -> None:
    async with client_for(runtime) as client:
        caller = await caller_of(client)
        submitted = await client.submit_intent(
            caller,
            "content.upload",
            {
                "filename": "customers.csv",
                "mime_type": "text/csv",
                "content_encoding": "base64",
                "file_content": "YWJj",  # "abc"
                "size": 3,
                "sha256": "0" * 64,
            },
        )
        status = await finished(client, submitted)
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert "SHA-256 mismatch" in status.error


async def failing_mash_refs(client: RuntimeClient, caller: RuntimeCaller, case: str) -> list[str]:
    customers = await upload(client, caller, "customers.csv", "text/csv", CUSTOMERS_CSV)
    if case == "unknown ref":
        return [customers.file_id, "file_does_not_exist"]
    if case == "non-tabular ref":
        notes = await upload(client, caller, "notes.txt", "text/plain", b"just some prose\n")
        return [customers.file_id, notes.file_id]
    colours = await upload(client, caller, "colours.csv", "text/csv", COLOURS_CSV)
    planets = await upload(client, caller, "planets.json", "application/json", PLANETS_JSON)
    return [colours.file_id, planets.file_id]


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("unknown ref", "file_does_not_exist"),
        ("non-tabular ref", "notes.txt"),
        ("nothing in common", "common"),
    ],
)
async def test_a_mash_that_cannot_be_made_fails_with_a_reason(
    any_runtime: RuntimeProcess, case: str, words: str
) -> None:
    async with client_for(any_runtime) as client:
        caller = await caller_of(client)
        refs = await failing_mash_refs(client, caller, case)
        submitted, status = await mash(client, caller, refs)
    if any_runtime.mode == "platform":
        # The platform's Runtime fails synchronously: 500 {"detail"}, no execution id.
        assert submitted.execution_id is None
        assert submitted.state is ExecutionState.FAILED
        error = submitted.error
    else:
        assert status is not None
        assert status.state is ExecutionState.FAILED
        error = status.error
    assert error is not None
    assert words in error.lower()


async def test_platform_refuses_the_reference_upload_intent(
    platform_runtime: RuntimeProcess,
) -> None:
    async with client_for(platform_runtime) as client:
        caller = await caller_of(client)
        result = await client.submit_intent(caller, "content.upload", {"filename": "a.csv"})
    assert result.execution_id is None
    assert result.state is ExecutionState.FAILED
    assert result.error


async def test_tenants_are_isolated(runtime: RuntimeProcess) -> None:
    async with client_for(runtime) as client:
        caller = await caller_of(client)
        customers = await upload(client, caller, "customers.csv", "text/csv", CUSTOMERS_CSV)
        policies = await upload(client, caller, "policies.json", "application/json", POLICIES_JSON)
        submitted, status = await mash(client, caller, [customers.file_id, policies.file_id])
        assert status is not None
        (mash_artifact,) = status.artifacts
        assert isinstance(mash_artifact, DataMashArtifact)
        assert submitted.execution_id is not None
        with pytest.raises(ExecutionNotFound):
            await client.get_execution("tenant-b", submitted.execution_id)
        with pytest.raises(ArtifactNotFound):
            await client.get_artifact("tenant-b", customers.file_id)
        with pytest.raises(ArtifactNotFound):
            await client.get_mash_records("tenant-b", mash_artifact.mash_id)
        with pytest.raises(ExecutionNotFound):
            await client.get_execution(TENANT, "exec_does_not_exist")


async def test_the_stream_follows_an_execution_to_its_end(runtime: RuntimeProcess) -> None:
    runtime.set_faults(phase_delay=0.05)
    async with client_for(runtime) as client:
        caller = await caller_of(client)
        submitted = await client.upload_content(
            caller, filename="customers.csv", mime_type="text/csv", content=CUSTOMERS_CSV
        )
        assert submitted.execution_id is not None
        seen = [s async for s in client.stream_execution(TENANT, submitted.execution_id)]
    order = list(ExecutionState)
    states = [s.state for s in seen]
    assert states[-1] is ExecutionState.COMPLETED
    assert [order.index(s) for s in states] == sorted(order.index(s) for s in states)
    assert ExecutionState.RUNNING in states
    assert len(seen) >= 3
    assert all(a != b for a, b in itertools.pairwise(seen))  # only changes
    percents = [s.progress.percent for s in seen if s.progress is not None]
    assert percents == sorted(percents)
    assert isinstance(seen[-1].artifacts[0], FileArtifact)
    assert seen[-1].artifacts[0].complete


async def test_no_stream_in_platform_mode(platform_runtime: RuntimeProcess) -> None:
    async with client_for(platform_runtime) as client:
        caller = await caller_of(client)
        submitted = await client.upload_content(
            caller, filename="customers.csv", mime_type="text/csv", content=CUSTOMERS_CSV
        )
        assert submitted.execution_id is not None
        with pytest.raises(StreamUnavailable):
            await anext(client.stream_execution(TENANT, submitted.execution_id))


async def test_status_reads_ride_out_injected_faults(runtime: RuntimeProcess) -> None:
    async with client_for(runtime, status_retries=16) as client:
        caller = await caller_of(client)
        submitted = await client.upload_content(
            caller, filename="customers.csv", mime_type="text/csv", content=CUSTOMERS_CSV
        )
        await finished(client, submitted)
        assert submitted.execution_id is not None
        runtime.reset_stats()
        runtime.set_faults(status_error_rate=0.5)
        for _ in range(20):
            status = await client.get_execution(TENANT, submitted.execution_id)
            assert status.state is ExecutionState.COMPLETED
    reads = runtime.stats()["status_reads"][submitted.execution_id]
    assert reads > 20  # some reads met a 503 and were retried


async def test_a_submit_is_never_retried(runtime: RuntimeProcess) -> None:
    async with client_for(runtime, status_retries=5) as client:
        caller = await caller_of(client)
        runtime.reset_stats()
        runtime.set_faults(drop_rate=1.0)
        with pytest.raises(RuntimeUnavailable):
            await client.upload_content(
                caller, filename="customers.csv", mime_type="text/csv", content=CUSTOMERS_CSV
            )
    assert runtime.stats()["requests"]["POST /api/intent/submit"] == 1


@pytest.mark.own_runtime
async def test_restart_keeps_completed_and_fails_interrupted(runtime: RuntimeProcess) -> None:
    async with client_for(runtime) as client:
        caller = await caller_of(client)
        done = await client.upload_content(
            caller, filename="customers.csv", mime_type="text/csv", content=CUSTOMERS_CSV
        )
        completed = await finished(client, done)
        runtime.set_faults(phase_delay=30)
        slow = await client.upload_content(
            caller, filename="customers.csv", mime_type="text/csv", content=CUSTOMERS_CSV
        )
        assert slow.execution_id is not None
        await asyncio.to_thread(runtime.restart)
        assert await client.get_execution(TENANT, completed.execution_id) == completed
        interrupted = await client.get_execution(TENANT, slow.execution_id)
    assert interrupted.state is ExecutionState.FAILED
    assert interrupted.error


@pytest.mark.own_runtime
async def test_a_stopped_runtime_is_unavailable(runtime: RuntimeProcess) -> None:
    async with client_for(runtime, status_retries=1) as client:
        await asyncio.to_thread(runtime.stop)
        assert not await client.health()
        with pytest.raises(RuntimeUnavailable) as caught:
            await client.get_execution(TENANT, "exec-1")
        assert not isinstance(caught.value, RuntimeTimeout)
        with pytest.raises(RuntimeUnavailable):
            await client.create_session(TENANT, "user-1")


async def test_an_idempotency_key_makes_a_repeated_submit_the_same_execution(
    runtime: RuntimeProcess,
) -> None:
    async with client_for(runtime) as client:
        caller = await caller_of(client)
        first, second, other = [
            await client.upload_content(
                caller,
                filename="customers.csv",
                mime_type="text/csv",
                content=CUSTOMERS_CSV,
                idempotency_key=key,
            )
            for key in ("upload-1", "upload-1", "upload-2")
        ]
    assert first.execution_id == second.execution_id
    assert other.execution_id != first.execution_id


async def test_an_unknown_intent_is_rejected(runtime: RuntimeProcess) -> None:
    async with client_for(runtime) as client:
        caller = await caller_of(client)
        with pytest.raises(RuntimeRejected) as caught:
            await client.submit_intent(caller, "no.such.intent", {})
    assert "no.such.intent" in str(caught.value.detail)
