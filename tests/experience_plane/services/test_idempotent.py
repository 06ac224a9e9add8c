"""Idempotent submits in the service layer: which failures free a key, and conflicts."""

from __future__ import annotations

import asyncio

import pytest

from experience_plane.auth import Principal
from experience_plane.runtime import (
    CircuitOpen,
    ExecutionState,
    ExecutionStatus,
    RuntimeRejected,
    RuntimeTimeout,
    RuntimeUnavailable,
    SubmitOutcomeUnknown,
)
from experience_plane.services import (
    IdempotencyConflictError,
    IdempotentSubmits,
    InvalidInputError,
    RateLimitedError,
    RuntimeOutcomeUnknownError,
    RuntimeRejectedError,
    RuntimeUnavailableError,
)
from experience_plane.services.idempotent import checked_key, releases_key
from experience_plane.services.presentation import runtime_errors
from experience_plane.services.submitting import idempotency_key_of

ALICE = Principal(tenant_id="t1", user_id="alice")
BOB = Principal(tenant_id="t2", user_id="bob")


def accepted(execution_id: str) -> ExecutionStatus:
    return ExecutionStatus(
        execution_id=execution_id,
        state=ExecutionState.PENDING,
        raw_status="created",
        intent_id=None,
        intent_type="content.upload",
        progress=None,
        error=None,
        created_at=None,
        updated_at=None,
        artifacts=(),
        events=(),
    )


def translated(exc: Exception) -> BaseException:
    """The service error `runtime_errors` makes of a Runtime client error."""
    try:
        with runtime_errors():
            raise exc
    except Exception as service_error:
        return service_error
    raise AssertionError("not translated")


@pytest.mark.parametrize(
    ("failure", "released"),
    [
        (InvalidInputError("bad"), True),
        (RateLimitedError("slow down", retry_after_seconds=1), True),
        (RuntimeRejectedError("no execution id"), True),
        (translated(RuntimeRejected("refused", status_code=400)), True),
        (translated(CircuitOpen("open")), True),
        (translated(RuntimeUnavailable("connection refused")), True),
        # A submit's lost answer is SubmitOutcomeUnknown; a bare timeout never sent it (the
        # connection or the session creation timed out).
        (translated(RuntimeTimeout("timed out")), True),
        # The Runtime may have started something: the key stays bound to its input.
        (translated(RuntimeUnavailable("503", status_code=503)), False),
        (translated(SubmitOutcomeUnknown("lost", idempotency_key="k")), False),
        (asyncio.CancelledError(), False),
    ],
)
def test_which_failures_release_the_key(failure: BaseException, released: bool) -> None:
    assert releases_key(failure) is released


def test_a_lost_answer_is_outcome_unknown_with_the_key_to_retry_with() -> None:
    error = translated(SubmitOutcomeUnknown("lost", idempotency_key="k-1", timed_out=True))
    assert isinstance(error, RuntimeOutcomeUnknownError)
    assert error.idempotency_key == "k-1"
    assert "same idempotency key ('k-1')" in error.message
    unkeyed = translated(SubmitOutcomeUnknown("lost", idempotency_key=None))
    assert isinstance(unkeyed, RuntimeOutcomeUnknownError)
    assert "may start a second execution" in unkeyed.message


def test_an_open_circuit_says_nothing_was_started() -> None:
    error = translated(CircuitOpen("open", retry_after=3.0))
    assert isinstance(error, RuntimeUnavailableError)
    assert "nothing was started" in error.message


async def test_repeats_share_one_submit_and_other_input_conflicts() -> None:
    submits = IdempotentSubmits.in_memory(ttl_seconds=60, max_entries=10)
    calls = 0
    gate = asyncio.Event()

    async def submit() -> ExecutionStatus:
        nonlocal calls
        calls += 1
        await gate.wait()
        return accepted(f"exec-{calls}")

    first = asyncio.create_task(submits.run(ALICE, "op", "k", {"a": 1}, submit))
    repeat = asyncio.create_task(submits.run(ALICE, "op", "k", {"a": 1}, submit))
    await asyncio.sleep(0)
    gate.set()
    assert (await first).execution_id == (await repeat).execution_id == "exec-1"
    assert (await submits.run(ALICE, "op", "k", {"a": 1}, submit)).execution_id == "exec-1"
    assert calls == 1
    with pytest.raises(IdempotencyConflictError, match="different input"):
        await submits.run(ALICE, "op", "k", {"a": 2}, submit)
    # Another tenant, or another operation, with the same key is another request.
    assert (await submits.run(BOB, "op", "k", {"a": 1}, submit)).execution_id == "exec-2"
    assert (await submits.run(ALICE, "other", "k", {"a": 1}, submit)).execution_id == "exec-3"
    # No key: no deduplication.
    assert (await submits.run(ALICE, "op", None, {"a": 1}, submit)).execution_id == "exec-4"


def test_keys_are_checked_and_argument_and_header_must_agree() -> None:
    assert checked_key(None) is None
    assert checked_key(' "abc" ') == "abc"
    for bad in ("", "has space", "x" * 256, "é"):
        with pytest.raises(InvalidInputError):
            checked_key(bad)
    assert idempotency_key_of("a", None) == "a"
    assert idempotency_key_of(None, "b") == "b"
    assert idempotency_key_of("a", '"a"') == "a"
    with pytest.raises(InvalidInputError, match="differ"):
        idempotency_key_of("a", "b")
