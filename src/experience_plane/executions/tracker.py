"""The execution tracker: one watcher per execution, shared by every subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Self

from experience_plane.executions.cache import ExecutionKey, TerminalCache
from experience_plane.executions.freshness import Timers
from experience_plane.executions.replicated import (
    CoordinationUnavailable,
    ReplicatedWatcher,
    WatchCoordinator,
)
from experience_plane.executions.watcher import (
    ExecutionWatcher,
    PollPolicy,
    Sleep,
    Snapshot,
    StatusSource,
    StreamSupport,
)
from experience_plane.runtime import ExecutionStatus


class TrackerClosed(Exception):
    """Raised by `ExecutionTracker.follow` once the tracker has been closed."""


class ExecutionTracker:
    """One watcher per (tenant_id, execution_id), shared by every subscriber.

    Subscribers call `follow()`, an async generator: it yields the current status at once, then
    each change exactly once and in order, and ends after the terminal status. However many
    subscribers follow an execution, a single watcher task reads it from the Runtime (through
    its stream when it has one, else by polling with backoff) and the subscribers replay what
    that watcher broadcasts (see `experience_plane.executions.broadcast`). Watchers are keyed by
    tenant as well as execution id, so one tenant never sees through another's watcher. A
    watcher stops when its execution ends or its last subscriber leaves; terminal statuses are
    kept in a bounded LRU cache so late subscribers cost no Runtime call. Subscribers (and
    `current()`) are told the status is stale no later than `stale_after` seconds after the
    Runtime was last heard from (see `executions.freshness`). `sleep` and `timers` are
    injectable so tests can record poll intervals and move the freshness clock instead of
    waiting. With a `coordinator` (Redis, when several replicas run), watchers are
    `ReplicatedWatcher`s: one replica reads each execution from the Runtime and the others
    follow what it publishes.
    """

    def __init__(
        self,
        client: StatusSource,
        *,
        poll_interval_min: float = 0.1,
        poll_interval_max: float = 2.0,
        poll_backoff: float = 1.5,
        use_stream: bool = True,
        terminal_cache_size: int = 10_000,
        stale_after: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        timers: Timers | None = None,
        coordinator: WatchCoordinator | None = None,
    ) -> None:
        self._client = client
        self._coordinator = coordinator
        self._policy = PollPolicy(
            interval_min=poll_interval_min,
            interval_max=poll_interval_max,
            backoff=poll_backoff,
            use_stream=use_stream,
            sleep=sleep,
            stale_after=stale_after,
            timers=timers,
        )
        self._streams = StreamSupport()
        self._terminal = TerminalCache(terminal_cache_size)
        self._watchers: dict[ExecutionKey, ExecutionWatcher] = {}
        self._reads: dict[ExecutionKey, asyncio.Future[ExecutionStatus]] = {}
        self._subscribers = 0
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every watcher task and end every subscription; the tracker cannot be reused."""
        self._closed = True
        watchers = list(self._watchers.values())
        self._watchers.clear()
        tasks = [t for w in watchers if (t := w.broadcast.task) is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for watcher in watchers:
            watcher.finish()  # wakes its subscribers, which see the tracker closed and end
        if tasks:
            await asyncio.wait(tasks)

    @property
    def active_watchers(self) -> int:
        """Watcher tasks currently following an execution."""
        return len(self._watchers)

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called (the service is shutting down)."""
        return self._closed

    @property
    def active_subscribers(self) -> int:
        """`follow()` generators started and not yet finished or closed."""
        return self._subscribers

    async def follow(self, tenant_id: str, execution_id: str) -> AsyncGenerator[Snapshot, None]:
        """Yield a `Snapshot` of the execution now, then at each change, ending after the
        terminal one; a change is a new status, or the status going stale (the Runtime has not
        answered for a while) or fresh again.

        The first item comes at once: a fresh read for a new watcher, the latest snapshot of a
        running one, or the cached terminal status of a finished one. An unknown (or another
        tenant's) execution raises `ExecutionNotFound` before anything is yielded; so do other
        failures of that first read. Later transient Runtime errors are retried by the watcher.
        Closing the generator early (`aclose()`, cancellation) releases its share of the watcher.
        """
        if self._closed:
            raise TrackerClosed("the execution tracker is closed")
        key = (tenant_id, execution_id)
        self._subscribers += 1
        try:
            cached = self._terminal.get(key)
            if cached is not None:
                yield Snapshot(cached)
                return
            watcher = self._watchers.get(key) or self._start_watcher(key)
            snapshots = watcher.broadcast.subscribe()
            try:
                async for snapshot in snapshots:
                    if self._closed:
                        return
                    yield snapshot
            finally:
                await snapshots.aclose()  # before `_leave`: it drops this subscriber
                await self._leave(watcher)
        finally:
            self._subscribers -= 1

    async def current(self, tenant_id: str, execution_id: str) -> Snapshot:
        """The latest known status: a running watcher's snapshot (flagged stale, as its
        subscribers see it, once the Runtime has not been heard from for `stale_after`), the
        cached terminal one, else a read.

        Concurrent reads of the same execution for the same tenant are one Runtime call: a
        caller arriving while a read is in flight waits for that read's answer (or its error).
        Once the answer has arrived the read is forgotten, so a later caller reads again and
        never gets an answer older than its own call."""
        key = (tenant_id, execution_id)
        watcher = self._watchers.get(key)
        if watcher is not None and watcher.error is None:
            snapshot = watcher.snapshot
            if snapshot is not None:
                return snapshot
        cached = self._terminal.get(key) or await self._shared_terminal(key)
        if cached is not None:
            return Snapshot(cached)
        read = self._reads.get(key)
        if read is None:
            read = self._start_read(key)
        # Shielded: a caller that gives up (cancelled) leaves the read to the other waiters.
        return Snapshot(await asyncio.shield(read))

    def _start_read(self, key: ExecutionKey) -> asyncio.Future[ExecutionStatus]:
        """One Runtime read of `key` shared by every `current()` caller until it answers."""
        read = asyncio.ensure_future(self._client.get_execution(*key))
        self._reads[key] = read

        def answered(done: asyncio.Future[ExecutionStatus]) -> None:
            if self._reads.get(key) is done:
                del self._reads[key]
            if done.cancelled():
                return
            error = done.exception()  # retrieved, so an error nobody waits for is not logged
            if error is None:
                self._terminal.put(key, done.result())

        read.add_done_callback(answered)
        return read

    def remember(self, status_tenant: str, status: ExecutionStatus) -> None:
        """Seed the terminal cache, e.g. with a synchronous Runtime's final status.

        Non-terminal statuses are ignored: they would go stale, and a watcher reads them anyway.
        New subscribers get the remembered status at once; a watcher already running is left to
        see the end for itself.
        """
        self._terminal.put((status_tenant, status.execution_id), status)

    async def _shared_terminal(self, key: ExecutionKey) -> ExecutionStatus | None:
        """The terminal status another replica published for `key`, if the coordinator has it."""
        coordinator = self._coordinator
        if coordinator is None or not coordinator.available:
            return None
        try:
            published = await coordinator.latest(key)
        except CoordinationUnavailable:
            return None
        snapshot = published[1] if published is not None else None
        if snapshot is None or not snapshot.status.state.is_terminal:
            return None
        self._terminal.put(key, snapshot.status)
        return snapshot.status

    def _start_watcher(self, key: ExecutionKey) -> ExecutionWatcher:
        watcher = (
            ExecutionWatcher(key, self._client, self._policy, self._streams, self._finished)
            if self._coordinator is None
            else ReplicatedWatcher(
                key, self._client, self._policy, self._streams, self._finished, self._coordinator
            )
        )
        self._watchers[key] = watcher
        watcher.broadcast.start(watcher.run(), name=f"execution-watcher:{key[1]}")
        return watcher

    def _finished(self, watcher: ExecutionWatcher) -> None:
        if self._watchers.get(watcher.key) is watcher:
            del self._watchers[watcher.key]
        latest = watcher.latest
        if watcher.error is None and latest is not None:
            self._terminal.put(watcher.key, latest)

    async def _leave(self, watcher: ExecutionWatcher) -> None:
        """After a subscriber left: once the last one has, forget the watcher and wait for its
        task, which the broadcast has cancelled unless the watcher had finished."""
        broadcast = watcher.broadcast
        if broadcast.subscribers > 0:
            return
        if self._watchers.get(watcher.key) is watcher:
            del self._watchers[watcher.key]
        task = broadcast.task
        if task is None or task.done():
            return
        # Waiting (not awaiting) the task: its outcome is already in the watcher, and a
        # cancellation of this subscriber must not be swallowed.
        await asyncio.wait({task})
