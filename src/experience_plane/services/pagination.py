"""Paging a list read by offset and limit (a mash's records), forwards or backwards, by cursor.

The Runtime pages records by offset; both surfaces page them by opaque cursors (GraphQL's
`first`/`after` and `last`/`before`, REST's `after`/`before` with `limit`/`last`). A cursor is the
record's position, encoded so that clients treat it as opaque: it stays valid across pages and
requests, as the records of a mash never change. A cursor this service did not make is an
`InvalidInputError`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from experience_plane.services.errors import InvalidInputError

__all__ = ["Page", "PageRequest", "decode_cursor", "encode_cursor", "read_page"]

_PREFIX = "record:"
T = TypeVar("T")


def encode_cursor(position: int) -> str:
    """The opaque cursor of the item at `position` (0-based)."""
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str, *, field: str) -> int:
    """The position `cursor` stands for; `InvalidInputError` naming `field` for anything this
    service did not make."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        if text.startswith(_PREFIX):
            digits = text.removeprefix(_PREFIX)
            # Canonical only (no leading zeros, no other padding), and a sane position.
            if digits.isdigit() and len(digits) <= 15 and encode_cursor(int(digits)) == cursor:
                return int(digits)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidInputError(f"`{field}` is not a valid cursor: {cursor!r}.", field=field)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a client asked for: at most one of `first` and `last`, cursors on either side.

    With neither `first` nor `last`, the first `default_size` items after `after` are read.
    """

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    default_size: int = 50
    max_size: int = 500
    names: tuple[str, str, str, str] = ("first", "after", "last", "before")
    """How the arguments are called on the surface asking, for its error messages."""

    @property
    def size(self) -> int:
        """The page size asked for (`first`, `last` or the default)."""
        return self.first or self.last or self.default_size

    def checked(self) -> tuple[int | None, int | None, int, bool]:
        """(start, end, size, from_end): positions after `after` up to `before` (None: no
        bound), the page size, and whether the page is the last `size` of that range."""
        first_name, after_name, last_name, before_name = self.names
        if self.first is not None and self.last is not None:
            raise InvalidInputError(
                f"Pass `{first_name}` or `{last_name}`, not both.", field=last_name
            )
        for name, size in ((first_name, self.first), (last_name, self.last)):
            if size is not None and not 1 <= size <= self.max_size:
                raise InvalidInputError(
                    f"`{name}` must be between 1 and {self.max_size}, got {size}.", field=name
                )
        start = None if self.after is None else decode_cursor(self.after, field=after_name) + 1
        end = None if self.before is None else decode_cursor(self.before, field=before_name)
        if self.last is not None:
            return start, end, self.last, True
        return start, end, self.first if self.first is not None else self.default_size, False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of items: where it starts in the whole list, its items, the list's length."""

    offset: int
    items: Sequence[T]
    total: int

    @property
    def start_cursor(self) -> str | None:
        """The cursor of the page's first item; None for an empty page."""
        return encode_cursor(self.offset) if self.items else None

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the page's last item; None for an empty page."""
        return encode_cursor(self.offset + len(self.items) - 1) if self.items else None

    @property
    def has_next_page(self) -> bool:
        """True when items follow this page in the whole list."""
        return self.offset + len(self.items) < self.total

    @property
    def has_previous_page(self) -> bool:
        """True when items come before this page in the whole list."""
        return min(self.offset, self.total) > 0

    def cursor(self, index: int) -> str:
        """The cursor of the page's item at `index`."""
        return encode_cursor(self.offset + index)


Read = Callable[[int, int], Awaitable[Page[T]]]
"""Reads `limit` items from `offset`: (offset, limit) -> the page, with the list's total."""


async def read_page(request: PageRequest, read: Read[T]) -> Page[T]:
    """The page `request` asks for, read by offset and limit.

    Forwards, it is the first `size` items after `after` (and before `before`); backwards, the
    last `size` items before `before` (and after `after`). Without `before`, reading backwards
    takes one read of the list's length first (a read of no item).
    """
    start, end, size, from_end = request.checked()
    low = start or 0
    if from_end:
        if end is None:
            end = (await read(0, 0)).total
        offset = max(low, end - size)
        limit = max(0, end - offset)
    else:
        offset = low
        limit = size if end is None else max(0, min(size, end - low))
    if limit == 0:
        total = (await read(0, 0)).total
        return Page(offset=min(offset, total), items=(), total=total)
    return await read(offset, limit)
