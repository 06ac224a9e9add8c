"""Idempotent mutations: one user action, one submission, however often the client retries.

`IdempotencyStore.run(key, fingerprint, work)` runs `work` (the submit) for the first request
with a key and gives its result to every repeat: concurrent repeats wait for the same in-flight
result, later ones get the stored result until it expires, and the same key with different input
is an `IdempotencyConflict`. `InMemoryIdempotencyStore` is the one-process implementation (TTL,
LRU bound, injectable clock); a shared one (e.g. Redis) implements the same protocol later.
Failures release the key or keep it bound to its input as `store` explains; the key is always
forwarded to the Runtime too, which deduplicates by it, so a retry after a lost answer is safe.

Wiring (for the services and the app; nothing here is wired yet):

* settings: `EXPERIENCE_IDEMPOTENCY_TTL_SECONDS` (default 86400) and
  `EXPERIENCE_TUNING__IDEMPOTENCY_MAX_ENTRIES` (default 100000).
* `create_app` builds one `InMemoryIdempotencyStore[ExecutionStatus]` (the services' accepted
  result) from those settings, in the lifespan, and hands it to `ContentService` and
  `DataMashService`.
* A resolver reads the `idempotencyKey` argument, else the `Idempotency-Key` header, through
  `parse_idempotency_key` (an `InvalidIdempotencyKey` is an invalid-input error).
* The service, given a key, wraps everything from the submit to the accepted status:

      key = IdempotencyKey(principal.tenant_id, "uploadContent", raw_key)
      return await store.run(
          key,
          fingerprint({"filename": name, "mime_type": media_type, "sha256": digest}),
          lambda: self._submit(principal, ..., idempotency_key=raw_key),
      )

  forwarding the same raw key to `RuntimeClient.upload_content` / `create_data_mash`. The
  fingerprint holds every argument that shapes the intent (for a mash: `content_refs`, name,
  options); for an upload, the spooled file's size and sha256 when it can be read twice,
  else its name, type and size. `releases_key` should be
  `lambda e: isinstance(e, InvalidInputError | UploadTooLargeError) or nothing_accepted(e)`.
* `IdempotencyConflict` maps to a typed `IDEMPOTENCY_CONFLICT` error (HTTP 409 on REST);
  `runtime.SubmitOutcomeUnknown` to an error whose message the client is shown as is.
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
