"""Every document the SDK sends is valid against the checked-in schema (drift fails here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from experience_plane_sdk import operations

SCHEMA = Path(__file__).parents[2] / "schema" / "schema.graphql"


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA.read_text())


@pytest.mark.parametrize("name", sorted(operations.ALL))
def test_operation_is_valid_against_the_schema(schema: GraphQLSchema, name: str) -> None:
    document = parse(operations.ALL[name])
    assert validate(schema, document) == []
    names = [d.name.value for d in document.definitions if hasattr(d, "operation") and d.name]
    assert names == [name]


def test_every_root_field_is_used(schema: GraphQLSchema) -> None:
    """A root field added to the schema is a field the SDK does not offer yet."""
    roots = {
        f"{kind}.{name}"
        for kind, root in (
            ("query", schema.query_type),
            ("mutation", schema.mutation_type),
            ("subscription", schema.subscription_type),
        )
        if root is not None
        for name in root.fields
    }
    used = {
        f"{definition.operation.value}.{selection.name.value}"
        for document in operations.ALL.values()
        for definition in parse(document).definitions
        if hasattr(definition, "operation")
        for selection in definition.selection_set.selections
        if hasattr(selection, "name")
    }
    assert roots <= used, roots - used


def test_idempotency_key_argument_is_declared_where_the_schema_has_one(
    schema: GraphQLSchema,
) -> None:
    """Where the schema has an `idempotencyKey` argument (on a mutation or its input), the
    SDK's mutation passes it (as an optional variable; the header carries the same key)."""
    mutation = schema.mutation_type
    assert mutation is not None
    for field_name, document in (
        ("uploadContent", operations.UPLOAD_CONTENT),
        ("createDataMash", operations.CREATE_DATA_MASH),
    ):
        field = mutation.fields[field_name]
        has_argument = "idempotencyKey" in field.args
        input_arg = field.args.get("input")
        input_type = getattr(getattr(input_arg, "type", None), "of_type", None)
        has_input_field = input_type is not None and "idempotencyKey" in input_type.fields
        if has_argument or has_input_field:
            assert "idempotencyKey" in document, f"{field_name} should send idempotencyKey"
