"""The Relay connection parts every paged list of the schema shares: `PageInfo`, the arguments."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from experience_plane.services.pagination import Page


@strawberry.type(description="Where a page sits in the whole list (the Relay specification).")
class PageInfo:
    """Whether there is more on either side, and the cursors to continue from."""

    has_next_page: bool = strawberry.field(description="True when items follow this page.")
    has_previous_page: bool = strawberry.field(description="True when items come before this page.")
    start_cursor: str | None = strawberry.field(
        description=(
            "The cursor of the page's first item (pass it as `before` for the page before); "
            "null for an empty page."
        )
    )
    end_cursor: str | None = strawberry.field(
        description=(
            "The cursor of the page's last item (pass it as `after` for the page after); null "
            "for an empty page."
        )
    )

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        """The page info of a page read by `services.pagination.read_page`."""
        return cls(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        )


def first_argument(maximum: int, default: int) -> Any:
    """The `first` argument of a paged field."""
    return strawberry.argument(
        description=(
            f"Read the first this many items (1 to {maximum}) after `after`; without `first` "
            f"or `last`, {default}."
        )
    )


AfterArgument = Annotated[
    str | None,
    strawberry.argument(description="Read the items after this cursor (an edge's `cursor`)."),
]
BeforeArgument = Annotated[
    str | None,
    strawberry.argument(description="Read the items before this cursor (an edge's `cursor`)."),
]


def last_argument(maximum: int) -> Any:
    """The `last` argument of a paged field."""
    return strawberry.argument(
        description=(
            f"Read the last this many items (1 to {maximum}) before `before` (or the list's "
            "end); not with `first`."
        )
    )
