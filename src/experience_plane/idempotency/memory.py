"""`InMemoryIdempotencyStore`: the store of one process, with a TTL and a size bound."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from experience_plane.idempotency.errors import IdempotencyConflict
from experience_plane.idempotency.keys import IdempotencyKey
from experience_plane.idempotency.store import nothing_accepted

__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_TTL_SECONDS", "InMemoryIdempotencyStore"]

T = TypeVar("T")

DEFAULT_TTL_SECONDS = 24 * 3600.0
DEFAULT_MAX_ENTRIES = 100_000


class _LeaderGone(Exception):
    """The caller running `work` was cancelled: a waiting caller takes its place."""


@dataclass(slots=True)
class _InFlight(Generic[T]):
    fingerprint: str
    result: asyncio.Future[T]


@dataclass(slots=True)
class _Settled(Generic[T]):
    fingerprint: str
    expires_at: float
    # `done` False: the work failed with an unknown outcome; the key stays bound to its input
    # but holds no result, so a retry with the same input runs the work again.
    done: bool
    value: T | None = None


class InMemoryIdempotencyStore(Generic[T]):
    """An `IdempotencyStore` in this process's memory (see `store` for the semantics).

    Results and bindings live `ttl_seconds` from when the work ended; expired entries are
    dropped when met and swept every `sweep_seconds` (default: the TTL, at most a minute).
    Beyond `max_entries` the least recently used settled entries are evicted; entries still in
    flight never are (they are bounded by the requests running), so the store may exceed the
    bound by the number of submissions in progress. `releases_key(exc)` says which failures of
    `work` release the key (default `nothing_accepted`). `clock` is injectable for tests.

    Not shared between processes: a second replica needs a shared store implementing the same
    protocol. Until then the Runtime's own deduplication by key is the backstop.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        releases_key: Callable[[BaseException], bool] = nothing_accepted,
        sweep_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be positive and max_entries at least 1")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._releases_key = releases_key
        self._sweep_seconds = sweep_seconds if sweep_seconds is not None else min(ttl_seconds, 60)
        self._clock = clock
        self._next_sweep = clock() + self._sweep_seconds
        self._in_flight: dict[IdempotencyKey, _InFlight[T]] = {}
        self._settled: OrderedDict[IdempotencyKey, _Settled[T]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys the store holds (settled and in flight)."""
        return len(self._in_flight) + len(self._settled)

    async def run(
        self, key: IdempotencyKey, fingerprint: str, work: Callable[[], Awaitable[T]]
    ) -> T:
        """Run `work` once for `key`, or return its result (see `IdempotencyStore.run`)."""
        while True:
            now = self._clock()
            if now >= self._next_sweep:
                self._sweep(now)
            flight = self._in_flight.get(key)
            if flight is not None:
                if flight.fingerprint != fingerprint:
                    raise IdempotencyConflict(key)
                try:
                    # Shielded: a waiter that goes away must not cancel the first caller's work.
                    return await asyncio.shield(flight.result)
                except _LeaderGone:
                    continue  # the first caller was cancelled: this one runs the work instead
            settled = self._settled.get(key)
            if settled is not None and settled.expires_at <= now:
                del self._settled[key]
                settled = None
            if settled is not None:
                if settled.fingerprint != fingerprint:
                    raise IdempotencyConflict(key)
                if settled.done:
                    self._settled.move_to_end(key)
                    return settled.value  # type: ignore[return-value]  # done: a T was stored
                del self._settled[key]  # bound, no result: run the work again
            return await self._lead(key, fingerprint, work)

    async def _lead(
        self, key: IdempotencyKey, fingerprint: str, work: Callable[[], Awaitable[T]]
    ) -> T:
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = _InFlight(fingerprint, result)
        try:
            value = await work()
        except asyncio.CancelledError:
            self._settle(key, _Settled(fingerprint, self._expiry(), done=False))
            _fail(result, _LeaderGone())
            raise
        except BaseException as exc:
            if self._releases_key(exc):
                del self._in_flight[key]
            else:
                self._settle(key, _Settled(fingerprint, self._expiry(), done=False))
            _fail(result, exc)
            raise
        self._settle(key, _Settled(fingerprint, self._expiry(), done=True, value=value))
        result.set_result(value)
        return value

    def _expiry(self) -> float:
        return self._clock() + self.ttl_seconds

    def _settle(self, key: IdempotencyKey, entry: _Settled[T]) -> None:
        del self._in_flight[key]
        self._settled[key] = entry
        self._settled.move_to_end(key)
        while self._settled and len(self) > self.max_entries:
            self._settled.popitem(last=False)

    def _sweep(self, now: float) -> None:
        expired = [key for key, entry in self._settled.items() if entry.expires_at <= now]
        for key in expired:
            del self._settled[key]
        self._next_sweep = now + self._sweep_seconds


def _fail(result: asyncio.Future[T], exc: BaseException) -> None:
    """Fail the waiters' future; retrieving the exception at once keeps asyncio from logging
    "exception was never retrieved" when nobody was waiting."""
    result.set_exception(exc)
    result.exception()
