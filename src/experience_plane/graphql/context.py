"""The typed GraphQL context, built by one FastAPI dependency for HTTP, WebSocket and SSE."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from fastapi import Depends
from strawberry.fastapi import BaseContext

from experience_plane.auth import Principal
from experience_plane.context import get_principal, get_services
from experience_plane.graphql.loaders import Loaders
from experience_plane.services import Services


class GraphQLContext(BaseContext):
    """What resolvers see: the caller, the shared services and this request's loaders.

    On a WebSocket the context lives as long as the connection, so its loaders cache across
    that connection's operations; artifact details and record pages do not change once
    written, so that is safe.
    """

    def __init__(self, principal: Principal, services: Services) -> None:
        super().__init__()
        self.principal = principal
        self.services = services
        self.loaders = Loaders(services.executions, principal)


Info: TypeAlias = strawberry.Info[GraphQLContext, None]


async def get_graphql_context(
    principal: Principal = Depends(get_principal),  # noqa: B008 - FastAPI's dependency idiom
    services: Services = Depends(get_services),  # noqa: B008 - FastAPI's dependency idiom
) -> GraphQLContext:
    """Build the context for one HTTP request, SSE stream or WebSocket connection."""
    return GraphQLContext(principal, services)
