"""Idempotency keys shared by every replica: a retry that lands elsewhere gets the same result.
Each key is one Redis string holding JSON: the input's fingerprint and a state, `running`
(with the running replica's token), `done` (with the encoded result) or `bound` (the work failed
with an unknown outcome: the key stays bound to its input and a retry runs the work again, see
`experience_plane.idempotency.store`). The first request claims the key with an atomic
set-if-absent; the running entry lives a few seconds and is refreshed while the work runs, so a
replica that dies mid-submit frees the key for a retry instead of blocking it for a day.
Requests that find the key running wait for the outcome (polling; submits are rare).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Final, Generic, TypeVar

from experience_plane.cluster.link import REDIS_ERRORS, RedisLink
from experience_plane.idempotency import (
    IdempotencyConflict,
    IdempotencyKey,
    InMemoryIdempotencyStore,
    nothing_accepted,
)

__all__ = ["RedisIdempotencyStore"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

# KEYS: entry. ARGV: new value, ms to live, expected value ('' for none).
# Sets the entry when it holds the expected value (or is absent, for ''); returns the value
# it held otherwise (nil when it was set).
_SWAP: Final = """
local current = redis.call('GET', KEYS[1])
if (current or '') == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return nil
end
return current or ''
"""

# KEYS: entry. ARGV: expected value, ms to live (0: delete).
_REFRESH: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""


class _RedisLost(Exception):
    """Redis failed before the work started: the request runs against the local store."""


class RedisIdempotencyStore(Generic[T]):
    """An `IdempotencyStore` in Redis, shared by replicas (see the module docstring).

    `encode`/`decode` turn a result into text and back. While Redis is unreachable requests go
    to `local` (this replica's in-memory store): deduplication is then per replica, with the
    Runtime's own deduplication by key as the backstop. Unlike the in-memory store, a request
    waiting on another's failed work does not get its exception: it finds the key released (or
    bound) and runs the work itself, which the key's forwarding to the Runtime makes safe.
    """

    def __init__(
        self,
        link: RedisLink,
        local: InMemoryIdempotencyStore[T],
        *,
        encode: Callable[[T], str],
        decode: Callable[[str], T],
        prefix: str,
        ttl_seconds: float,
        releases_key: Callable[[BaseException], bool] = nothing_accepted,
        claim_seconds: float = 10.0,
        poll_seconds: float = 0.05,
    ) -> None:
        self._link = link
        self._local = local
        self._encode = encode
        self._decode = decode
        self._prefix = f"{prefix}:idem:"
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._claim_ms = max(1, round(claim_seconds * 1000))
        self._claim_seconds = claim_seconds
        self._poll_seconds = poll_seconds
        self._releases_key = releases_key
        self._swap = link.redis.register_script(_SWAP)
        self._refresh = link.redis.register_script(_REFRESH)

    async def run(
        self, key: IdempotencyKey, fingerprint: str, work: Callable[[], Awaitable[T]]
    ) -> T:
        """Run `work` once for `key` across replicas, or return its result."""
        if self._link.up:
            try:
                return await self._run(key, fingerprint, work)
            except _RedisLost:
                pass
        return await self._local.run(key, fingerprint, work)

    def entry_key(self, key: IdempotencyKey) -> str:
        """The Redis key holding `key`'s entry (lengths first: no two keys can collide)."""
        parts = (key.tenant_id, key.operation, key.key)
        return self._prefix + ":".join(f"{len(part)}:{part}" for part in parts)

    async def _run(
        self, key: IdempotencyKey, fingerprint: str, work: Callable[[], Awaitable[T]]
    ) -> T:
        name = self.entry_key(key)
        expected = ""  # claim an absent key first
        while True:
            running = _dump(fingerprint, "running", owner=uuid.uuid4().hex)
            try:
                held = await self._swap(keys=[name], args=[running, self._claim_ms, expected])
            except REDIS_ERRORS as exc:
                self._link.failed(exc)
                raise _RedisLost from exc
            if held is None:
                return await self._lead(name, running, fingerprint, work)
            raw = held.decode()
            if not raw:  # gone between our reads (expired or released): claim it
                expected = ""
                continue
            entry = json.loads(raw)
            if entry["fingerprint"] != fingerprint:
                raise IdempotencyConflict(key)
            if entry["state"] == "done":
                return self._decode(entry["value"])
            if entry["state"] == "bound":
                expected = raw  # take it over, unless someone else does first
                continue
            await asyncio.sleep(self._poll_seconds)  # running elsewhere: wait for its outcome
            expected = ""

    async def _lead(
        self, name: str, running: str, fingerprint: str, work: Callable[[], Awaitable[T]]
    ) -> T:
        heartbeat = asyncio.create_task(self._keep_claim(name, running))
        try:
            value = await work()
        except BaseException as exc:
            released = not isinstance(exc, asyncio.CancelledError) and self._releases_key(exc)
            if released:
                await self._settle(name, running, None)
            else:
                await self._settle(name, running, _dump(fingerprint, "bound"))
            raise
        finally:
            heartbeat.cancel()
        await self._settle(name, running, _dump(fingerprint, "done", value=self._encode(value)))
        return value

    async def _keep_claim(self, name: str, running: str) -> None:
        while True:
            await asyncio.sleep(self._claim_seconds / 3)
            with contextlib.suppress(*REDIS_ERRORS):
                await self._refresh(keys=[name], args=[running, self._claim_ms])

    async def _settle(self, name: str, running: str, entry: str | None) -> None:
        """Replace our running entry with its outcome (None: release the key)."""
        try:
            if entry is None:
                await self._refresh(keys=[name], args=[running, 0])
            else:
                await self._swap(keys=[name], args=[entry, self._ttl_ms, running])
        except REDIS_ERRORS as exc:
            # The work is done and its answer goes to the caller; a retry elsewhere will find
            # the claim expired and submit again, deduplicated by the Runtime.
            self._link.failed(exc)
            logger.warning("could not record an idempotent outcome in Redis: %s", exc)


def _dump(fingerprint: str, state: str, **extra: str) -> str:
    return json.dumps({"fingerprint": fingerprint, "state": state, **extra}, sort_keys=True)
