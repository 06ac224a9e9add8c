"""The schema's object types are derived from the domain's dataclasses: same fields, same types,
the descriptions REST shows, and every field described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
import strawberry
from pydantic import Field

from experience_plane.graphql.objects import schema_type


@dataclass(frozen=True)
class Cell:
    """A cell."""

    cell_id: str
    value: Annotated[float | None, Field(description="The value, if any.")]


@dataclass(frozen=True)
class Row:
    """A row."""

    cells: tuple[Cell, ...]
    note: str | None


def test_a_derived_type_converts_ids_lists_nesting_and_nullability() -> None:
    schema_type(Cell, types={"cell_id": strawberry.ID}, descriptions={"cell_id": "The cell's id."})
    row_type = schema_type(Row, descriptions={"cells": "Its cells.", "note": "A note."})

    @strawberry.type
    class Query:
        @strawberry.field(graphql_type=row_type)
        def row(self) -> Row:
            return Row(cells=(Cell("c1", 1.5), Cell("c2", None)), note=None)

    schema = strawberry.Schema(query=Query)
    sdl = str(schema)
    assert '"""A cell."""\ntype Cell {\n  """The cell\'s id."""\n  cellId: ID!\n' in sdl
    assert '  """The value, if any."""\n  value: Float\n}' in sdl
    assert '  """Its cells."""\n  cells: [Cell!]!\n\n  """A note."""\n  note: String\n}' in sdl
    # Resolvers return the domain values as they are.
    result = schema.execute_sync("{ row { cells { cellId value } note } }")
    assert result.errors is None
    assert result.data == {
        "row": {
            "cells": [{"cellId": "c1", "value": 1.5}, {"cellId": "c2", "value": None}],
            "note": None,
        }
    }


@dataclass(frozen=True)
class Undescribed:
    """Has a field nobody described."""

    a: str
    b: Annotated[int, Field(description="Described for REST.")]
    c: int


def test_a_domain_field_without_a_description_fails_at_once() -> None:
    with pytest.raises(ValueError, match="Undescribed: no description for c"):
        schema_type(Undescribed, descriptions={"a": "A."})


def test_a_field_described_twice_or_unknown_fails_at_once() -> None:
    with pytest.raises(ValueError, match="Undescribed: described twice: b"):
        schema_type(Undescribed, descriptions={"a": "A.", "b": "B.", "c": "C."})
    with pytest.raises(ValueError, match="Undescribed has no field d"):
        schema_type(Undescribed, descriptions={"a": "A.", "c": "C.", "d": "D."})


@dataclass(frozen=True)
class Orphan:
    """Nests a dataclass no type was derived from."""

    parent: Undescribed


@dataclass(frozen=True)
class Once:
    """Derived once only."""

    x: int


def test_a_nested_type_must_be_derived_first_and_a_class_only_once() -> None:
    with pytest.raises(TypeError, match="Orphan: derive Undescribed before"):
        schema_type(Orphan, descriptions={"parent": "The parent."})
    schema_type(Once, descriptions={"x": "X."})
    with pytest.raises(ValueError, match="Once is already derived"):
        schema_type(Once, descriptions={"x": "X."})
