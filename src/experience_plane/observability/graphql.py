"""`OperationMetrics`: GraphQL operations counted and timed by type and root fields.
An operation is labelled by what it asks of the schema (`query` / `executionStatus`), never by
its client-chosen name, which would make the label set unbounded; a document that fails parsing
or validation is labelled `invalid`. Top-level errors are counted by their `code` extension
(after masking, so an unexpected failure counts as `INTERNAL_SERVER_ERROR`).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from experience_plane.observability.metrics import current_metrics, record_error
from experience_plane.services.presentation import INTERNAL_ERROR_CODE
from experience_plane.strawberry_adapter import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)

__all__ = ["INVALID_OPERATION", "OperationMetrics", "operation_label"]

INVALID_OPERATION = "invalid"
UNKNOWN_ERROR_CODE = "UNKNOWN"
# Apollo's codes, which GraphQL clients already know, as the schema (`graphql.schema`, which
# imports this module) gives them to documents refused before execution, and for a request the
# transport refuses (HTTP 400); a masked failure is `services.presentation`'s.
PARSE_FAILED_CODE = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED_CODE = "GRAPHQL_VALIDATION_FAILED"
BAD_REQUEST_CODE = "BAD_REQUEST"
_REFUSED_CODES = frozenset({PARSE_FAILED_CODE, VALIDATION_FAILED_CODE, BAD_REQUEST_CODE})


def operation_label(document: DocumentNode | None, operation_name: str | None) -> tuple[str, str]:
    """The operation's type and its sorted root field names (`"executionStatus"`; fragments at
    the root count as `...`), or `("unknown", "invalid")` when there is no such operation."""
    for definition in document.definitions if document is not None else ():
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and (
            definition.name is None or definition.name.value != operation_name
        ):
            continue
        fields = sorted(
            {
                selection.name.value if isinstance(selection, FieldNode) else "..."
                for selection in definition.selection_set.selections
            }
        )
        return definition.operation.value, ",".join(fields)
    return "unknown", INVALID_OPERATION


# The parser cache hands out one document per query text: its label is worked out once. Keyed
# by identity (a document hashes by its whole tree, which costs more than the label itself);
# the weak reference tells a live document from a dead one whose id was reused, and drops the
# entry when the parser cache lets the document go.
_LabelsByName = dict[str | None, tuple[str, str]]
_labels: dict[int, tuple[weakref.ref[DocumentNode], _LabelsByName]] = {}


def _cached_label(document: DocumentNode | None, operation_name: str | None) -> tuple[str, str]:
    if document is None:
        return operation_label(None, operation_name)
    key = id(document)
    entry = _labels.get(key)
    if entry is None or entry[0]() is not document:

        def forget(dead: weakref.ref[DocumentNode], key: int = key) -> None:
            current = _labels.get(key)
            if current is not None and current[0] is dead:
                del _labels[key]

        entry = _labels[key] = (weakref.ref(document, forget), {})
    label = entry[1].get(operation_name)
    if label is None:
        label = operation_label(document, operation_name)
        # Bounded: only names of operations the document really has are kept.
        if label[1] != INVALID_OPERATION:
            entry[1][operation_name] = label
    return label


def _errors_of(result: object) -> list[GraphQLError]:
    if isinstance(result, GraphQLExecutionResult | ExecutionResult):
        return list(result.errors or ())
    return []


class OperationMetrics(SchemaExtension):
    """Counts each operation (type, root fields, ok/error), times queries and mutations, and
    counts top-level errors by code; does nothing when the request has no metrics."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            # Raised through the operation: a syntax error found by the parser cache (answered
            # as a GraphQL error), or a request the transport refuses (answered 400).
            self._record(started, refused=_refusal_code(exc))
            raise
        self._record(started, refused=None)

    def _record(self, started: float, refused: str | None) -> None:
        metrics = current_metrics()
        if metrics is None:
            return
        context = self.execution_context
        if refused is not None:
            codes = [refused]
        else:
            errors = _errors_of(context.result)
            codes = [str((e.extensions or {}).get("code", UNKNOWN_ERROR_CODE)) for e in errors]
        for code in codes:
            record_error("graphql", code)
        if refused is not None or _REFUSED_CODES.intersection(codes):
            kind, operation = "unknown", INVALID_OPERATION
        else:
            kind, operation = _cached_label(context.graphql_document, context.operation_name)
        outcome = "error" if codes else "ok"
        metrics.observe_operation(kind, operation, outcome, time.perf_counter() - started)


def _refusal_code(exc: Exception) -> str:
    if isinstance(exc, GraphQLSyntaxError):
        return PARSE_FAILED_CODE
    if isinstance(exc, GraphQLError):
        return VALIDATION_FAILED_CODE
    if isinstance(exc, MissingQueryError | CannotGetOperationTypeError | InvalidOperationTypeError):
        return BAD_REQUEST_CODE
    return INTERNAL_ERROR_CODE
