"""Idempotent mutations: one user action, one submission, however often the client retries.
`IdempotencyStore.run(key, fingerprint, work)` runs `work` (the submit) for the first request
with a key and gives its result to every repeat: concurrent repeats wait for the same in-flight
result, later ones get the stored result until it expires, and the same key with different input
is an `IdempotencyConflict`. `InMemoryIdempotencyStore` is the one-process implementation (TTL,
LRU bound, injectable clock); `experience_plane.cluster` implements the same protocol on Redis.
Failures release the key or keep it bound to its input as `store` explains; the key is always
forwarded to the Runtime too, which deduplicates by it, so a retry after a lost answer is safe.
The services use it through `experience_plane.services.idempotent`.
"""

from experience_plane.idempotency.errors import IdempotencyConflict, InvalidIdempotencyKey
from experience_plane.idempotency.fingerprint import fingerprint
from experience_plane.idempotency.keys import (
    MAX_KEY_LENGTH,
    IdempotencyKey,
    parse_idempotency_key,
)
from experience_plane.idempotency.memory import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_TTL_SECONDS,
    InMemoryIdempotencyStore,
)
from experience_plane.idempotency.store import IdempotencyStore, nothing_accepted

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_TTL_SECONDS",
    "MAX_KEY_LENGTH",
    "IdempotencyConflict",
    "IdempotencyKey",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "InvalidIdempotencyKey",
    "fingerprint",
    "nothing_accepted",
    "parse_idempotency_key",
]
