"""The idempotency store's errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from experience_plane.idempotency.keys import IdempotencyKey

__all__ = ["IdempotencyConflict", "InvalidIdempotencyKey"]


class IdempotencyConflict(Exception):
    """The idempotency key was already used, in this tenant and for this operation, with
    different input.

    The first request's result stands; this one did nothing. The client either repeats the
    original request unchanged (and gets its result) or sends the new input with a new key.
    """

    def __init__(self, key: IdempotencyKey) -> None:
        self.key = key
        self.message = (
            f"The idempotency key {key.key!r} was already used for a {key.operation} request "
            "with different input. Repeat the original request unchanged to get its result, "
            "or use a new idempotency key for new input."
        )
        super().__init__(self.message)


class InvalidIdempotencyKey(ValueError):
    """An idempotency key that is empty, too long, or not made of visible ASCII characters."""
