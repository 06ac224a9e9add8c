"""Compiled execution plans for cached queries: a validated document's query operation executed
without Strawberry's per-request pipeline and with what graphql-core works out per request done
once per document.

`schema.execute` builds, for every request, an execution context, one instance of each schema
extension and its hook runner, a middleware manager, and graphql-core's `Executor.build` (which
checks the schema, looks for the operation, and reads every fragment); graphql-core then collects
each selection set's fields, looks up each field's definition and coerces its literal arguments,
again per request. A `CompiledQuery` does that once per document text and keeps it:

- the operation, its fragments, and the root fields collected;
- per field group: its definition, the resolver Strawberry registered, the nodes, and the
  arguments when they are literals (no variables);
- the subfields collected for each object type a group completes to.

Per request it coerces the variables (graphql-core's `get_variable_values`) and runs a
graphql-core `Executor` over those cached plans, so that the resolvers get graphql-core's own
`GraphQLResolveInfo` and values are completed by graphql-core's own code (non-null propagation,
lists, leaves, abstract types, `__typename`, located errors): the result is exactly the one
`schema.execute` produces. Around it, `run_compiled` does what the schema's extensions do:
`ExperienceSchema.process_errors` (codes, logging), `RequestIdMaskErrors` and
`OperationMetrics`.

Collected fields are only kept across requests when no `@skip`/`@include` of the document
depends on a variable (otherwise they are collected per request, as graphql-core does).

Not compiled (`compile_query` returns None, and the request takes `schema.execute`): mutations
and subscriptions (uploads, serial execution, streams), documents with `@defer`/`@stream`, with
fragment variables, or with `@experimental_disableErrorPropagation`, an operation name the
document does not have or an anonymous operation among several; documents that did not
validate; schemas with an extension that wraps resolvers or a custom execution context class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeGuard, cast

from graphql import (
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import (
    CollectedFields,
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import Executor, default_field_resolver, default_type_resolver
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from graphql.pyutils.undefined import UndefinedType
from strawberry.execution import optimized_is_awaitable as _is_awaitable
from strawberry.extensions import SchemaExtension

__all__ = ["CompiledQuery", "compilable_schema", "compile_query"]

_UNSUPPORTED_DIRECTIVES = frozenset({"defer", "stream", "experimental_disableErrorPropagation"})


class _Inspection(Visitor):
    """What of a document decides whether it compiles and whether its fields can be kept."""

    def __init__(self) -> None:
        super().__init__()
        self.unsupported = False
        self.variable_conditions = False

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        name = node.name.value
        if name in _UNSUPPORTED_DIRECTIVES:
            self.unsupported = True
        elif name in ("skip", "include") and _has_variables(node):
            self.variable_conditions = True

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: object) -> None:
        if node.variable_definitions:
            self.unsupported = True


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.found = True


def _has_variables(nodes: Any) -> bool:
    visitor = _Variables()
    for node in nodes if isinstance(nodes, tuple | list) else (nodes,):
        visit(node, visitor)
    return visitor.found


class _FieldPlan:
    """One field group of the document, resolved once: what graphql-core's `execute_field`
    looks up before it calls the resolver."""

    __slots__ = ("args", "details", "field_def", "name", "nodes", "resolve", "static_args")

    def __init__(self, field_def: GraphQLField, details: FieldDetailsList) -> None:
        self.field_def = field_def
        self.details = details
        self.nodes: list[FieldNode] = [item.node for item in details]
        first = self.nodes[0]
        self.name = first.name.value
        self.resolve = field_def.resolve or default_field_resolver
        self.static_args = not field_def.args and not first.arguments
        self.args: dict[str, Any] | None = {} if self.static_args else None
        if not self.static_args and not _has_variables(first.arguments or ()):
            try:
                self.args = get_argument_values(field_def, first, _NO_VARIABLES)
            except Exception:
                self.args = None
            else:
                self.static_args = True


_NO_VARIABLES = VariableValues({}, {})


class CompiledQuery:
    """A query operation's execution plan (see the module docstring)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        fragment_definitions: dict[str, FragmentDefinitionNode],
        *,
        keep_fields: bool,
    ) -> None:
        root_type = schema.query_type
        assert root_type is not None
        self.schema = schema
        self.document = document
        self.operation = operation
        self.root_type = root_type
        self.fragment_definitions = fragment_definitions
        self.fragments = {
            name: FragmentDetails(definition, None)
            for name, definition in fragment_definitions.items()
        }
        self.keep_fields = keep_fields
        self.root_fields: CollectedFields | None = None
        # Keyed like graphql-core's own per-request memo: (object type, id(field group)); the
        # field groups are the kept `CollectedFields`' own, alive as long as this plan.
        self.subfields: dict[tuple[GraphQLObjectType, int], CollectedFields] = {}
        self.fields: dict[tuple[str, int], _FieldPlan | None] = {}

    def coerce(self, raw: Mapping[str, Any] | None) -> VariableValues | list[GraphQLError]:
        """The variables coerced by the operation's definitions, or the request's errors."""
        return get_variable_values(
            self.schema, self.operation.variable_definitions or (), dict(raw or {}), max_errors=50
        )

    def execute(self, variables: VariableValues, context: Any) -> AwaitableOrValue[ExecutionResult]:
        """Run the operation; the result as `graphql.execute` would give it."""
        executor = _PlannedExecutor(self, variables, context)
        return executor.run()

    def field_plan(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> Any:
        key = (parent_type.name, id(details))
        try:
            return self.fields[key]
        except KeyError:
            field_def = self.schema.get_field(parent_type, details[0].node.name.value)
            plan = _FieldPlan(field_def, details) if field_def is not None else None
            if self.keep_fields:
                self.fields[key] = plan
            return plan


class _PlannedExecutor(Executor[Any]):
    """graphql-core's executor, reading field lookups and collected fields from a plan."""

    def __init__(self, plan: CompiledQuery, variables: VariableValues, context: Any) -> None:
        super().__init__(
            plan.schema,
            plan.fragment_definitions,
            plan.fragments,
            None,
            context,
            plan.operation,
            variables,
            default_field_resolver,
            default_type_resolver,
            default_field_resolver,
            is_awaitable=cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", _is_awaitable),
        )
        self.plan = plan

    def run(self) -> AwaitableOrValue[ExecutionResult]:
        plan = self.plan
        try:
            fields = plan.root_fields
            if fields is None:
                try:
                    collected: CollectedFields | None = collect_fields(
                        plan.schema,
                        plan.fragments,
                        self.variable_values,
                        plan.root_type,
                        plan.operation,
                    )
                except RecursionError:
                    collected = None
                if collected is None:  # graphql-core's own error for it
                    return cast("AwaitableOrValue[ExecutionResult]", super().execute_operation())
                fields = collected
                if plan.keep_fields:
                    plan.root_fields = fields
            result = self.execute_fields(plan.root_type, None, None, fields[0], None)
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self._response(None)
        if self.is_awaitable(result):
            return self._await_result(result)
        return self._response(cast("dict[str, Any]", result))

    async def _await_result(self, result: Awaitable[dict[str, Any]]) -> ExecutionResult:
        try:
            data = await result
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self._response(None)
        return self._response(data)

    def _response(self, data: dict[str, Any] | None) -> ExecutionResult:
        # `build_response`, without hooks (a plan runs none).
        return ExecutionResult(data, self.collected_errors.errors or None)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        # graphql-core's `Executor.execute_field`, with its lookups read from the plan.
        plan: _FieldPlan | None = self.plan.field_plan(parent_type, field_details_list)
        if plan is None:
            return Undefined
        field_def = plan.field_def
        return_type = field_def.type
        info = self.build_resolve_info(field_def, plan.nodes, parent_type, path)
        try:
            args = plan.args
            if args is None:
                args = get_argument_values(
                    field_def,
                    plan.nodes[0],
                    self.variable_values,
                    field_details_list[0].fragment_variable_values,
                )
            result = plan.resolve(source, info, **args)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if self.is_awaitable(completed):
                return self._await_completed(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    async def _await_completed(
        self, completed: Any, return_type: Any, field_details_list: FieldDetailsList, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        plan = self.plan
        if not plan.keep_fields:
            return super().collect_subfields(return_type, field_details_list)
        key = (return_type, id(field_details_list))
        collected = plan.subfields.get(key)
        if collected is None:
            collected = collect_subfields(
                plan.schema,
                plan.fragments,
                self.variable_values,
                plan.operation,
                return_type,
                field_details_list,
            )
            plan.subfields[key] = collected
        return collected


def compile_query(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> CompiledQuery | None:
    """A plan for the document's query operation named `operation_name`, or None when the
    operation is not one this module compiles (see the module docstring)."""
    operation: OperationDefinitionNode | None = None
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if operation_name is None:
                if operation is not None:
                    return None
                operation = definition
            elif definition.name is not None and definition.name.value == operation_name:
                operation = definition
        elif isinstance(definition, FragmentDefinitionNode):
            fragments[definition.name.value] = definition
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    if schema.query_type is None:
        return None
    inspection = _Inspection()
    visit(document, inspection)
    if inspection.unsupported:
        return None
    return CompiledQuery(
        schema, document, operation, fragments, keep_fields=not inspection.variable_conditions
    )


def compilable_schema(extensions: list[Any]) -> bool:
    """Whether no extension of the schema wraps resolvers (which graphql-core's middleware
    would run, and a plan does not)."""
    return not any(
        isinstance(extension, SchemaExtension) and extension._implements_resolve()
        for extension in extensions
    )
