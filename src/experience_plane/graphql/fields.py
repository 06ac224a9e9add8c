"""Typed shorthands for Strawberry's field decorators.
`strawberry.field(description=...)` is typed as returning `Any`, so using it as a decorator makes
mypy --strict report an untyped decorator; these wrappers give the decorator a precise type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

F = TypeVar("F", bound=Callable[..., Any])


def described_field(description: str) -> Callable[[F], F]:
    """`@strawberry.field(description=...)` for a resolver method."""
    return cast(Callable[[F], F], strawberry.field(description=description))


def described_subscription(description: str) -> Callable[[F], F]:
    """`@strawberry.subscription(description=...)` for a subscription resolver method."""
    return cast(Callable[[F], F], strawberry.subscription(description=description))
