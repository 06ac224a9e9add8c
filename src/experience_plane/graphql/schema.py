"""The schema: root types, and the extensions that guard and speed up every operation.
Query limits (and, in production, the introspection ban) are validation rules created once per
schema and held by its `DocumentCache` (see `graphql.documents`), with the token limit: a
repeated operation is parsed and validated once, with every limit on.
Unexpected errors reach clients as "Unexpected error" with the request id; the log line with the
detail carries the same id. In production, validation messages lose graphql-core's "Did you
mean ...?" hints, which would otherwise reveal the schema to a client that may not introspect it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator

import strawberry
from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLSyntaxError,
    GraphQLUnionType,
    NoSchemaIntrospectionCustomRule,
)
from graphql import build_schema as build_graphql_schema
from strawberry.exceptions import MissingQueryError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from experience_plane.graphql.content import ContentFile, UploadContentResult, upload_content
from experience_plane.graphql.context import Info
from experience_plane.graphql.data_mash import (
    CreateDataMashResult,
    DataMash,
    create_data_mash,
)
from experience_plane.graphql.documents import DocumentCache, cached_documents
from experience_plane.graphql.execution_list import (
    CancelExecutionResult,
    ExecutionConnection,
    cancel_execution,
    executions,
)
from experience_plane.graphql.executions import (
    Execution,
    ExecutionIdArgument,
    execution_status,
    watch_execution_status,
)
from experience_plane.graphql.fields import described_subscription
from experience_plane.graphql.global_ids import Node
from experience_plane.graphql.nodes import MAX_NODES, node, nodes
from experience_plane.graphql.scalars import SCALAR_MAP
from experience_plane.middleware import current_request_id
from experience_plane.observability.graphql import (
    PARSE_FAILED_CODE,
    VALIDATION_FAILED_CODE,
    OperationMetrics,
)
from experience_plane.services import ErrorCode
from experience_plane.services.presentation import INTERNAL_ERROR_CODE, UNEXPECTED_ERROR_MESSAGE
from experience_plane.strawberry_adapter import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    LeanMaskErrors,
    aliases_rule,
    depth_rule,
)

logger = logging.getLogger(__name__)

_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)
# Raised on purpose: GraphQL errors, and Strawberry's refusals of an operation the transport does
# not allow (e.g. a mutation over an EventSource GET); their messages are written for clients.
_REQUEST_ERRORS = (
    GraphQLError,
    InvalidOperationTypeError,
    CannotGetOperationTypeError,
    MissingQueryError,
)


@strawberry.type(description="Reading executions and what they produced.")
class Query:
    """The query root."""

    execution_status: Execution | None = strawberry.field(
        resolver=execution_status,
        description=(
            "An execution's current status; null only when it is unknown to your tenant. While "
            "the execution is followed and the Runtime has not been heard from for longer than "
            "the stale promise, the last status known with `stale: true`. When the Runtime "
            "cannot be asked otherwise, the field is null *with* an error whose "
            "`extensions.code` is RUNTIME_UNAVAILABLE, RUNTIME_TIMEOUT or "
            "RUNTIME_PROTOCOL_ERROR: retry later, the execution is not gone."
        ),
    )
    executions: ExecutionConnection = strawberry.field(
        resolver=executions,
        description=(
            "Your executions, newest first (your tenant's with the `tenant-admin` role): "
            "`first`/`after` pages forwards (older), `last`/`before` backwards (newer). Cursors "
            "are opaque and stay valid; one this API did not make is INVALID_INPUT."
        ),
    )
    node: Node | None = strawberry.field(
        resolver=node,
        description=(
            "The object with this global `id` (an execution, a file, a data mash); null when "
            "your tenant has no such object. An id this API did not make is INVALID_INPUT."
        ),
    )
    nodes: list[Node | None] = strawberry.field(
        resolver=nodes,
        description=(
            f"The objects with these global ids, in their order (at most {MAX_NODES}): null "
            "for each your tenant has no such object, an INVALID_INPUT error at the place of "
            "each id this API did not make."
        ),
    )


@strawberry.type(description="Starting work on the Runtime; every mutation returns at once.")
class Mutation:
    """The mutation root."""

    upload_content: UploadContentResult = strawberry.mutation(
        resolver=upload_content,
        description="Upload a file (GraphQL multipart request); returns its execution at once.",
    )
    create_data_mash: CreateDataMashResult = strawberry.mutation(
        resolver=create_data_mash,
        description="Compose uploaded files into one canonical view; returns at once.",
    )
    cancel_execution: CancelExecutionResult = strawberry.mutation(
        resolver=cancel_execution,
        description=(
            "Stop a running execution: the Runtime's work stops at its next safe point and the "
            "execution ends CANCELLED (subscribers see it and complete); nothing half-written "
            "remains. A finished execution is an AlreadyFinishedError, an unknown one a "
            "NotFoundError, a Runtime that cannot cancel a CancelUnsupportedError."
        ),
    )


@strawberry.type(description="Following executions as they change.")
class Subscription:
    """The subscription root."""

    @described_subscription(
        "The execution's status now, then once per change; completes after a terminal "
        "status. An unknown id is an error. Runtime outages are ridden out: no later than "
        "the stale promise after the Runtime was last heard from (refusing, failing, frozen "
        "or slow), the last status is sent again with `stale: true`, and the true status "
        "follows when the Runtime is back. On server shutdown the subscription completes; "
        "subscribe again."
    )
    async def execution_status(
        self, info: Info, execution_id: ExecutionIdArgument
    ) -> AsyncGenerator[Execution, None]:
        async for execution in watch_execution_status(info, execution_id):
            yield execution


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors caused by a bug or an unforeseen failure, whose text must not leak.

    Errors raised on purpose (validation, `PublicError`, an operation type the transport does
    not allow) are meant for the client; anything wrapping another exception is not.
    """
    original = error.original_error
    return original is not None and not isinstance(original, _REQUEST_ERRORS)


