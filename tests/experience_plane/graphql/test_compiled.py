"""Compiled plans (`graphql.compiled`) answer exactly as Strawberry and graphql-core do.

For every query root field of the schema, hypothesis builds documents from the schema itself
(subsets of each type's fields, aliases, inline and named fragments, `__typename`, `@skip` and
`@include` with literals and variables, nested abstract types) and variables (valid, of the
wrong type, missing, null), runs each through `schema.execute` (which caches and validates the
document) and then through its compiled plan, against a fake service layer whose executions
answer, are missing, fail with the service's typed errors or fail unexpectedly; the data and
every error (message, path, locations, extensions after masking) must be equal.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experience_plane import runtime, services
from experience_plane.auth.principal import Principal
from experience_plane.executions import Snapshot
from experience_plane.graphql.context import GraphQLContext
from experience_plane.graphql.global_ids import global_id
from experience_plane.graphql.schema import ExperienceSchema, build_schema
from experience_plane.services.listing import ExecutionEdge, ExecutionsPage
from experience_plane.strawberry_adapter import graphql_core_schema

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _status(execution_id: str, state: runtime.ExecutionState) -> runtime.ExecutionStatus:
    file = runtime.FileArtifact(
        file_id="f1",
        filename="a.csv",
        mime_type="text/csv",
        size=12,
        sha256="0" * 64,
        format="csv",
        columns=None,
        row_count=3,
        complete=True,
    )
    return runtime.ExecutionStatus(
        execution_id=execution_id,
        state=state,
        raw_status=state.value,
        intent_id="intent_1",
        intent_type="content.upload",
        progress=runtime.Progress(phase="profiling", percent=42.5)
        if state is runtime.ExecutionState.RUNNING
        else None,
        error="No join key found" if state is runtime.ExecutionState.FAILED else None,
        created_at=NOW,
        updated_at=NOW,
        artifacts=(file,) if state is runtime.ExecutionState.COMPLETED else (),
        events=(),
    )


class Boom(RuntimeError):
    """A failure nobody foresaw: masked."""


def _outcome(own_id: str) -> Any:
    if own_id.startswith("run"):
        return Snapshot(_status(own_id, runtime.ExecutionState.RUNNING))
    if own_id.startswith("done"):
        return Snapshot(_status(own_id, runtime.ExecutionState.COMPLETED))
    if own_id.startswith("fail"):
        return Snapshot(_status(own_id, runtime.ExecutionState.FAILED), stale=True)
    if own_id == "down":
        raise services.RuntimeUnavailableError("The Runtime could not be reached.")
    if own_id == "slow":
        raise services.RuntimeTimeoutError("The Runtime did not answer in time.")
    if own_id == "boom":
        raise Boom("secret detail")
    return None


class FakeExecutions:
    """The execution service as the query resolvers use it, answering by id."""

    async def get(self, principal: Principal, execution_id: str) -> Snapshot | None:
        await asyncio.sleep(0)
        return _outcome(execution_id)  # type: ignore[no-any-return]

    async def artifact(self, principal: Principal, artifact_id: str) -> Any:
        await asyncio.sleep(0)
        if artifact_id == "boom":
            raise Boom("secret detail")
        if artifact_id == "down":
            raise services.RuntimeUnavailableError("The Runtime could not be reached.")
        if artifact_id.startswith("f"):
            return _status("x", runtime.ExecutionState.COMPLETED).artifacts[0]
        raise services.NotFoundError("No such artifact.")

    async def mash_records(self, principal: Principal, mash_id: str, **_: Any) -> Any:
        raise services.RuntimeUnavailableError("The Runtime could not be reached.")

    async def list_executions(self, principal: Principal, filter: Any, page: Any) -> Any:
        await asyncio.sleep(0)
        if page.after == "down":
            raise services.RuntimeUnavailableError("The Runtime could not be reached.")
        if page.after == "boom":
            raise Boom("secret detail")
        # The cursors tell every argument the resolver was given.
        cursor = f"{page.first}-{page.after}-{page.last}-{page.before}-{filter!r}"
        edges = [
            ExecutionEdge(cursor, _status("run1", runtime.ExecutionState.RUNNING), "u1"),
            ExecutionEdge("c2", _status("done1", runtime.ExecutionState.COMPLETED), None),
        ]

        async def count() -> int:
            return 2

        return ExecutionsPage(edges, has_next_page=False, has_previous_page=True, count=count)


def _context() -> GraphQLContext:
    fake = SimpleNamespace(
        executions=FakeExecutions(), settings=SimpleNamespace(auth_leeway_seconds=0)
    )
    principal = Principal(tenant_id="t1", user_id="u1")
    return GraphQLContext(fake, principal)  # type: ignore[arg-type]


OWN_IDS = ["run1", "done1", "fail1", "gone", "down", "slow", "boom", ""]
IDS = [
    *OWN_IDS,
    *(global_id("Execution", own) for own in OWN_IDS[:6]),
    global_id("ContentFile", "f1"),
    global_id("ContentFile", "nope"),
    global_id("DataMash", "f1"),
    "not-a-global-id",
]
WRONG = st.sampled_from([None, 7, 2.5, True, "text", [], {}, ["a"], {"a": 1}])


def _value(type_: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid values of an input type."""
    if isinstance(type_, GraphQLNonNull):
        return _value(type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        return st.lists(_value(type_.of_type, depth), max_size=3)
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(sorted(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        if depth > 1:
            return st.just({})
        return st.fixed_dictionaries(
            {},
            optional={
                name: st.one_of(st.none(), _value(item.type, depth + 1))
                for name, item in type_.fields.items()
            },
        )
    assert isinstance(type_, GraphQLScalarType)
    if type_.name in ("Int",):
        return st.integers(-2, 120)
    if type_.name == "Float":
        return st.floats(-1, 10, allow_nan=False)
    if type_.name == "Boolean":
        return st.booleans()
    if type_.name in ("ID", "String"):
        return st.sampled_from([*IDS, "down", "boom", "c1"])
    return st.sampled_from([NOW.isoformat(), "2026-13-01", "x"])


def _any_value(type_: GraphQLInputType) -> st.SearchStrategy[Any]:
    """Mostly valid values, sometimes of the wrong type or null."""
    return st.one_of(_value(type_), _value(type_), _value(type_), WRONG)


def _literal(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, dict) else "{}"


@dataclass
class Document:
    """A document being built: its variables (definitions and values) and fragments."""

    variables: dict[str, tuple[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    fragments: dict[str, str] = field(default_factory=dict)

    def variable(self, type_: GraphQLInputType, value: Any, *, missing: bool = False) -> str:
        name = f"v{len(self.variables)}"
        self.variables[name] = (str(type_), value)
        if missing:
            self.missing.add(name)
        return "$" + name

    def text(self, selections: str) -> str:
        definitions = ", ".join(f"${name}: {type_}" for name, (type_, _) in self.variables.items())
        head = f"query Q({definitions})" if definitions else "query Q"
        fragments = "".join(self.fragments.values())
        return f"{head} {{ {selections} }}{fragments}"

    def values(self) -> dict[str, Any]:
        return {n: v for n, (_, v) in self.variables.items() if n not in self.missing}


@st.composite
def _directives(draw: st.DrawFn, doc: Document) -> str:
    kind = draw(st.sampled_from(["", "", "", "skip", "include"]))
    if not kind:
        return ""
    if draw(st.booleans()):
        return f" @{kind}(if: {draw(st.sampled_from(['true', 'false']))})"
    flag = doc.variable(GraphQLNonNull(_boolean()), draw(st.booleans()))
    return f" @{kind}(if: {flag})"


def _boolean() -> GraphQLScalarType:
    from graphql import GraphQLBoolean

    return GraphQLBoolean


@st.composite
def _arguments(draw: st.DrawFn, doc: Document, field_def: GraphQLField) -> str | None:
    """Arguments for a field: None when a required one cannot be given here."""
    given_args = []
    for name, arg in field_def.args.items():
        required = isinstance(arg.type, GraphQLNonNull)
        how = draw(st.sampled_from(["omit", "variable", "variable", "literal"]))
        if how == "omit" and not required:
            continue
        if how == "literal" and not isinstance(
            get_named_type(arg.type), GraphQLInputObjectType | GraphQLEnumType
        ):
            given_args.append(f"{name}: {_literal(draw(_value(arg.type)))}")
            continue
        missing = draw(st.integers(0, 9)) == 0
        given_args.append(
            f"{name}: {doc.variable(arg.type, draw(_any_value(arg.type)), missing=missing)}"
        )
    return "(" + ", ".join(given_args) + ")" if given_args else ""


@st.composite
def _selection_set(draw: st.DrawFn, doc: Document, type_: Any, depth: int, schema: Any) -> str:
    """A selection set on a named output type (object, interface or union)."""
    selections: list[str] = []
    if isinstance(type_, GraphQLUnionType | GraphQLInterfaceType):
        for possible in schema.get_possible_types(type_):
            if draw(st.booleans()):
                inner = draw(_selection_set(doc, possible, depth, schema))
                selections.append(f"... on {possible.name}{draw(_directives(doc))} {{ {inner} }}")
    if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
        names = sorted(type_.fields)
        chosen = draw(st.lists(st.sampled_from(names), max_size=5, unique=True))
        for name in chosen:
            field_def = type_.fields[name]
            args = draw(_arguments(doc, field_def))
            alias = draw(st.sampled_from(["", "", f"a_{name}: "]))
            named = get_named_type(field_def.type)
            sub = ""
            if not isinstance(named, GraphQLScalarType | GraphQLEnumType):
                if depth >= 3:
                    continue
                sub = " { " + draw(_selection_set(doc, named, depth + 1, schema)) + " }"
            selections.append(f"{alias}{name}{args}{draw(_directives(doc))}{sub}")
        if isinstance(type_, GraphQLObjectType) and draw(st.integers(0, 3)) == 0:
            fragment = f"F{len(doc.fragments)}"
            inner = (
                draw(_selection_set(doc, type_, depth + 1, schema)) if depth < 3 else "__typename"
            )
            doc.fragments[fragment] = f" fragment {fragment} on {type_.name} {{ {inner} }}"
            selections.append(f"...{fragment}")
    if draw(st.booleans()) or not selections:
        selections.append("__typename" + draw(_directives(doc)))
    return " ".join(selections)


SCHEMA = build_schema()
CORE = graphql_core_schema(SCHEMA)
QUERY_TYPE = CORE.query_type
assert QUERY_TYPE is not None
ROOT_FIELDS = sorted(QUERY_TYPE.fields)


@st.composite
def operations(draw: st.DrawFn, root: str) -> tuple[str, dict[str, Any]]:
    doc = Document()
    field_def = QUERY_TYPE.fields[root]  # type: ignore[union-attr]
    roots = []
    for index in range(draw(st.integers(1, 2))):
        args = draw(_arguments(doc, field_def))
        named = get_named_type(field_def.type)
        sub = ""
        if not isinstance(named, GraphQLScalarType | GraphQLEnumType):
            sub = " { " + draw(_selection_set(doc, named, 1, CORE)) + " }"
        roots.append(f"r{index}: {root}{args}{draw(_directives(doc))}{sub}")
    if draw(st.booleans()):
        roots.append("__typename")
    return doc.text(" ".join(roots)), doc.values()


def _formatted(result: Any) -> tuple[Any, Any]:
    return result.data, [error.formatted for error in result.errors or ()]


async def _both(schema: ExperienceSchema, query: str, variables: dict[str, Any]) -> None:
    expected = await schema.execute(query, variables, context_value=_context(), operation_name="Q")
    compiled = await schema.execute_compiled(query, variables, _context(), "Q")
    if expected.errors and expected.data is None and all(e.path is None for e in expected.errors):
        errors = [e.formatted for e in expected.errors]
        if any(e.get("extensions", {}).get("code") == "GRAPHQL_VALIDATION_FAILED" for e in errors):
            assert compiled is None  # never compiled: validation failed
            return
    assert compiled is not None, query
    assert _formatted(compiled) == _formatted(expected), query
    COMPARED.append(query)


COMPARED: list[str] = []


@pytest.mark.parametrize("root", ROOT_FIELDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_compiled_plan_answers_as_graphql_core(root: str, data: st.DataObject) -> None:
    query, variables = data.draw(operations(root))
    asyncio.run(_both(SCHEMA, query, variables))


def test_every_query_root_field_is_covered() -> None:
    # Runs after the property tests: each root field was compared on compiled plans.
    assert set(ROOT_FIELDS) == {"executionStatus", "executions", "node", "nodes"}
    for root in ROOT_FIELDS:
        assert sum(re.search(rf": {root}\b", query) is not None for query in COMPARED) >= 20, root


async def test_a_mutation_and_an_unknown_operation_are_not_compiled() -> None:
    schema = build_schema()
    mutation = 'mutation M { cancelExecution(executionId: "x") { __typename } }'
    await schema.execute(mutation, context_value=_context(), operation_name="M")
    assert await schema.execute_compiled(mutation, None, _context(), "M") is None
    query = 'query A { executionStatus(executionId: "run1") { state } }'
    assert await schema.execute_compiled(query, None, _context(), "A") is None  # not cached yet
    await schema.execute(query, context_value=_context(), operation_name="A")
    assert await schema.execute_compiled(query, None, _context(), "B") is None
    result = await schema.execute_compiled(query, None, _context(), "A")
    assert result is not None
    assert result.data == {"executionStatus": {"state": "RUNNING"}}


async def test_an_unexpected_failure_is_masked_and_a_typed_one_keeps_its_code() -> None:
    schema = build_schema()
    query = (
        'query Q { a: executionStatus(executionId: "boom") { state } '
        'b: executionStatus(executionId: "down") { state } }'
    )
    await schema.execute(query, context_value=_context(), operation_name="Q")
    result = await schema.execute_compiled(query, None, _context(), "Q")
    assert result is not None
    assert result.data == {"a": None, "b": None}
    errors = {tuple(e.path or ()): e.formatted for e in result.errors or ()}
    assert errors[("a",)]["message"].startswith("Unexpected error")
    assert "secret" not in json.dumps(list(errors.values()))
    assert errors[("b",)]["extensions"] == {"code": "RUNTIME_UNAVAILABLE"}


async def test_variables_refused_by_their_types_are_invalid_input() -> None:
    schema = build_schema()
    query = "query Q($id: ID!) { executionStatus(executionId: $id) { state } }"
    await schema.execute(query, {"id": "run1"}, context_value=_context(), operation_name="Q")
    result = await schema.execute_compiled(query, {"id": [1]}, _context(), "Q")
    assert result is not None
    assert result.data is None
    assert [e.formatted["extensions"] for e in result.errors or ()] == [{"code": "INVALID_INPUT"}]
