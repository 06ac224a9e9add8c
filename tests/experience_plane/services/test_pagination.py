"""Paging a list read by offset and limit: forwards, backwards, and cursors that stay valid."""

from __future__ import annotations

import base64

import pytest

from experience_plane.services import InvalidInputError
from experience_plane.services.pagination import (
    Page,
    PageRequest,
    decode_cursor,
    encode_cursor,
    read_page,
)

ITEMS = [f"r{index}" for index in range(10)]


class List:
    """A list read by offset and limit, as the Runtime reads records; counts the reads."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.reads: list[tuple[int, int]] = []

    async def read(self, offset: int, limit: int) -> Page[str]:
        self.reads.append((offset, limit))
        return Page(offset=offset, items=self.items[offset : offset + limit], total=len(self.items))


async def page_of(request: PageRequest, items: list[str] = ITEMS) -> Page[str]:
    return await read_page(request, List(items).read)


def test_a_cursor_is_opaque_and_reads_back_as_its_position() -> None:
    assert "7" not in encode_cursor(7)
    assert [decode_cursor(encode_cursor(n), field="after") for n in (0, 7, 123456)] == [
        0,
        7,
        123456,
    ]


@pytest.mark.parametrize(
    "cursor",
    [
        "bogus",
        "",
        base64.urlsafe_b64encode(b"record:-1").decode(),
        base64.urlsafe_b64encode(b"record:007").decode(),
        base64.urlsafe_b64encode(b"execution:1").decode(),
        base64.urlsafe_b64encode(b"record:" + b"9" * 40).decode(),
        "cmVjb3JkOjE",  # record:1 without its padding: not one this service made
        "\u00e9t\u00e9",
    ],
)
def test_a_cursor_this_service_did_not_make_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="`before` is not a valid cursor") as caught:
        decode_cursor(cursor, field="before")
    assert caught.value.field == "before"


async def test_forwards_page_by_page_to_the_end() -> None:
    seen: list[str] = []
    after: str | None = None
    pages = []
    while True:
        page = await page_of(PageRequest(first=4, after=after))
        pages.append(page)
        seen.extend(page.items)
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == ITEMS
    assert [(p.has_previous_page, p.has_next_page) for p in pages] == [
        (False, True),
        (True, True),
        (True, False),
    ]


async def test_backwards_page_by_page_to_the_start() -> None:
    seen: list[str] = []
    before: str | None = None
    while True:
        page = await page_of(PageRequest(last=4, before=before))
        seen[:0] = page.items
        if not page.has_previous_page:
            break
        before = page.start_cursor
    assert seen == ITEMS


async def test_last_without_before_reads_the_length_first() -> None:
    records = List(ITEMS)
    page = await read_page(PageRequest(last=3), records.read)
    assert list(page.items) == ["r7", "r8", "r9"]
    assert records.reads == [(0, 0), (7, 3)]
    assert (page.has_previous_page, page.has_next_page) == (True, False)


async def test_cursors_of_one_page_work_on_the_next() -> None:
    middle = await page_of(PageRequest(first=3, after=encode_cursor(2)))
    assert list(middle.items) == ["r3", "r4", "r5"]
    before = await page_of(PageRequest(last=2, before=middle.start_cursor))
    after = await page_of(PageRequest(first=2, after=middle.end_cursor))
    assert (list(before.items), list(after.items)) == (["r1", "r2"], ["r6", "r7"])
    assert middle.cursor(0) == middle.start_cursor
    assert middle.cursor(2) == middle.end_cursor


async def test_after_and_before_bound_the_page_on_both_sides() -> None:
    page = await page_of(PageRequest(first=50, after=encode_cursor(1), before=encode_cursor(5)))
    assert list(page.items) == ["r2", "r3", "r4"]
    page = await page_of(PageRequest(last=50, after=encode_cursor(1), before=encode_cursor(5)))
    assert list(page.items) == ["r2", "r3", "r4"]
    # Crossed cursors: nothing between them.
    page = await page_of(PageRequest(first=5, after=encode_cursor(6), before=encode_cursor(2)))
    assert (list(page.items), page.start_cursor, page.end_cursor) == ([], None, None)


async def test_past_the_end_is_an_empty_page_with_items_before_it() -> None:
    page = await page_of(PageRequest(first=5, after=encode_cursor(40)))
    assert list(page.items) == []
    assert (page.has_previous_page, page.has_next_page) == (True, False)


async def test_an_empty_list_has_no_page_on_either_side() -> None:
    for request in (PageRequest(), PageRequest(last=5)):
        page = await page_of(request, [])
        assert (list(page.items), page.total, page.has_previous_page, page.has_next_page) == (
            [],
            0,
            False,
            False,
        )


async def test_no_size_reads_the_default_forwards() -> None:
    page = await page_of(PageRequest(default_size=4))
    assert list(page.items) == ITEMS[:4]


@pytest.mark.parametrize(
    ("request_", "message", "field"),
    [
        (PageRequest(first=1, last=1), "not both", "last"),
        (PageRequest(first=0), "`first` must be between 1 and 500, got 0", "first"),
        (PageRequest(last=501), "`last` must be between 1 and 500, got 501", "last"),
        (
            PageRequest(last=0, names=("limit", "after", "last", "before")),
            "`last` must be between",
            "last",
        ),
        (
            PageRequest(first=0, names=("limit", "after", "last", "before")),
            "`limit` must be between",
            "limit",
        ),
        (PageRequest(after="nope"), "`after` is not a valid cursor", "after"),
    ],
)
async def test_a_bad_request_is_invalid_input_naming_its_argument(
    request_: PageRequest, message: str, field: str
) -> None:
    records = List(ITEMS)
    with pytest.raises(InvalidInputError, match=message) as caught:
        await read_page(request_, records.read)
    assert caught.value.field == field
    assert records.reads == []
