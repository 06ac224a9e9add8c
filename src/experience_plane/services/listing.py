"""Listing a caller's executions as cursor-paged windows of one newest-first order.

Two sources give the order. A Runtime with the contract's list endpoint is the truth: its list
holds every execution of the tenant, whoever started it, with a fresh status (`RuntimeList`
reads it). Against a Runtime without one, the Experience Plane's own index of the executions it
started (`experience_plane.index`) answers, and the executions on the page whose last known
status was not terminal are read again (through the tracker) and the index updated.

Paging follows the Relay connection specification: `first`/`after` pages forward, `last`/
`before` backward, both cursors may bound one window; `hasNextPage`/`hasPreviousPage` are exact
(one more item is read, or one cheap look past the cursor). The Runtime's list only pages forward
and filters nothing, so over it the filters are applied to what is read and a backward page, a
count or a sparse filter reads the list from its start as far as it must: cheap near the top of
the list, which is where a UI works, and linear in the executions passed otherwise. The index
reads each page with one range read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from experience_plane.auth import Principal
from experience_plane.executions import ExecutionTracker
from experience_plane.index import (
    ExecutionFilter,
    ExecutionIndex,
    IndexUnavailable,
    InvalidCursor,
    Listed,
    ListingSource,
    Position,
    Scope,
    decode_cursor,
    encode_cursor,
    microseconds,
)
from experience_plane.runtime import (
    ExecutionStatus,
    RuntimeClient,
    RuntimeClientError,
    RuntimeRejected,
)
from experience_plane.services.errors import InvalidInputError, ServiceError

__all__ = [
    "DEFAULT_EXECUTIONS_PAGE",
    "MAX_EXECUTIONS_PAGE",
    "TENANT_ADMIN_ROLE",
    "ExecutionEdge",
    "ExecutionsPage",
    "ListingSource",
    "PageRequest",
    "RuntimeList",
    "edges_of",
    "listing_error",
    "read_page",
    "refreshed",
    "scope_of",
]

logger = logging.getLogger(__name__)

TENANT_ADMIN_ROLE = "tenant-admin"
"""The role whose holders list their whole tenant's executions, not only their own."""
DEFAULT_EXECUTIONS_PAGE = 20
MAX_EXECUTIONS_PAGE = 100
"""The most executions one page may ask for (`first` or `last`)."""
RUNTIME_PAGE = 100
"""Executions asked of the Runtime's list at a time while scanning it."""
INDEX_UNAVAILABLE_MESSAGE = "The list of executions is unavailable right now; try again later."


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page: `first` after the `after` cursor, or `last` before the `before` cursor (a
    cursor on each side bounds the window; neither count: `DEFAULT_EXECUTIONS_PAGE` first)."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionEdge:
    """One execution of a page, its cursor, and the user it ran for (None when unknown)."""

    cursor: str
    execution: ExecutionStatus
    user_id: str | None


class ExecutionsPage:
    """A page of executions, newest first, with what a Relay connection says about it.

    `total_count()` counts every execution the filter lets through, on demand: a page that does
    not show the total does not pay for it.
    """

    __slots__ = ("_count", "_total", "edges", "has_next_page", "has_previous_page")

    def __init__(
        self,
        edges: Sequence[ExecutionEdge],
        *,
        has_next_page: bool,
        has_previous_page: bool,
        count: Callable[[], Awaitable[int]],
    ) -> None:
        self.edges = tuple(edges)
        self.has_next_page = has_next_page
        self.has_previous_page = has_previous_page
        self._count = count
        self._total: int | None = None

    @property
    def start_cursor(self) -> str | None:
        """The first edge's cursor (None for an empty page)."""
        return self.edges[0].cursor if self.edges else None

    @property
    def end_cursor(self) -> str | None:
        """The last edge's cursor (None for an empty page)."""
        return self.edges[-1].cursor if self.edges else None

    async def total_count(self) -> int:
        """How many executions pass the filter, whatever the page (counted once)."""
        if self._total is None:
            self._total = await self._count()
        return self._total


def scope_of(principal: Principal) -> Scope:
    """What a caller may list: their own executions, their tenant's with `TENANT_ADMIN_ROLE`."""
    user = None if TENANT_ADMIN_ROLE in principal.roles else principal.user_id
    return Scope(principal.tenant_id, user)


