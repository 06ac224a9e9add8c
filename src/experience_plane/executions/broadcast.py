"""A replaying fan-out of versioned items: one producer task publishes, any number subscribe.

Published items go into a bounded history in which an item's version is its position since the
broadcast began; subscribers are woken through an `asyncio.Event` that is swapped for a fresh one
at every change. A subscriber only remembers the next version it wants: it starts at the latest
item (or waits for the first), then replays each newer one in order, exactly once. A slow
subscriber therefore costs the producer and the other subscribers nothing (no queue per
subscriber, no back-pressure); one that falls more than `history` items behind resumes at the
oldest item kept. Both the execution watchers (`executions.watcher`) and the shared GraphQL
subscriptions (`graphql.sharing`) fan out through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["Broadcast"]

T = TypeVar("T")


class Broadcast(Generic[T]):
    """The versioned history of one producer's items, replayed to each subscriber.

    The producer calls `publish()` for each item and `finish()` when no more will come (with
    the error, if it failed). Subscribers iterate `subscribe()`: the latest item, then every
    newer one; the iteration ends after an item that `is_last` accepts, or once the producer
    has finished and the subscriber has replayed what came before, raising the producer's
    error if it had one. When the last subscriber leaves (closing its generator, cancellation),
    the producer task given to `start()` is cancelled unless it has finished.
    """

    def __init__(self, history: int, *, is_last: Callable[[T], bool] | None = None) -> None:
        if history < 1:
            raise ValueError(f"a broadcast keeps at least one item, not {history}")
        self.subscribers = 0
        self.finished = False
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self._limit = history
        self._is_last = is_last
        self._items: list[T] = []
        self._base = 0  # the version of _items[0], > 0 once the history has been trimmed
        self._ended = False  # an item `is_last` accepts has been published
        self._changed = asyncio.Event()

    @property
    def version(self) -> int:
        """How many items have been published."""
        return self._base + len(self._items)

    @property
    def latest(self) -> T | None:
        """The newest item, or None before the first."""
        return self._items[-1] if self._items else None

    def start(self, producer: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run `producer` (which publishes, then finishes) as this broadcast's task."""
        self.task = asyncio.create_task(producer, name=name)
        return self.task

    def publish(self, item: T) -> None:
        """Append `item` as the next version and wake every waiting subscriber."""
        items = self._items
        items.append(item)
        if len(items) > self._limit:
            del items[0]  # one item is published at a time, so one is dropped at a time
            self._base += 1
        # Decided once per item here rather than by every subscriber for every item.
        if self._is_last is not None and self._is_last(item):
            self._ended = True
        self._wake()

    def finish(self, error: BaseException | None = None) -> bool:
        """Mark the broadcast finished, with the producer's error if any, and wake every
        subscriber; True the first time, False (and nothing changes) afterwards."""
        if self.finished:
            return False
        self.finished = True
        self.error = error
        self._wake()
        return True

    async def subscribe(self) -> AsyncGenerator[T, None]:
        """This subscriber's view: the latest item (the first, when there is none yet), then
        each newer one in order; see the class for how it ends and what leaving does."""
        self.subscribers += 1
        try:
            position = max(self._base + len(self._items) - 1, 0)
            while True:
                if position < self._base + len(self._items):
                    base = self._base
                    if position < base:  # fell further behind than the history reaches
                        position = base
                    item = self._items[position - base]
                    position += 1
                    yield item
                elif self._ended:
                    return
                elif self.finished:
                    if self.error is not None:
                        raise self.error
                    return
                else:
                    # No suspension between the check above and binding the current event:
                    # a change swaps in a new event and sets this one, so no wake-up is lost.
                    await self._changed.wait()
        finally:
            self.subscribers -= 1
            if self.subscribers == 0:
                task = self.task
                if task is not None and not task.done() and not self.finished:
                    task.cancel()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
