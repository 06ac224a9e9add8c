"""Idempotency keys: what a client sends, and what the store keys its entries by."""

from __future__ import annotations

import re
from dataclasses import dataclass

from experience_plane.idempotency.errors import InvalidIdempotencyKey

__all__ = ["MAX_KEY_LENGTH", "IdempotencyKey", "parse_idempotency_key"]

MAX_KEY_LENGTH = 255
# Visible ASCII only: the key travels in an HTTP header and in the Runtime's metadata.
_KEY = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's key, scoped: the same key from two tenants, or for two operations (an upload
    and a mash), names two unrelated requests."""

    tenant_id: str
    operation: str
    key: str


def parse_idempotency_key(raw: str) -> str:
    """The key a client sent (an argument, or the `Idempotency-Key` header), checked.

    Surrounding whitespace is ignored, and so is one pair of double quotes: the IETF draft
    writes the header as a structured-field string (`Idempotency-Key: "8e03978e-..."`).
    Raises `InvalidIdempotencyKey` (a `ValueError`) for an empty key, one longer than
    `MAX_KEY_LENGTH`, or one with characters other than visible ASCII.
    """
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key:
        raise InvalidIdempotencyKey("The idempotency key is empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(
            f"The idempotency key is longer than {MAX_KEY_LENGTH} characters."
        )
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey(
            "The idempotency key may hold only visible ASCII characters (no spaces)."
        )
    return key
