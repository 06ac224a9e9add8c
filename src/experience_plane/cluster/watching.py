"""Execution watching shared by replicas through Redis: leases, numbered snapshots, pub/sub.
Per execution (tenant and id) Redis holds three keys: the lease (`SET NX PX`, the holder's
replica id, renewed every third of its life), the sequence counter, and the latest snapshot
(with its sequence number, kept `status_ttl` seconds, terminal ones included). The holder
publishes a snapshot with one Lua script that checks it still holds the lease (a replica cut off
longer than the lease cannot overwrite its successor), numbers the snapshot, caches it and
PUBLISHes it on one channel that every replica subscribes to once.
Why pub/sub rather than streams: what a follower needs is the latest state plus every change
after it, in order. The cached latest snapshot gives the first (a replica subscribes, then reads
it, so nothing falls in between), the shared sequence number orders the rest and drops
duplicates, and a follower re-reads the cache whenever it checks the lease, so a message lost
during a reconnect is made up within a quarter of the lease. Streams would add a log per
execution to trim and a blocking reader per replica, for a replay nobody needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Final, Self

from redis.asyncio.client import PubSub

from experience_plane.cluster.codec import MISSING, decode_snapshot, encode_snapshot
from experience_plane.cluster.link import REDIS_ERRORS, RedisLink
from experience_plane.executions import ExecutionKey, Snapshot
from experience_plane.executions.replicated import CoordinationUnavailable, Published

__all__ = ["RedisWatchCoordinator"]

logger = logging.getLogger(__name__)

# KEYS: lease, latest, sequence. ARGV: replica id, lease ms, cache ms, channel, key tag,
# payload, "1" if the snapshot is the last one (the lease ends with it).
_PUBLISH: Final = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
if ARGV[7] == '1' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local seq = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('SET', KEYS[2], seq .. '\\n' .. ARGV[6], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], seq .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[6])
return seq
"""

_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_DOWN: Final = object()
"""Put in every inbox when the subscription drops: the followers go on alone."""


