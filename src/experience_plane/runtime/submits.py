"""Submits whose answer was lost: telling "nothing sent" from "outcome unknown", and the one
safe retry.
A submit that failed before its connection was made reached nobody: a plain
`RuntimeUnavailable`. One that failed after the request went out (a read timeout, a connection
dropped mid-answer, a gateway's 504) may have started an execution: `SubmitOutcomeUnknown`,
whose message says so and how to retry safely. Only a submit carrying an idempotency key is
repeated, because the Runtime answers a repeated key (per tenant and intent type) with the
execution it already started instead of starting another.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from experience_plane.runtime.errors import (
    RuntimeTimeout,
    RuntimeUnavailable,
    SubmitOutcomeUnknown,
)
from experience_plane.runtime.models import RuntimeCaller, SubmitResult
from experience_plane.runtime.transport import nothing_sent

__all__ = ["SubmitAttempt", "retry_lost_answers"]

SUBMIT_PATH = "/api/intent/submit"


@dataclass(frozen=True, slots=True)
class SubmitAttempt:
    """One submit, however often it is sent: its intent, its id and its idempotency key,
    which build its envelope and its `SubmitOutcomeUnknown`."""

    intent_type: str
    intent_id: str
    idempotency_key: str | None

    @classmethod
    def new(cls, intent_type: str, idempotency_key: str | None) -> SubmitAttempt:
        """A submit with a fresh intent id, chosen here so that even a submit that fails
        without an execution id correlates, and a retry is recognisably the same intent."""
        return cls(intent_type, str(uuid.uuid4()), idempotency_key)

    def envelope(
        self, caller: RuntimeCaller, solution_id: str, metadata: Mapping[str, str] | None
    ) -> dict[str, object]:
        """The intent's envelope: everything but its `parameters`. The idempotency key goes in
        the metadata, where the Runtime looks for it."""
        meta: dict[str, object] = {**(metadata or {}), "user_id": caller.user_id}
        if self.idempotency_key is not None:
            meta["idempotency_key"] = self.idempotency_key
        return {
            "intent_type": self.intent_type,
            "tenant_id": caller.tenant_id,
            "session_id": caller.session_id,
            "solution_id": solution_id,
            "intent_id": self.intent_id,
            "metadata": meta,
        }

    def check_sent(self, exc: RuntimeUnavailable) -> None:
        """Raise `SubmitOutcomeUnknown` when the transport failure behind `exc` may have come
        after the request was sent; return when nothing was sent (or the Runtime answered)."""
        cause = exc.__cause__
        if cause is not None and exc.status_code is None and not nothing_sent(cause):
            raise self.unknown(exc, retried=0) from cause

    def unknown(self, exc: RuntimeUnavailable, *, retried: int) -> SubmitOutcomeUnknown:
        """The error for this submit's lost answer (`exc` says how it was lost)."""
        what = f"intent {self.intent_type!r} (intent id {self.intent_id})"
        reason = exc.message.removeprefix(f"POST {SUBMIT_PATH}: ")
        also = f"; also after {retried} retr{'y' if retried == 1 else 'ies'}" if retried else ""
        if self.idempotency_key is not None:
            advice = (
                f"Retry with the same idempotency key ({self.idempotency_key!r}): the Runtime "
                "then returns the execution the first submit started, if it started one, "
                "instead of starting a second."
            )
        else:
            advice = (
                "It was sent without an idempotency key, so submitting again may start a second "
                "execution; send an idempotency key to make retries safe."
            )
        timed_out = isinstance(exc, RuntimeTimeout) or (
            isinstance(exc, SubmitOutcomeUnknown) and exc.timed_out
        )
        return SubmitOutcomeUnknown(
            f"The outcome of {what} is unknown: the request was sent but the answer was lost "
            f"({reason}{also}). The Runtime may or may not have started it. {advice}",
            idempotency_key=self.idempotency_key,
            intent_id=self.intent_id,
            timed_out=timed_out,
            status_code=exc.status_code,
        )


async def retry_lost_answers(
    send: Callable[[], Awaitable[SubmitResult]],
    attempt: SubmitAttempt,
    *,
    retries: int,
    may_retry: Callable[[], bool],
    pause: Callable[[int], float],
) -> SubmitResult:
    """`send()` the submit; when its answer is lost, send it again up to `retries` times while
    `may_retry()` (a key was sent, the body can be rebuilt, the circuit is closed), pausing
    `pause(n)` seconds before retry n.

    A failure of the first send that is not `SubmitOutcomeUnknown` (nothing sent, or the
    Runtime refused) is raised as it is. Any failure of a retry leaves the first submit's
    outcome unknown, so it is raised as `SubmitOutcomeUnknown`.
    """
    tries = 0
    while True:
        try:
            return await send()
        except RuntimeUnavailable as exc:
            if not tries and not isinstance(exc, SubmitOutcomeUnknown):
                raise
            if tries >= retries or not may_retry():
                if not tries:
                    raise
                raise attempt.unknown(exc, retried=tries) from exc
            lost = exc
        await asyncio.sleep(pause(tries))
        if not may_retry():
            raise attempt.unknown(lost, retried=tries) from lost
        tries += 1
