"""The schema's object types are derived from the domain's dataclasses: same fields, same types,
the descriptions REST shows, and every field described."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Annotated, get_args, get_origin, get_type_hints

import pytest
import strawberry
from graphql import GraphQLObjectType
from pydantic import Field, TypeAdapter

from experience_plane import runtime
from experience_plane.graphql.objects import schema_type
from experience_plane.graphql.schema import build_schema
from experience_plane.strawberry_adapter import graphql_core_schema

DERIVED = (
    runtime.ColumnProfile,
    runtime.SourceColumn,
    runtime.CanonicalField,
    runtime.JoinKey,
    runtime.QualityReport,
)
SCALARS = {str: "String", int: "Int", float: "Float", bool: "Boolean"}
# The one field whose GraphQL type is not its domain type's: an id.
OVERRIDES = {("SourceColumn", "file_id"): "ID!"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _expected(hint: object) -> str:
    """The GraphQL type a domain field's hint should have."""
    if get_origin(hint) is Annotated:
        return _expected(get_args(hint)[0])
    args = get_args(hint)
    if type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        return _expected(inner).removesuffix("!")
    if get_origin(hint) is tuple:
        return f"[{_expected(args[0])}]!"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return f"{hint.__name__}!"
    assert isinstance(hint, type)
    return f"{SCALARS[hint]}!"


@pytest.mark.parametrize("domain", DERIVED, ids=lambda domain: domain.__name__)
def test_a_derived_type_has_the_domain_fields_types_and_rest_descriptions(domain: type) -> None:
    schema = graphql_core_schema(build_schema())
    derived = schema.type_map[domain.__name__]
    assert isinstance(derived, GraphQLObjectType)
    assert derived.description == inspect.getdoc(domain)
    rest = TypeAdapter(domain).json_schema()
    assert rest["description"] == derived.description
    hints = get_type_hints(domain, include_extras=True)
    names = [field.name for field in dataclasses.fields(domain)]
    assert list(derived.fields) == [_camel(name) for name in names]
    for name in names:
        field = derived.fields[_camel(name)]
        expected = OVERRIDES.get((domain.__name__, name)) or _expected(hints[name])
        assert str(field.type) == expected, name
        assert field.description, name
        # A field REST describes has the same text in both surfaces.
        shared = rest["properties"][name].get("description")
        if shared is not None:
            assert field.description == shared, name


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
