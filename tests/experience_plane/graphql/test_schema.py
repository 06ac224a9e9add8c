"""The schema as clients see it: checked-in SDL, descriptions everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

from experience_plane.graphql.schema import build_schema, possible_types_json, schema_sdl
from experience_plane.services.execution_failures import FailureCode

SCHEMA_DIR = Path(__file__).parents[3] / "schema"
SCHEMA_PATH = SCHEMA_DIR / "schema.graphql"
POSSIBLE_TYPES_PATH = SCHEMA_DIR / "possible-types.json"
REGENERATE = "make schema"


def test_checked_in_schema_matches_the_code() -> None:
    checked_in = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
    assert checked_in == schema_sdl(), (
        f"schema/schema.graphql differs from the code; regenerate it with: {REGENERATE}"
    )


def test_checked_in_possible_types_match_the_code() -> None:
    checked_in = (
        POSSIBLE_TYPES_PATH.read_text(encoding="utf-8") if POSSIBLE_TYPES_PATH.exists() else ""
    )
    assert checked_in == possible_types_json(), (
        f"schema/possible-types.json differs from the code; regenerate it with: {REGENERATE}"
    )


def test_possible_types_list_every_interface_and_union_with_its_members() -> None:
    possible = json.loads(POSSIBLE_TYPES_PATH.read_text(encoding="utf-8"))
    assert possible["Artifact"] == ["ContentFile", "DataMash"]
    # Apollo's cache matches `... on Error { code message }` only for the members listed here.
    assert "UploadTooLargeError" in possible["Error"]
    assert "InvalidInputError" in possible["CreateDataMashResult"]
    assert "ExecutionAccepted" in possible["UploadContentResult"]
    schema = build_schema()._schema
    abstract = {
        name
        for name, named in schema.type_map.items()
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType)
    }
    assert set(possible) == abstract


def _missing_descriptions() -> list[str]:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, named_type in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(named_type, GraphQLScalarType) and name in {
            "String",
            "Int",
            "Float",
            "Boolean",
            "ID",
        }:
            continue
        if not named_type.description:
            missing.append(name)
        if isinstance(
            named_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType
        ):
            for field_name, field in named_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(named_type, GraphQLEnumType):
            for value_name, value in named_type.values.items():
                if not value.description:
                    missing.append(f"{name}.{value_name}")
        if isinstance(named_type, GraphQLUnionType) and not named_type.description:
            missing.append(name)
    return missing


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    assert _missing_descriptions() == []


@pytest.mark.parametrize(
    ("type_name", "members"),
    [
        (
            "UploadContentResult",
            {
                "ExecutionAccepted",
                "InvalidInputError",
                "UploadTooLargeError",
                "RuntimeUnavailableError",
                "RuntimeTimeoutError",
                "RuntimeRejectedError",
                "RateLimitedError",
                "IdempotencyConflictError",
                "RuntimeOutcomeUnknownError",
            },
        ),
        (
            "CreateDataMashResult",
            {
                "ExecutionAccepted",
                "InvalidInputError",
                "RuntimeUnavailableError",
                "RuntimeTimeoutError",
                "RuntimeRejectedError",
                "RateLimitedError",
                "IdempotencyConflictError",
                "RuntimeOutcomeUnknownError",
            },
        ),
    ],
)
def test_mutations_return_result_unions(type_name: str, members: set[str]) -> None:
    union = build_schema()._schema.type_map[type_name]
    assert isinstance(union, GraphQLUnionType)
    assert {member.name for member in union.types} == members


def test_error_types_share_the_error_interface_with_a_stable_code() -> None:
    schema = build_schema()._schema
    error = schema.type_map["Error"]
    assert isinstance(error, GraphQLInterfaceType)
    assert set(error.fields) == {"code", "message"}
    codes = schema.type_map["ErrorCode"]
    assert isinstance(codes, GraphQLEnumType)
    assert {
        "INVALID_INPUT",
        "RUNTIME_UNAVAILABLE",
        "RUNTIME_TIMEOUT",
        "RUNTIME_REJECTED",
        "UPLOAD_TOO_LARGE",
    } <= set(codes.values)


def test_node_types_implement_node_and_execution_keeps_its_own_id() -> None:
    schema = build_schema()._schema
    node = schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    assert sorted(t.name for t in schema.get_possible_types(node)) == [
        "ContentFile",
        "DataMash",
        "Execution",
    ]
    possible = json.loads(POSSIBLE_TYPES_PATH.read_text(encoding="utf-8"))
    assert possible["Node"] == ["ContentFile", "DataMash", "Execution"]
    execution = schema.get_type("Execution")
    assert isinstance(execution, GraphQLObjectType)
    assert {"id", "executionId", "failure", "error"} <= set(execution.fields)
    assert execution.fields["error"].deprecation_reason == "Use failure."
    assert execution.fields["failure"].deprecation_reason is None


def test_failure_codes_are_the_services() -> None:
    enum = build_schema()._schema.get_type("FailureCode")
    assert isinstance(enum, GraphQLEnumType)
    assert list(enum.values) == [code.name for code in FailureCode]
