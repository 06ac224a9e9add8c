"""Watching an execution from several replicas: one leader reads the Runtime, the rest listen.
A `ReplicatedWatcher` is an `ExecutionWatcher` whose replica may share the work with others
through a `WatchCoordinator` (Redis, in `experience_plane.cluster`). For each execution one
replica holds a lease; it alone reads the Runtime, and every snapshot it publishes locally is
also published to the coordinator, which numbers it (a sequence shared by all replicas), caches
it as the execution's latest, and hands it to every other replica. A replica without the lease
is a follower: it catches up from the cached latest snapshot, then applies the published ones in
sequence order (so a snapshot delivered late never undoes a newer one), through the same local
history, so its subscribers see each change once and in order. A follower that hears nothing
for a while checks the lease; when its holder has died and the lease expired, it takes over and
reads the Runtime first, so no change is missed. Without the coordinator (Redis unreachable at
start or later) the watcher falls back to being a plain local watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from experience_plane.executions.cache import ExecutionKey
from experience_plane.executions.watcher import (
    ExecutionWatcher,
    PollPolicy,
    Snapshot,
    StatusSource,
    StreamSupport,
)
from experience_plane.runtime import ExecutionNotFound, ExecutionStatus

__all__ = ["CoordinationUnavailable", "Inbox", "Published", "ReplicatedWatcher", "WatchCoordinator"]

logger = logging.getLogger(__name__)

Published = tuple[int, Snapshot | None]
"""A snapshot as numbered by the coordinator; None means the Runtime knows no such execution."""


class CoordinationUnavailable(Exception):
    """The coordinator cannot be reached: the watcher goes on alone, as a local watcher."""


class Inbox(Protocol):
    """The snapshots published for one execution by other replicas, as they arrive."""

    async def get(self, wait_seconds: float) -> Published | None:
        """The next one, or None after `wait_seconds` of silence; raises
        `CoordinationUnavailable` when the coordinator's connection is lost."""
        ...


class WatchCoordinator(Protocol):
    """What replicas share to watch each execution once (implemented on Redis)."""

    lease_seconds: float

    @property
    def available(self) -> bool:
        """Whether the coordinator is reachable now (if not, watchers work alone)."""
        ...

    def listen(self, key: ExecutionKey) -> AbstractAsyncContextManager[Inbox]:
        """Receive what is published for `key` from now on, while the context is open."""
        ...

    async def latest(self, key: ExecutionKey) -> Published | None:
        """The last snapshot published for `key`, if cached."""
        ...

    async def try_lead(self, key: ExecutionKey) -> bool:
        """Take `key`'s lease if nobody holds it; whether this replica now does."""
        ...

    async def renew(self, key: ExecutionKey) -> bool:
        """Extend this replica's lease; False if it is held by another replica now."""
        ...

    async def release(self, key: ExecutionKey) -> None:
        """Give the lease up (if still held), so another replica can take over at once."""
        ...

    async def publish(self, key: ExecutionKey, snapshot: Snapshot | None) -> bool:
        """Number, cache and broadcast a snapshot (None: not found) while holding the lease;
        a terminal snapshot (or None) also ends the lease. False if another replica holds it."""
        ...


