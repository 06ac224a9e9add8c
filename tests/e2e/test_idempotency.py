"""Idempotent mutations through the real API and Runtime: one user action, one execution."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.e2e.raw import CSV, MASH, post, result, upload
from tests.support.processes import ApiProcess, RuntimeProcess


def created(runtime: RuntimeProcess, intent: str) -> int:
    return runtime.stats()["executions_created"].get(intent, 0)


async def test_the_same_key_returns_the_same_execution_and_submits_once(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    key = str(uuid.uuid4())
    before = created(e2e_runtime, "content.upload")
    async with httpx.AsyncClient(timeout=30) as http:
        first = result(await upload(http, api, key=key), "uploadContent")
        again = result(await upload(http, api, key=key), "uploadContent")
        by_header = result(
            await upload(http, api, headers={"Idempotency-Key": key}), "uploadContent"
        )
    assert first["__typename"] == "ExecutionAccepted"
    assert again["execution"]["id"] == first["execution"]["id"]
    assert by_header["execution"]["id"] == first["execution"]["id"]
    assert created(e2e_runtime, "content.upload") == before + 1


async def test_concurrent_repeats_while_the_first_is_in_flight_share_one_execution(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    key = str(uuid.uuid4())
    before = created(e2e_runtime, "content.upload")
    e2e_runtime.set_faults(latency=0.5)  # every submit is slow: the repeats arrive mid-flight
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(*(upload(http, api, key=key) for _ in range(5)))
    finally:
        e2e_runtime.set_faults(latency=0)
    ids = {result(answer, "uploadContent")["execution"]["id"] for answer in answers}
    assert len(ids) == 1
    assert created(e2e_runtime, "content.upload") == before + 1


async def test_the_same_key_with_other_input_is_a_typed_conflict(api: ApiProcess) -> None:
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=30) as http:
        first = result(await upload(http, api, key=key), "uploadContent")
        other = result(
            await upload(http, api, key=key, content=CSV + b"4,Di,40\n"), "uploadContent"
        )
        file_id = first["execution"]["id"]
        mash = result(await post(http, api, MASH, refs=["f1"], key=key), "createDataMash")
        mash_again = result(await post(http, api, MASH, refs=["f1"], key=key), "createDataMash")
        mash_other = result(
            await post(http, api, MASH, refs=["f1", "f2"], key=key), "createDataMash"
        )
    assert file_id
    assert other["__typename"] == "IdempotencyConflictError"
    assert other["code"] == "IDEMPOTENCY_CONFLICT"
    assert key in other["message"]
    # The same key names another request for another operation: no conflict across them.
    assert mash["__typename"] == "ExecutionAccepted"
    assert mash_again["execution"]["id"] == mash["execution"]["id"]
    assert mash_other["__typename"] == "IdempotencyConflictError"


async def test_keys_are_scoped_to_the_tenant(api: ApiProcess) -> None:
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=30) as http:
        mine = result(await upload(http, api, key=key, tenant="t1"), "uploadContent")
        theirs = result(await upload(http, api, key=key, tenant="t2"), "uploadContent")
    assert mine["execution"]["id"] != theirs["execution"]["id"]


async def test_argument_and_header_must_agree_and_keys_must_be_sane(api: ApiProcess) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        differ = result(
            await upload(http, api, key="one", headers={"Idempotency-Key": "two"}),
            "uploadContent",
        )
        same = result(
            await upload(http, api, key="k-" + uuid.uuid4().hex, headers={"Idempotency-Key": ""}),
            "uploadContent",
        )
        spaces = result(await upload(http, api, key="has spaces"), "uploadContent")
        too_long = result(await upload(http, api, key="k" * 256), "uploadContent")
    assert differ["code"] == "INVALID_INPUT"
    assert differ["__typename"] == "InvalidInputError"
    assert same["code"] == "INVALID_INPUT"  # an empty header is not "no header"
    assert spaces["code"] == too_long["code"] == "INVALID_INPUT"


async def test_the_key_reaches_the_runtime_which_deduplicates_too(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    """A lost answer after the Runtime acted: the API's retry with the key is answered with
    the first execution, so the Runtime records one execution and one deduplicated submit."""
    key = str(uuid.uuid4())
    stats = e2e_runtime.stats()
    created_before = stats["executions_created"].get("content.upload", 0)
    deduplicated_before = stats["submits_deduplicated"].get("content.upload", 0)
    e2e_runtime.set_faults(drop_after_handling_rate=1.0)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            lost = result(await upload(http, api, key=key), "uploadContent")
            e2e_runtime.set_faults(drop_after_handling_rate=0)
            repeated = result(await upload(http, api, key=key), "uploadContent")
    finally:
        e2e_runtime.set_faults(drop_after_handling_rate=0)
    assert lost["__typename"] == "RuntimeOutcomeUnknownError"
    assert lost["code"] == "RUNTIME_OUTCOME_UNKNOWN"
    assert lost["idempotencyKey"] == key
    assert "same idempotency key" in lost["message"]
    assert repeated["__typename"] == "ExecutionAccepted"
    stats = e2e_runtime.stats()
    assert stats["executions_created"]["content.upload"] == created_before + 1
    # The client's repeat was answered with the first execution. (The API does not resend a
    # streamed upload itself: the file's bytes have gone by.)
    assert stats["submits_deduplicated"]["content.upload"] == deduplicated_before + 1


async def test_a_lost_answer_without_a_key_says_a_repeat_is_unsafe(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    e2e_runtime.set_faults(drop_after_handling_rate=1.0)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            lost = result(await upload(http, api), "uploadContent")
    finally:
        e2e_runtime.set_faults(drop_after_handling_rate=0)
    assert lost["code"] == "RUNTIME_OUTCOME_UNKNOWN"
    assert lost["idempotencyKey"] is None
    assert "no idempotency key" in lost["message"]