class _Inbox:
    """One local watcher's share of the replica's subscription."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Published | object] = asyncio.Queue()

    async def get(self, wait_seconds: float) -> Published | None:
        try:
            async with asyncio.timeout(wait_seconds):
                item = await self.queue.get()
        except TimeoutError:
            return None
        if item is _DOWN:
            raise CoordinationUnavailable("the Redis subscription dropped")
        return item  # type: ignore[return-value]  # anything but _DOWN is a Published


class RedisWatchCoordinator:
    """The `WatchCoordinator` on Redis: see the module docstring.

    One subscription per replica, opened by a listener task that reconnects by itself; it
    dispatches each message to the local watchers of that execution.
    """

    def __init__(
        self,
        link: RedisLink,
        *,
        prefix: str,
        lease_seconds: float,
        status_ttl_seconds: float,
    ) -> None:
        self.lease_seconds = lease_seconds
        self.replica_id = uuid.uuid4().hex
        self._link = link
        self._prefix = prefix
        self._channel = f"{prefix}:executions"
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._cache_ms = max(1, round(status_ttl_seconds * 1000))
        self._inboxes: dict[str, set[_Inbox]] = {}
        self._subscribed = False
        self._listener: asyncio.Task[None] | None = None
        self._closing = False
        self._publish_script = link.redis.register_script(_PUBLISH)
        self._renew_script = link.redis.register_script(_RENEW)
        self._release_script = link.redis.register_script(_RELEASE)

    async def __aenter__(self) -> Self:
        self._listener = asyncio.create_task(self._listen(), name="redis-executions-listener")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The flag as well as the cancellation: see `RedisLink.__aexit__`.
        self._closing = True
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.wait({self._listener})

    @property
    def available(self) -> bool:
        """Redis answers and this replica's subscription is open."""
        return self._link.up and self._subscribed

    def _tag(self, key: ExecutionKey) -> str:
        tenant_id, execution_id = key
        # The tenant's length first, so that no tenant/id pair can spell another's keys.
        return f"{self._prefix}:exec:{len(tenant_id)}:{tenant_id}:{execution_id}"

    @asynccontextmanager
    async def listen(self, key: ExecutionKey) -> AsyncIterator[_Inbox]:
        """Receive `key`'s published snapshots while the context is open."""
        if not self.available:
            raise CoordinationUnavailable("Redis is unavailable")
        tag = self._tag(key)
        inbox = _Inbox()
        self._inboxes.setdefault(tag, set()).add(inbox)
        try:
            yield inbox
        finally:
            inboxes = self._inboxes.get(tag)
            if inboxes is not None:
                inboxes.discard(inbox)
                if not inboxes:
                    del self._inboxes[tag]

    async def latest(self, key: ExecutionKey) -> Published | None:
        """The cached latest snapshot of `key`, with its sequence number."""
        raw = await self._call(self._link.redis.get(self._tag(key) + ":latest"))
        return None if raw is None else _parse(raw.decode())

    async def try_lead(self, key: ExecutionKey) -> bool:
        """`SET lease NX PX`: whether this replica now holds `key`'s lease."""
        taken = await self._call(
            self._link.redis.set(
                self._tag(key) + ":lease", self.replica_id, nx=True, px=self._lease_ms
            )
        )
        return bool(taken)

    async def renew(self, key: ExecutionKey) -> bool:
        """Extend this replica's lease; False when it is not (any more) the holder."""
        renewed = await self._call(
            self._renew_script(
                keys=[self._tag(key) + ":lease"], args=[self.replica_id, self._lease_ms]
            )
        )
        return bool(renewed)

    async def release(self, key: ExecutionKey) -> None:
        """Delete the lease if this replica holds it."""
        await self._call(
            self._release_script(keys=[self._tag(key) + ":lease"], args=[self.replica_id])
        )

    async def publish(self, key: ExecutionKey, snapshot: Snapshot | None) -> bool:
        """Number, cache and broadcast `snapshot` (None: not found) if this replica holds the
        lease or nobody does; a terminal snapshot or None ends the lease."""
        tag = self._tag(key)
        final = snapshot is None or snapshot.status.state.is_terminal
        payload = MISSING if snapshot is None else encode_snapshot(snapshot)
        sequence = await self._call(
            self._publish_script(
                keys=[tag + ":lease", tag + ":latest", tag + ":seq"],
                args=[
                    self.replica_id,
                    self._lease_ms,
                    # "Not found" is cached only briefly: it is an answer, not a state.
                    self._lease_ms if snapshot is None else self._cache_ms,
                    self._channel,
                    tag,
                    payload,
                    "1" if final else "0",
                ],
            )
        )
        return bool(sequence)

    async def _call(self, command: Awaitable[Any]) -> Any:
        """Await a Redis command, turning Redis failures into `CoordinationUnavailable`."""
        try:
            return await command
        except REDIS_ERRORS as exc:
            self._link.failed(exc)
            raise CoordinationUnavailable(str(exc)) from exc

    async def _listen(self) -> None:
        """Keep one subscription open, dispatching messages; reopen it after a failure."""
        while not self._closing:
            pubsub: PubSub = self._link.redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed = True
                self._link.recovered()
                while not self._closing:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["data"])
            except REDIS_ERRORS as exc:
                self._link.failed(exc)
            finally:
                self._subscribed = False
                self._drop_all()
                with contextlib.suppress(*REDIS_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            if not self._closing:
                await asyncio.sleep(0.5)  # Redis is down: the probe's pace, roughly

    def _dispatch(self, data: bytes) -> None:
        try:
            sequence, tag, payload = data.decode().split("\n", 2)
        except ValueError:
            logger.warning("ignoring a malformed execution message on %s", self._channel)
            return
        inboxes = self._inboxes.get(tag)
        if not inboxes:
            return
        published = _parse(f"{sequence}\n{payload}")
        for inbox in inboxes:
            inbox.queue.put_nowait(published)

    def _drop_all(self) -> None:
        for inboxes in self._inboxes.values():
            for inbox in inboxes:
                inbox.queue.put_nowait(_DOWN)


def _parse(raw: str) -> Published:
    sequence, payload = raw.split("\n", 1)
    return int(sequence), None if payload == MISSING else decode_snapshot(payload)
