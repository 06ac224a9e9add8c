"""Value types, type unification and column profiles."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_runtime.realms.content import parse_csv
from reference_runtime.realms.tabular import (
    Table,
    coerce,
    profile_column,
    profile_table,
    unify_types,
    unique_names,
    value_type,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", "integer"),
        ("-7", "integer"),
        (" 12 ", "integer"),
        ("3.25", "number"),
        ("1e3", "number"),
        ("true", "boolean"),
        ("FALSE", "boolean"),
        ("2024-02-29", "date"),
        ("2023-02-29", "string"),
        ("2024-01-02T03:04:05Z", "datetime"),
        ("2024-01-02 03:04", "datetime"),
        ("007", "string"),
        ("hello", "string"),
        ("", None),
        ("NULL", None),
        ("n/a", None),
        (None, None),
        (True, "boolean"),
        (5, "integer"),
        (5.0, "number"),
        ({"a": 1}, "string"),
    ],
)
def test_value_type(value: object, expected: str | None) -> None:
    assert value_type(value) == expected


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ([], "empty"),
        (["empty"], "empty"),
        (["integer"], "integer"),
        (["integer", "number"], "number"),
        (["date", "datetime"], "datetime"),
        (["integer", "date"], "string"),
        (["boolean", "integer"], "string"),
        (["string", "empty"], "string"),
    ],
)
def test_unify_types(types: list[str], expected: str) -> None:
    assert unify_types(types) == expected


def test_profile_column_counts_nulls_and_distinct_values_across_spellings() -> None:
    profile = profile_column("n", ["1", 1, "2", "", None, "null", "2"])
    assert (profile.type, profile.null_count, profile.distinct_count) == ("integer", 3, 2)


def test_coerce_follows_the_field_type_and_keeps_what_does_not_fit_as_text() -> None:
    assert coerce("42", "integer") == 42
    assert coerce("42", "number") == 42.0
    assert coerce("yes-ish", "integer") == "yes-ish"
    assert coerce("true", "boolean") is True
    assert coerce("", "string") is None
    assert coerce(7, "string") == "7"


def test_unique_names_fills_blanks_and_numbers_repeats() -> None:
    assert unique_names(["a", "", "a", " b "]) == ["a", "column_2", "a_2", "b"]


# Property: profiling CSV written from typed columns finds the types, nulls and row count back.

_integers = st.integers(min_value=-(10**12), max_value=10**12).map(str)
_numbers = st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:.3f}")
_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)).map(date.isoformat)
_datetimes = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.isoformat(timespec="seconds")
)
_booleans = st.booleans().map(lambda b: "true" if b else "false")
_words = st.text(alphabet="abcdefghij", min_size=1, max_size=8)
_KINDS = {
    "integer": _integers,
    "number": _numbers,
    "date": _dates,
    "datetime": _datetimes,
    "boolean": _booleans,
    "string": _words,
}


@st.composite
def typed_columns(draw: st.DrawFn) -> tuple[list[str], list[list[str | None]]]:
    kinds = draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=1, max_size=4))
    rows = draw(st.integers(min_value=1, max_value=12))
    columns = [
        draw(st.lists(st.one_of(st.none(), _KINDS[kind]), min_size=rows, max_size=rows))
        for kind in kinds
    ]
    return kinds, columns


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_columns())
def test_profiles_of_generated_csv_recover_types_nulls_and_row_count(
    generated: tuple[list[str], list[list[str | None]]],
) -> None:
    kinds, columns = generated
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # A leading row number keeps rows of nothing but nulls from being blank lines.
    writer.writerow(["row", *(f"c{i}" for i in range(len(kinds)))])
    for number, row in enumerate(zip(*columns, strict=True)):
        writer.writerow([number, *("" if value is None else value for value in row)])
    table = parse_csv(buffer.getvalue(), ",")
    profiles = profile_table(table)
    assert len(table.rows) == len(columns[0])
    assert profiles[0].type == "integer"
    for kind, values, profile in zip(kinds, columns, profiles[1:], strict=True):
        present = [v for v in values if v is not None]
        assert profile.null_count == len(values) - len(present)
        assert profile.distinct_count == len(set(present)) or kind in ("number", "datetime")
        assert profile.distinct_count <= len(present)
        assert profile.type == (kind if present else "empty"), (values, profile)


@given(st.lists(st.one_of(st.none(), st.integers(), st.floats(allow_nan=False)), max_size=40))
def test_integers_with_numbers_profile_as_number_and_nulls_are_counted(
    values: list[int | float | None],
) -> None:
    profile = profile_table(Table(columns=["x"], rows=[[v] for v in values]))[0]
    present = [v for v in values if v is not None]
    assert profile.null_count == len(values) - len(present)
    if not present:
        assert profile.type == "empty"
    elif any(isinstance(v, float) for v in present):
        assert profile.type == "number"
    else:
        assert profile.type == "integer"