class ReplicatedWatcher(ExecutionWatcher):
    """An `ExecutionWatcher` that leads or follows its execution across replicas."""

    def __init__(
        self,
        key: ExecutionKey,
        source: StatusSource,
        policy: PollPolicy,
        streams: StreamSupport,
        on_finished: Callable[[ExecutionWatcher], None],
        coordinator: WatchCoordinator,
    ) -> None:
        super().__init__(key, source, policy, streams, on_finished)
        self._coordinator = coordinator
        self._applied = 0  # the highest sequence number applied from the coordinator
        self._leading = False
        self._renewing = False
        self._outbox: asyncio.Queue[Snapshot | _End | None] = asyncio.Queue()

    async def _watch(self) -> None:
        coordinator = self._coordinator
        if coordinator.available:
            try:
                async with coordinator.listen(self.key) as inbox:
                    if await self._follow_others(inbox):
                        return
            except CoordinationUnavailable:
                logger.debug("execution %s: watching alone (no coordinator)", self.key[1])
            else:
                await self._lead()
                return
        await super()._watch()  # alone: a fresh read first, so nothing is missed

    async def _follow_others(self, inbox: Inbox) -> bool:
        """Follow the leader's snapshots; True once the terminal one is applied, False when
        this replica took the lease (its holder died, or there was none)."""
        coordinator = self._coordinator
        check_every = coordinator.lease_seconds / 4
        while True:
            latest = await coordinator.latest(self.key)
            if latest is not None and self._apply(latest):
                return True
            if await coordinator.try_lead(self.key):
                return False
            # Jittered so that replicas following one execution do not all ask at once.
            deadline = asyncio.get_running_loop().time() + check_every * random.uniform(0.8, 1.2)  # noqa: S311
            while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                published = await inbox.get(remaining)
                if published is None:
                    break
                if self._apply(published):
                    return True

    def _apply(self, published: Published) -> bool:
        """Publish a numbered snapshot locally unless an as new one was; True if terminal."""
        sequence, snapshot = published
        if sequence <= self._applied:
            return False
        self._applied = sequence
        if snapshot is None:
            raise ExecutionNotFound(f"Execution {self.key[1]} was not found.")
        self._publish(snapshot.status, stale=snapshot if snapshot.stale else None)
        return snapshot.status.state.is_terminal

    async def _lead(self) -> None:
        """Hold the lease: read the Runtime as a local watcher does, sharing every snapshot."""
        self._leading = True
        self._renewing = True
        publisher = asyncio.create_task(self._publish_outbox(), name="execution-publisher")
        renewer = asyncio.create_task(self._renew_lease(), name="execution-lease")
        try:
            try:
                await super()._watch()
            except ExecutionNotFound:
                self._outbox.put_nowait(None)  # followers raise it too
                raise
            finally:
                # The flag as well as the cancellation: see `RedisLink.__aexit__`.
                self._renewing = False
                renewer.cancel()
                # Let the last snapshots (above all the terminal one) reach the other replicas.
                self._outbox.put_nowait(_END)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._coordinator.lease_seconds):
                        await asyncio.wait({publisher})
        finally:
            publisher.cancel()
            await asyncio.wait({publisher, renewer})
            if self._leading:
                with contextlib.suppress(CoordinationUnavailable):
                    await self._coordinator.release(self.key)

    def _publish(
        self, status: ExecutionStatus, *, stale: Snapshot | None = None
    ) -> Snapshot | None:
        published = super()._publish(status, stale=stale)
        if published is not None and self._leading:
            self._outbox.put_nowait(published)
        return published

    async def _publish_outbox(self) -> None:
        """Send the leader's snapshots to the coordinator, one at a time and in order."""
        while not isinstance(snapshot := await self._outbox.get(), _End):
            if not self._leading:
                continue
            try:
                if not await self._coordinator.publish(self.key, snapshot):
                    self._fenced()
            except CoordinationUnavailable:
                pass  # the coordinator says so itself; followers fall back on their own

    async def _renew_lease(self) -> None:
        while self._leading and self._renewing:
            await asyncio.sleep(self._coordinator.lease_seconds / 3)
            try:
                if not await self._coordinator.renew(self.key):
                    self._fenced()
            except CoordinationUnavailable:
                pass  # keep watching: this replica's subscribers still need it

    def _fenced(self) -> None:
        # Another replica holds the lease (this one was cut off longer than the lease): it
        # publishes now; this watcher keeps serving its own subscribers without publishing.
        logger.warning("execution %s: lease lost to another replica", self.key[1])
        self._leading = False


class _End:
    """The outbox's end marker: the leader has published everything it will."""


_END = _End()
