"""The idempotency store interface, and which failures release a key.
An `IdempotencyStore` makes one user action one submission: `run(key, fingerprint, work)` runs
`work` for the first request with a key and hands its result to every later (or concurrent)
request with the same key and the same input, while a different input under that key is an
`IdempotencyConflict`. When `work` fails and the failure shows nothing was accepted (the Runtime
refused the intent, the circuit was open, the connection was never made, the service rejected
the input), the key is released, as if never used. Anything else, above all
`SubmitOutcomeUnknown` and a cancelled request, leaves the key bound to its input without a
result, so a retry with the same input runs `work` again: safe, because the Runtime
deduplicates by the same key and answers with the execution the first submit started, if any
(caching the failure would turn one lost answer into a permanent error), while a retry with
different input is a conflict, since the Runtime would answer it with the first input's
execution.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from experience_plane.idempotency.keys import IdempotencyKey
from experience_plane.runtime.errors import (
    CircuitOpen,
    RuntimeRejected,
    RuntimeUnavailable,
    SubmitOutcomeUnknown,
)

__all__ = ["IdempotencyStore", "nothing_accepted"]

T = TypeVar("T")


class IdempotencyStore(Protocol[T]):
    """Runs each idempotent operation once per key (see the module docstring)."""

    async def run(
        self, key: IdempotencyKey, fingerprint: str, work: Callable[[], Awaitable[T]]
    ) -> T:
        """Run `work` once for `key`, or return the result it gave.

        The first caller runs `work`; callers with the same key and `fingerprint` while it runs
        await the same result (they submit nothing), and later ones get the stored result
        until it expires. A different `fingerprint` raises `IdempotencyConflict`. When `work`
        raises, every caller waiting on it gets the same exception, and the key is released or
        kept bound to its input as the module docstring says.
        """
        ...


def nothing_accepted(exc: BaseException) -> bool:
    """Whether a failure shows the Runtime accepted nothing, so the key can be released.

    True for `RuntimeRejected` (the Runtime refused the intent), `CircuitOpen` (never sent) and a
    `RuntimeUnavailable` without an answer that is not `SubmitOutcomeUnknown` (the connection
    was never made). A 5xx answer is not on the list: a Runtime that fails after recording the
    execution answers 5xx too. Services add their own input errors to this predicate.
    """
    if isinstance(exc, RuntimeRejected | CircuitOpen):
        return True
    return (
        isinstance(exc, RuntimeUnavailable)
        and not isinstance(exc, SubmitOutcomeUnknown)
        and exc.status_code is None
    )
