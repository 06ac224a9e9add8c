"""What the execution index and the listing share: positions in the newest-first order, the
opaque cursors that name them, scopes, filters and entries.

Executions are listed newest first by *position*: creation time in microseconds, then execution
id (a total order, the same in SQLite, in Redis and in the listing of a Runtime's own list). A
cursor is a position made opaque (base64url of a small JSON document): it names the place after
(or before) which the next page starts, so executions created meanwhile never shift a page, and
it stays valid as long as the order does. A position may carry a `hint`, where a source that
pages by cursors of its own (the Runtime's list) finds it again.
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from experience_plane.runtime import ExecutionState, ExecutionStatus

__all__ = [
    "ExecutionFilter",
    "ExecutionIndex",
    "IndexEntry",
    "IndexUnavailable",
    "InvalidCursor",
    "Listed",
    "Position",
    "Scope",
    "decode_cursor",
    "encode_cursor",
    "microseconds",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR_VERSION = 1


def microseconds(moment: datetime) -> int:
    """`moment` (timezone-aware; naive is taken as UTC) in whole microseconds since the epoch,
    exactly (no float rounding)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def from_microseconds(value: int) -> datetime:
    """The UTC moment `value` microseconds after the epoch."""
    return _EPOCH + value * _MICROSECOND


class InvalidCursor(ValueError):
    """A cursor this service did not issue (or one mangled on the way)."""


class IndexUnavailable(Exception):
    """The index's store (Redis, or the SQLite file) cannot be used right now."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where an execution stands in the newest-first order; `hint` is the Runtime's page cursor
    where its list shows it (None when it came from the index, or from the list's first page)."""

    created_us: int
    execution_id: str
    hint: str | None = None

    @property
    def key(self) -> tuple[int, str]:
        """What the order compares: later (greater) is listed first."""
        return (self.created_us, self.execution_id)


def encode_cursor(position: Position) -> str:
    """The opaque cursor of `position`."""
    document: dict[str, object] = {
        "v": _CURSOR_VERSION,
        "t": position.created_us,
        "id": position.execution_id,
    }
    if position.hint is not None:
        document["h"] = position.hint
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position `cursor` names; `InvalidCursor` for anything `encode_cursor` did not write."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("not a cursor of this list") from exc
    if not isinstance(document, Mapping) or document.get("v") != _CURSOR_VERSION:
        raise InvalidCursor("not a cursor of this list")
    created, execution_id, hint = document.get("t"), document.get("id"), document.get("h")
    if (
        not isinstance(created, int)
        or isinstance(created, bool)
        or created < 0
        or not isinstance(execution_id, str)
        or not execution_id
        or (hint is not None and not isinstance(hint, str))
    ):
        raise InvalidCursor("not a cursor of this list")
    return Position(created, execution_id, hint)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose executions: a tenant's, narrowed to one user unless `user_id` is None."""

    tenant_id: str
    user_id: str | None


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """Which executions a list shows; an empty set filters nothing. `created_after` and
    `created_before` are exclusive bounds."""

    states: frozenset[ExecutionState] = frozenset()
    intent_types: frozenset[str] = frozenset()
    created_after: datetime | None = None
    created_before: datetime | None = None

    @property
    def after_us(self) -> int | None:
        """`created_after` in microseconds."""
        return microseconds(self.created_after) if self.created_after is not None else None

    @property
    def before_us(self) -> int | None:
        """`created_before` in microseconds."""
        return microseconds(self.created_before) if self.created_before is not None else None

    @property
    def by_content(self) -> bool:
        """Whether it filters by something an order range cannot express (state, intent)."""
        return bool(self.states or self.intent_types)

    def matches(self, listed: Listed) -> bool:
        """Whether `listed` passes every part of the filter."""
        status = listed.status
        created = listed.position.created_us
        return (
            (not self.states or status.state in self.states)
            and (not self.intent_types or (status.intent_type or "") in self.intent_types)
            and (self.after_us is None or created > self.after_us)
            and (self.before_us is None or created < self.before_us)
        )


@dataclass(frozen=True, slots=True)
class Listed:
    """One execution of a list: its (last known) status, its user and its position."""

    status: ExecutionStatus
    user_id: str | None
    position: Position


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What the index keeps of an execution the Experience Plane started: who started it, when,
    what, and its last known status (in full, so a finished execution is listed without asking
    the Runtime)."""

    tenant_id: str
    user_id: str
    status: ExecutionStatus
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(cls, tenant_id: str, user_id: str, status: ExecutionStatus) -> IndexEntry:
        """The entry of a status just accepted: created when the Runtime says, else now."""
        return cls(tenant_id, user_id, status, status.created_at or datetime.now(UTC))

    @property
    def created_us(self) -> int:
        """The creation time in microseconds, the first part of the position."""
        return microseconds(self.created_at)

    @property
    def intent_type(self) -> str:
        """The intent executed ("" when unknown)."""
        return self.status.intent_type or ""

    def listed(self) -> Listed:
        """The entry as a list shows it (its status with the creation time filled in)."""
        status = self.status
        if status.created_at is None:
            status = replace(status, created_at=self.created_at)
        return Listed(status, self.user_id, Position(self.created_us, status.execution_id))


class ListingSource(Protocol):
    """Where a list is read: windows of the newest-first order.

    `head` and `tail` read a window of the order: the executions of `scope` passing `filter`,
    strictly after `after` and strictly before `before` (either may be None), in list order
    (newest first); `head` gives its first `limit`, `tail` its last `limit`.
    """

    async def head(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
    ) -> Sequence[Listed]:
        """The first `limit` executions of the window."""
        ...

    async def tail(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
    ) -> Sequence[Listed]:
        """The last `limit` executions of the window, in list order."""
        ...

    async def count(self, scope: Scope, filter: ExecutionFilter) -> int:
        """How many executions of `scope` pass `filter`."""
        ...


class ExecutionIndex(ListingSource, Protocol):
    """The executions the Experience Plane started, per tenant and user, newest first, read
    as a `ListingSource`. Failures of the store raise `IndexUnavailable`."""

    async def record(self, entry: IndexEntry) -> None:
        """Add an execution (a repeat of one already recorded changes nothing)."""
        ...

    async def update(self, tenant_id: str, status: ExecutionStatus) -> None:
        """Keep `status` as the execution's last known one, unless the entry is unknown or
        already terminal (a terminal status never changes; an older reading must not undo it)."""
        ...

    async def aclose(self) -> None:
        """Release the store; the index cannot be used afterwards."""
        ...


class RangeReads(ABC):
    """`head` and `tail` of a store that reads one range of its ordered entries, `_window`,
    from either end."""

    @abstractmethod
    async def _window(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        after: Position | None,
        before: Position | None,
        limit: int,
        *,
        newest_first: bool,
    ) -> list[Listed]:
        """Up to `limit` entries of the window, from its newest end or from its oldest."""

    async def head(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
    ) -> Sequence[Listed]:
        """The first `limit` executions of the window: one range read, newest first."""
        return await self._window(scope, filter, after, before, limit, newest_first=True)

    async def tail(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
    ) -> Sequence[Listed]:
        """The last `limit` executions of the window: one range read, oldest first, reversed."""
        rows = await self._window(scope, filter, after, before, limit, newest_first=False)
        return rows[::-1]


TERMINAL_STATES: frozenset[str] = frozenset(
    state.value for state in ExecutionState if state.is_terminal
)
"""The states a status never leaves, by value."""
