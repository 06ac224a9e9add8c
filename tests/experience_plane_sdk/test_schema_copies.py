"""The SDK's copies of the schema's enums match the checked-in SDL.

The SDK imports nothing from the service, so it keeps its own table of error codes and its own
`ExecutionState`; these tests fail when the schema gains (or loses) a value the SDK does not know.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLEnumType, GraphQLSchema, build_schema

from experience_plane_sdk import ApiProtocolError, ExecutionState, FailureCode
from experience_plane_sdk.errors import error_for_code

SCHEMA = Path(__file__).parents[2] / "schema" / "schema.graphql"


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA.read_text())


def enum_values(schema: GraphQLSchema, name: str) -> list[str]:
    enum = schema.get_type(name)
    assert isinstance(enum, GraphQLEnumType), name
    return list(enum.values)


def test_every_error_code_of_the_schema_has_its_own_typed_error(schema: GraphQLSchema) -> None:
    codes = enum_values(schema, "ErrorCode")
    assert codes, "the schema has no error codes"
    for code in codes:
        error = error_for_code(code, "what went wrong")
        assert not isinstance(error, ApiProtocolError), f"the SDK does not know {code}"
        assert error.code == code
        assert type(error).code == code, f"{type(error).__name__} is not the class for {code}"


def test_the_execution_states_are_the_schemas(schema: GraphQLSchema) -> None:
    assert [state.value for state in ExecutionState] == enum_values(schema, "ExecutionState")


def test_the_failure_codes_are_the_schemas(schema: GraphQLSchema) -> None:
    assert [code.value for code in FailureCode] == enum_values(schema, "FailureCode")
