"""Tables, value types and column profiles: the part of profiling that does not care about format.
Types are inferred from values, never from headers: a value is `integer`, `number`, `boolean`,
`date`, `datetime` or `string`, and a column's type is the narrowest one all its non-null values
fit (`integer` with `number` is `number`, `date` with `datetime` is `datetime`, anything else mixed
is `string`; a column with no values at all is `empty`). Empty strings and the usual null spellings
(`null`, `none`, `na`, `n/a`, `nan`) count as nulls.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

NULL_TOKENS = frozenset({"", "null", "none", "na", "n/a", "nan"})

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_BOOLEANS = {"true": True, "false": False}
# The field types whose values `coerce` converts; any other field holds text.
_CONVERTED_TYPES = frozenset({"integer", "number", "boolean"})

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of values under named columns; a missing value is `None`."""

    columns: list[str]
    rows: list[list[Any]]

    def column_values(self, index: int) -> Iterable[Any]:
        """The values of one column, top to bottom."""
        return (row[index] for row in self.rows)


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """What profiling learned about one column."""

    name: str
    type: str
    null_count: int
    distinct_count: int

    def as_json(self) -> dict[str, Any]:
        """The column as the artifact payload spells it."""
        return {
            "name": self.name,
            "type": self.type,
            "null_count": self.null_count,
            "distinct_count": self.distinct_count,
        }


def _has_leading_zero(digits: str) -> bool:
    # "007" is a code, not the number 7: keep such values as strings so nothing is lost.
    body = digits.lstrip("+-")
    return len(body) > 1 and body[0] == "0" and body[1].isdigit()


def is_null(value: Any) -> bool:
    """Whether a raw value counts as missing."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in NULL_TOKENS
    return isinstance(value, float) and math.isnan(value)


def value_type(value: Any) -> str | None:
    """The type of one raw value, or None when it is a null."""
    if is_null(value):
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if not isinstance(value, str):
        return "string"  # nested JSON objects and arrays
    text = value.strip()
    if text.lower() in _BOOLEANS:
        return "boolean"
    first = text[0]  # not empty: an empty string is a null
    if not (first.isdigit() or first in "+-."):
        return "string"  # every number, date and datetime starts so: skip their patterns
    if _INTEGER.fullmatch(text):
        return "string" if _has_leading_zero(text) else "integer"
    if _NUMBER.fullmatch(text):
        return "string" if _has_leading_zero(text.split(".")[0]) else "number"
    if _DATE.fullmatch(text):
        return "date" if _valid(date.fromisoformat, text) else "string"
    if _DATETIME.fullmatch(text):
        return "datetime" if _valid(datetime.fromisoformat, text) else "string"
    return "string"


def _valid(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def unify_types(types: Iterable[str]) -> str:
    """The narrowest type every one of `types` fits into (`empty` for none at all)."""
    found = {t for t in types if t != "empty"}
    if not found:
        return "empty"
    if len(found) == 1:
        return found.pop()
    if found <= {"integer", "number"}:
        return "number"
    if found <= {"date", "datetime"}:
        return "datetime"
    return "string"


def types_compatible(a: str, b: str) -> bool:
    """Whether values of types `a` and `b` can live in one field without turning into strings."""
    return "empty" in (a, b) or unify_types((a, b)) != "string" or a == b == "string"


def coerce(value: Any, target: str) -> JsonValue:
    """`value` as a JSON value of type `target`; a value that does not fit keeps its text form."""
    if is_null(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    if target not in _CONVERTED_TYPES:
        return as_text(value)  # every value of a text, date or datetime field is its text
    own = value_type(value)
    if target == "integer" and own == "integer":
        return int(value)
    if target == "number" and own in ("integer", "number"):
        return float(value)
    if target == "boolean" and own == "boolean":
        return value if isinstance(value, bool) else _BOOLEANS[value.strip().lower()]
    return as_text(value)


def as_text(value: Any) -> str:
    """The text form of a non-null raw value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def normalised_value(value: Any) -> Any:
    """A hashable form of a non-null value in which equal data compares equal (`"42"` and `42`)."""
    return _normalised(value, value_type(value))


def _normalised(value: Any, own: str | None) -> Any:
    """`normalised_value` for a value whose type is known (`coerce`'s conversions, once)."""
    if own == "integer":
        return int(value)
    if own == "number":
        return None if isinstance(value, float) and math.isinf(value) else float(value)
    if own == "boolean":
        return value if isinstance(value, bool) else _BOOLEANS[value.strip().lower()]
    return as_text(value)


class ColumnProfiler:
    """Profiles one column from its raw values as they come, one at a time.

    Only the distinct values are kept, so a column can be profiled while its file streams past.
    """

    __slots__ = ("distinct", "name", "nulls", "types")

    def __init__(self, name: str) -> None:
        self.name = name
        self.nulls = 0
        self.types: set[str] = set()
        self.distinct: set[Any] = set()

    def add(self, value: Any) -> None:
        """Count one raw value."""
        own = value_type(value)
        if own is None:
            self.nulls += 1
            return
        self.types.add(own)
        self.distinct.add(_normalised(value, own))

    def profile(self) -> ColumnProfile:
        """What the values seen so far say about the column."""
        return ColumnProfile(
            name=self.name,
            type=unify_types(self.types),
            null_count=self.nulls,
            distinct_count=len(self.distinct),
        )


def profile_column(name: str, values: Iterable[Any]) -> ColumnProfile:
    """Profile one column from its raw values."""
    profiler = ColumnProfiler(name)
    for value in values:
        profiler.add(value)
    return profiler.profile()


def profile_table(table: Table) -> list[ColumnProfile]:
    """Profile every column of a table."""
    return [
        profile_column(name, table.column_values(index)) for index, name in enumerate(table.columns)
    ]


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names made non-empty and unique (`name`, `name_2`, ...), keeping their order."""
    seen: dict[str, int] = {}
    result = []
    for index, raw in enumerate(names):
        name = raw.strip() or f"column_{index + 1}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        result.append(name if count == 1 else f"{name}_{count}")
    return result
