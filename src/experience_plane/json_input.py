"""Reading JSON that clients send, the one way every surface does it: request bodies, GET
parameters and multipart parts on `/graphql`, REST bodies, and WebSocket messages.

`loads` accepts only what can be handled all the way down: UTF-8 (a leading byte order mark is
ignored), strict JSON (no `NaN` or `Infinity`, no number beyond a double's range), containers
nested at most `MAX_DEPTH` deep, at most `max_bytes`, and no string (or object key) holding a
lone surrogate (`"\\ud800"`, which no UTF-8 encoder downstream can write). Everything else
raises `JsonInputError` with a message for people and a stable `reason`; each surface answers
it in its own shape (a 400, or a WebSocket close code with a reason), never a 500 or a dropped
socket.
"""

from __future__ import annotations

import json
import math
import re
from enum import StrEnum
from typing import Any, NoReturn

__all__ = ["MAX_DEPTH", "JsonInputError", "JsonRefusal", "has_lone_surrogate", "loads"]

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (the top-level value is depth 1); far
beyond any real request, far below where a recursive reader downstream would give out."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_BOM = "\ufeff"


class JsonRefusal(StrEnum):
    """Why JSON input was refused (the `reason` clients see)."""

    MALFORMED = "malformed"
    """Not JSON at all, or not UTF-8."""
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    LONE_SURROGATE = "lone_surrogate"


class JsonInputError(ValueError):
    """JSON input refused: `message` for people, `reason` for programs."""

    def __init__(self, message: str, reason: JsonRefusal) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason

    @property
    def malformed(self) -> bool:
        """True when the input is not JSON at all; False when it is JSON beyond a limit."""
        return self.reason is JsonRefusal.MALFORMED


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds a surrogate code point (decoded JSON pairs them into one
    character, so any left is a lone one)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def loads(
    data: str | bytes | bytearray, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH
) -> Any:
    """The value `data` holds; raises `JsonInputError` when it is refused (see the module)."""
    if isinstance(data, str):
        text = data
        if has_lone_surrogate(text):
            _refuse_surrogate()
        size = len(text.encode("utf-8")) if max_bytes is not None else 0
    else:
        size = len(data)
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonInputError("The JSON is not valid UTF-8.", JsonRefusal.MALFORMED) from exc
    if max_bytes is not None and size > max_bytes:
        raise JsonInputError(
            f"The JSON is larger than the limit of {max_bytes} bytes.", JsonRefusal.TOO_LARGE
        )
    try:
        value = json.loads(
            text.removeprefix(_BOM), parse_constant=_not_json, parse_float=_finite_float
        )
    except json.JSONDecodeError as exc:
        raise JsonInputError(
            f"The JSON is malformed: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            JsonRefusal.MALFORMED,
        ) from exc
    except RecursionError as exc:
        raise _too_deep(max_depth) from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise JsonInputError(
            "A number in the JSON has too many digits.", JsonRefusal.TOO_LARGE
        ) from exc
    # Text holds no surrogate (checked, or decoded from UTF-8): only a `\u` escape makes one.
    _check(value, max_depth, surrogates="\\u" in text)
    return value


def _not_json(constant: str) -> NoReturn:
    # Python reads NaN, Infinity and -Infinity; JSON has no such values.
    raise json.JSONDecodeError(f"{constant} is not a JSON value", constant, 0)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):  # 1e999: no double holds it, and no JSON encoder writes it back
        raise json.JSONDecodeError(f"{literal[:20]} is out of range", literal, 0)
    return value


def _too_deep(max_depth: int) -> JsonInputError:
    return JsonInputError(
        f"The JSON is nested more than {max_depth} levels deep.", JsonRefusal.TOO_DEEP
    )


def _refuse_surrogate() -> NoReturn:
    raise JsonInputError(
        "The JSON holds a string with a lone surrogate (such as \\ud800), which is not text.",
        JsonRefusal.LONE_SURROGATE,
    )


def _check(value: Any, max_depth: int, *, surrogates: bool) -> None:
    """Walk `value` without recursion: nesting within `max_depth`, and (when `surrogates`
    may be there) no string holding one."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise _too_deep(max_depth)
            for key, child in item.items():
                if surrogates and has_lone_surrogate(key):
                    _refuse_surrogate()
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise _too_deep(max_depth)
            stack.extend((child, depth + 1) for child in item)
        elif surrogates and isinstance(item, str) and has_lone_surrogate(item):
            _refuse_surrogate()