def _count_argument(value: int | None, name: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_EXECUTIONS_PAGE:
        raise InvalidInputError(
            f"{name} must be between 0 and {MAX_EXECUTIONS_PAGE}, got {value}.", field=name
        )
    return value


def _cursor_argument(value: str | None, name: str) -> Position | None:
    if value is None:
        return None
    try:
        return decode_cursor(value)
    except InvalidCursor as exc:
        raise InvalidInputError(
            f"{name} is not a cursor of this list: pass a cursor a page of executions returned.",
            field=name,
        ) from exc


async def read_page(
    source: ListingSource, scope: Scope, filter: ExecutionFilter, request: PageRequest
) -> tuple[list[Listed], bool, bool]:
    """The page `request` asks for: its executions (list order), whether there is a next page
    and whether there is a previous one. Raises `InvalidInputError` for bad arguments (both
    `first` and `last`, a count out of range, a cursor this service did not issue)."""
    first = _count_argument(request.first, "first")
    last = _count_argument(request.last, "last")
    if first is not None and last is not None:
        raise InvalidInputError("Pass first or last, not both.", field="last")
    after = _cursor_argument(request.after, "after")
    before = _cursor_argument(request.before, "before")
    if last is None:
        wanted = DEFAULT_EXECUTIONS_PAGE if first is None else first
        rows = list(await source.head(scope, filter, after=after, before=before, limit=wanted + 1))
        has_next = len(rows) > wanted
        rows = rows[:wanted]
        has_previous = after is not None and bool(
            await source.head(scope, filter, after=None, before=after, limit=1)
        )
        return rows, has_next, has_previous
    rows = list(await source.tail(scope, filter, after=after, before=before, limit=last + 1))
    has_previous = len(rows) > last
    rows = rows[len(rows) - last :]
    has_next = before is not None and bool(
        await source.head(scope, filter, after=before, before=None, limit=1)
    )
    return rows, has_next, has_previous


def edges_of(rows: Sequence[Listed]) -> list[ExecutionEdge]:
    """The edges of a page's executions."""
    return [ExecutionEdge(encode_cursor(row.position), row.status, row.user_id) for row in rows]


class RuntimeList:
    """`ListingSource` over the Runtime's own list (`GET /api/executions`), read forward in
    pages of `RUNTIME_PAGE`; each position keeps the Runtime's cursor of the page it was read
    from as its hint, so a page after it resumes there instead of at the top.

    Raises `ListUnsupported` (from the client) when the Runtime has no list.
    """

    def __init__(self, client: RuntimeClient) -> None:
        self._client = client

    async def head(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
    ) -> Sequence[Listed]:
        """The first `limit` executions between the positions, read from the list."""
        found: list[Listed] = []
        if limit <= 0:
            return found
        page_size = RUNTIME_PAGE if filter.by_content else min(RUNTIME_PAGE, limit + 2)
        async for item in self._window(scope, filter, after, before, page_size):
            found.append(item)
            if len(found) == limit:
                break
        return found

    async def tail(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
    ) -> Sequence[Listed]:
        """The last `limit` executions between the positions: the window read to its end."""
        if limit <= 0:
            return []
        kept: deque[Listed] = deque(maxlen=limit)
        async for item in self._window(scope, filter, after, before, RUNTIME_PAGE):
            kept.append(item)
        return list(kept)

    async def count(self, scope: Scope, filter: ExecutionFilter) -> int:
        """How many executions pass the filter: the list read to its end (or to
        `created_after`)."""
        total = 0
        async for _ in self._window(scope, filter, None, None, RUNTIME_PAGE):
            total += 1
        return total

    async def _window(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        after: Position | None,
        before: Position | None,
        page_size: int,
    ) -> AsyncIterator[Listed]:
        """The executions passing `filter` strictly after `after` and before `before`, in list
        order. Positions are found by id (the Runtime's tie order need not be ours); one that
        has gone is passed by its creation time."""
        skipping = after is not None
        async for item in self._read(scope, after.hint if after is not None else None, page_size):
            position = item.position
            if after is not None and skipping:
                if position.execution_id == after.execution_id:
                    skipping = False
                    continue
                if position.created_us >= after.created_us:
                    continue
                skipping = False
            if before is not None and (
                position.execution_id == before.execution_id
                or position.created_us < before.created_us
            ):
                return
            after_us = filter.after_us
            if after_us is not None and position.created_us <= after_us:
                return  # newest first: everything further is older still
            if filter.matches(item):
                yield item

    async def _read(
        self, scope: Scope, cursor: str | None, page_size: int
    ) -> AsyncIterator[Listed]:
        while True:
            try:
                page = await self._client.list_executions(
                    scope.tenant_id, user_id=scope.user_id, limit=page_size, cursor=cursor
                )
            except RuntimeRejected as exc:
                if cursor is not None and exc.status_code == 422:
                    raise InvalidCursor("the Runtime refused the cursor's position") from exc
                raise
            for item in page.executions:
                status = item.status
                created = microseconds(status.created_at) if status.created_at else 0
                position = Position(created, status.execution_id, cursor)
                yield Listed(status, item.user_id, position)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


async def refreshed(
    rows: Sequence[Listed], tenant_id: str, tracker: ExecutionTracker, index: ExecutionIndex
) -> list[Listed]:
    """The index's rows with every unfinished status read again (through the tracker: a
    watched execution's is already known), and the index updated with what changed. A read
    that fails keeps the last known status: the list still answers while the Runtime does not."""

    async def refresh(row: Listed) -> Listed:
        if row.status.state.is_terminal:
            return row
        try:
            current = (await tracker.current(tenant_id, row.status.execution_id)).status
        except RuntimeClientError as exc:
            logger.info("listing %s: status not refreshed (%s)", row.status.execution_id, exc)
            return row
        if current.created_at is None:
            current = _with_created(current, row.status)
        if current != row.status:
            try:
                await index.update(tenant_id, current)
            except IndexUnavailable as exc:
                logger.warning("the execution index missed an update: %s", exc)
        return Listed(current, row.user_id, row.position)

    return list(await asyncio.gather(*(refresh(row) for row in rows)))


def _with_created(status: ExecutionStatus, known: ExecutionStatus) -> ExecutionStatus:
    return replace(status, created_at=known.created_at)


def listing_error(exc: BaseException) -> ServiceError | None:
    """The service error a listing failure of the index or a cursor is, None for others."""
    if isinstance(exc, IndexUnavailable):
        return ServiceError(INDEX_UNAVAILABLE_MESSAGE)
    if isinstance(exc, InvalidCursor):
        return InvalidInputError(
            "The cursor is not a position of this list: pass a cursor a page returned.",
            field="after",
        )
    return None