def strip_suggestions(message: str) -> str:
    """The message without graphql-core's "Did you mean ...?" hint."""
    return _SUGGESTION.sub("", message)


class RequestIdMaskErrors(LeanMaskErrors):
    """Masks unexpected errors as "Unexpected error" plus the request id to quote."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=UNEXPECTED_ERROR_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = _request_id_of(self.execution_context)
        message = UNEXPECTED_ERROR_MESSAGE
        extensions: dict[str, object] = {"code": INTERNAL_ERROR_CODE}
        if request_id is not None:
            message = f"Unexpected error (request id {request_id})."
            extensions["requestId"] = request_id
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )


class ExperienceSchema(strawberry.Schema):
    """Strawberry's schema, logging errors by kind and hiding schema hints when asked.

    Strawberry calls `process_errors` with the original errors before any extension masks
    them: unexpected ones are logged with their traceback and request id; expected ones
    (validation, not found, ...) only at debug level, as they are the client's business.
    Request errors (unparsable, or refused by validation: limits included) get a `code`
    extension so that clients can tell them from field errors.
    """

    hide_suggestions: bool = False
    document_cache: DocumentCache | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = _request_id_of(execution_context)
        for error in errors:
            # In place: the validation cache hands out these same objects again.
            if self.hide_suggestions and "Did you mean" in error.message:
                error.message = strip_suggestions(error.message)
            extensions = error.extensions if error.extensions is not None else {}
            if error.path is None and "code" not in extensions:
                if isinstance(error, GraphQLSyntaxError):
                    error.extensions = {**extensions, "code": PARSE_FAILED_CODE}
                elif error.original_error is None:
                    error.extensions = {**extensions, "code": VALIDATION_FAILED_CODE}
                elif isinstance(error.original_error, GraphQLError):
                    # A variable's value refused by its type (graphql-core's coercion wraps
                    # the reason): the caller's input is wrong, as REST says it.
                    error.extensions = {**extensions, "code": ErrorCode.INVALID_INPUT.name}
            if is_unexpected(error):
                logger.error(
                    "Unexpected error (request id %s) at %s: %s",
                    request_id,
                    ".".join(str(key) for key in error.path or ()) or "-",
                    error.message,
                    exc_info=error.original_error,
                )
            else:
                logger.debug("GraphQL error (request id %s): %s", request_id, error.message)


def _request_id_of(execution_context: ExecutionContext | None) -> str | None:
    context = execution_context.context if execution_context is not None else None
    request_id = getattr(context, "request_id", None)
    return request_id if isinstance(request_id, str) else current_request_id()


def build_schema(
    *,
    max_depth: int = 10,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    cache_size: int = 256,
    introspection: bool = True,
    suggestions: bool = True,
) -> ExperienceSchema:
    """The Experience Plane schema with its limits, caches and error masking.

    `introspection=False` refuses `__schema`/`__type` queries; `suggestions=False` removes
    "Did you mean ...?" hints from error messages (both for production).
    """
    limit_rules: list[type[ASTValidationRule]] = [
        depth_rule(max_depth),
        aliases_rule(max_aliases),
    ]
    if not introspection:
        limit_rules.append(NoSchemaIntrospectionCustomRule)
    documents = DocumentCache(limit_rules, max_tokens=max_tokens, maxsize=cache_size)
    schema = ExperienceSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[ContentFile, DataMash],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[
            # First, so that it sees the result last: masked, with every error's code.
            OperationMetrics,
            RequestIdMaskErrors,
            cached_documents(documents),
        ],
    )
    schema.hide_suggestions = not suggestions
    schema.document_cache = documents
    return schema


def schema_sdl() -> str:
    """The schema's SDL as checked in at `schema/schema.graphql`."""
    return build_schema().as_str() + "\n"


def possible_types() -> dict[str, list[str]]:
    """Every interface and union and the object types that can stand for it: what Apollo
    Client's `possibleTypes` needs to match fragments such as `... on Error` in its cache."""
    # Read from the SDL with graphql-core's public API, so the file cannot disagree with it.
    schema = build_graphql_schema(schema_sdl())
    abstract = (
        named
        for named in schema.type_map.values()
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType)
        and not named.name.startswith("__")
    )
    return {
        named.name: sorted(member.name for member in schema.get_possible_types(named))
        for named in sorted(abstract, key=lambda named: named.name)
    }


def possible_types_json() -> str:
    """`possible_types()` as checked in at `schema/possible-types.json`."""
    return json.dumps(possible_types(), indent=2) + "\n"
