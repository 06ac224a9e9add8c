"""The schema: root types, and the extensions that guard and speed up every operation.

Query limits are validation rules created once per schema and added by one extension, so the
validation cache keys stay equal from request to request and the cache keeps hitting (a
`QueryDepthLimiter` constructed per request would make a new rule class, and a miss, each time).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from experience_plane.graphql.content import ContentFile, UploadContentResult, upload_content
from experience_plane.graphql.context import Info
from experience_plane.graphql.data_mash import (
    CreateDataMashResult,
    DataMash,
    create_data_mash,
)
from experience_plane.graphql.executions import (
    Execution,
    ExecutionIdArgument,
    execution_status,
    watch_execution_status,
)
from experience_plane.graphql.fields import described_subscription

UNEXPECTED_ERROR_MESSAGE = "Unexpected error."
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
        description="An execution's current status; null when it is unknown to your tenant.",
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


@strawberry.type(description="Following executions as they change.")
class Subscription:
    """The subscription root."""

    @described_subscription(
        "The execution's status now, then once per change; completes after a terminal "
        "status. An unknown id is an error."
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


def build_schema(
    *,
    max_depth: int = 10,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    cache_size: int = 256,
) -> strawberry.Schema:
    """The Experience Plane schema with its limits, caches and error masking."""
    limit_rules: list[type[ASTValidationRule]] = [
        depth_rule(max_depth, should_ignore=None),
        aliases_rule(max_aliases),
    ]

    def mask_errors() -> SchemaExtension:
        return MaskErrors(should_mask_error=is_unexpected, error_message=UNEXPECTED_ERROR_MESSAGE)

    def limits() -> SchemaExtension:
        return AddValidationRules(limit_rules)

    def max_tokens_limiter() -> SchemaExtension:
        return MaxTokensLimiter(max_token_count=max_tokens)

    def parser_cache() -> SchemaExtension:
        return ParserCache(maxsize=cache_size)

    def validation_cache() -> SchemaExtension:
        return ValidationCache(maxsize=cache_size)

    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[ContentFile, DataMash],
        extensions=[mask_errors, max_tokens_limiter, limits, parser_cache, validation_cache],
    )


def schema_sdl() -> str:
    """The schema's SDL as checked in at `schema/schema.graphql`."""
    return build_schema().as_str() + "\n"
