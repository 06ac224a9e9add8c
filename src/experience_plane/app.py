"""The application factory: `create_app(settings)` assembles everything; nothing at import time.
Run it with `experience-plane serve` (uvicorn with `factory=True`), or
`uvicorn --factory experience_plane.app:create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import TypedDict
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from experience_plane.auth import Authenticator, Principal, TokenVerifier
from experience_plane.cluster import Cluster
from experience_plane.context import (
    InvalidSessionId,
    Unauthenticated,
    bad_request_response,
    unauthenticated_response,
)
from experience_plane.executions import ExecutionTracker
from experience_plane.graphiql import ASSETS_PATH, GraphiQLAssets, GraphiQLPage, asset_files
from experience_plane.graphql.context import get_graphql_context
from experience_plane.graphql.http import PREFLIGHT_HEADERS, GraphQLHTTPRouter
from experience_plane.graphql.persisted import PersistedQueries, trust_manifest
from experience_plane.graphql.schema import build_schema
from experience_plane.graphql.sharing import SharedSubscriptions
from experience_plane.health import build_health_router
from experience_plane.index import open_execution_index
from experience_plane.lifecycle import Lifecycle
from experience_plane.middleware import (
    REQUEST_ID_HEADER,
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
)
from experience_plane.observability.metrics import CONTENT_TYPE_LATEST, Metrics
from experience_plane.observability.middleware import ObservabilityMiddleware
from experience_plane.observability.runtime import ObservedCarrier
from experience_plane.observability.tracecontext import outgoing_headers
from experience_plane.observability.tracing import Tracing, tracing_requested
from experience_plane.refusals import (
    REST_PREFIX,
    UnexpectedErrorMiddleware,
    http_exception_response,
)
from experience_plane.rest import install_rest_api
from experience_plane.rest.errors import too_large_response
from experience_plane.rest.openapi import describe_limits
from experience_plane.runtime import RuntimeClient
from experience_plane.runtime.transport import Carrier
from experience_plane.services import Services
from experience_plane.settings import Settings

GRAPHQL_PATH = "/graphql"
# What a web app on another origin may send and read (CORS): credentials, the idempotency key,
# its session, tracing and request ids, and the headers that force a preflight (CSRF).
CORS_ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "idempotency-key",
    "x-session-id",
    REQUEST_ID_HEADER,
    "traceparent",
    "tracestate",
    *PREFLIGHT_HEADERS,
)
CORS_EXPOSED_HEADERS = ("location", "retry-after", REQUEST_ID_HEADER)
# Browsers cap a cached preflight at 2 hours (Chromium) or 24 (Firefox).
CORS_MAX_AGE_SECONDS = 7200
INSECURE_DEV_WARNING = (
    "INSECURE DEVELOPMENT MODE: authentication is OFF and every request acts as tenant %r, "
    "user %r. Never expose this server to anyone else."
)

logger = logging.getLogger(__name__)


class AuthNotConfigured(ValueError):
    """Neither a token verifier nor the explicit insecure development mode is configured."""


class State(TypedDict):
    """What the lifespan puts on every request's state (read it with `get_services` and
    `get_authenticator`)."""

    services: Services
    authenticator: Authenticator


def check_auth_configured(settings: Settings) -> None:
    """Raise `AuthNotConfigured` (or `ValueError` for a bad combination) unless callers can be
    authenticated, or insecure development mode was asked for explicitly."""
    if settings.insecure_dev:
        return
    if not settings.auth_settings().enabled:
        raise AuthNotConfigured(
            "Authentication is not configured: set EXPERIENCE_AUTH_HS256_SECRET, "
            "EXPERIENCE_AUTH_JWKS_FILE or EXPERIENCE_AUTH_JWKS_URL (or start with --insecure-dev "
            "for local development only)."
        )


def build_authenticator(settings: Settings) -> Authenticator:
    """The token verifier the settings describe, or the dev principal in insecure dev mode."""
    if settings.insecure_dev:
        logger.warning(INSECURE_DEV_WARNING, settings.dev_tenant_id, settings.dev_user_id)
        principal = Principal(tenant_id=settings.dev_tenant_id, user_id=settings.dev_user_id)
        return Authenticator(dev_principal=principal)
    return Authenticator(TokenVerifier(settings.auth_settings()))


@asynccontextmanager
async def open_cluster(settings: Settings) -> AsyncIterator[Cluster | None]:
    """The Redis-coordinated cluster when `EXPERIENCE_REDIS_URL` is set, else None (one
    process, everything in memory)."""
    if not settings.redis_url:
        yield None
        return
    async with Cluster(settings.redis_url, settings) as cluster:
        yield cluster


def build_runtime_client(
    settings: Settings, *, metrics: Metrics | None, tracing: Tracing | None
) -> RuntimeClient:
    """The one Runtime client, configured from `settings`: every call carries the request's
    traceparent and id, and is counted (and traced) when metrics (and tracing) are on."""
    runtime_host = urlsplit(settings.runtime_url).hostname

    def observe_runtime_calls(carrier: Carrier) -> Carrier:
        return ObservedCarrier(
            carrier, metrics=metrics, tracing=tracing, server_address=runtime_host
        )

    return RuntimeClient(
        settings.runtime_url,
        flavour=settings.runtime_flavour,
        timeout=settings.runtime_timeout,
        solution_id=settings.solution_id,
        status_retries=settings.tuning.runtime_status_retries,
        breaker_failure_threshold=settings.tuning.runtime_breaker_failure_threshold,
        breaker_reset_seconds=settings.tuning.runtime_breaker_reset_seconds,
        breaker_max_reset_seconds=settings.tuning.runtime_breaker_max_reset_seconds,
        stream_idle_timeout=settings.tuning.runtime_stream_idle_seconds,
        instrument=observe_runtime_calls,
        stream_headers=outgoing_headers,
    )


def build_lifespan(
    settings: Settings,
    lifecycle: Lifecycle,
    *,
    metrics: Metrics | None,
    tracing: Tracing | None,
    persisted_queries: PersistedQueries | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    """The lifespan: open the Runtime client, the cluster, the execution index and the tracker
    (closed in reverse), hand the tracker to `lifecycle`, share `persisted_queries` through the
    cluster's Redis, and put the services and authenticator on typed state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        authenticator = build_authenticator(settings)
        async with (
            build_runtime_client(settings, metrics=metrics, tracing=tracing) as client,
            open_cluster(settings) as cluster,
            open_execution_index(settings, cluster) as index,
            ExecutionTracker(
                client,
                poll_interval_min=settings.tuning.poll_interval_min,
                poll_interval_max=settings.tuning.poll_interval_max,
                use_stream=settings.tuning.use_runtime_stream,
                stale_after=settings.tuning.subscription_stale_after_seconds,
                coordinator=cluster.watching if cluster is not None else None,
            ) as tracker,
        ):
            lifecycle.tracker = tracker
            if persisted_queries is not None:
                persisted_queries.attach(cluster.link if cluster is not None else None)
            if metrics is not None:
                metrics.watch_state(
                    subscribers=lambda: tracker.active_subscribers,
                    watchers=lambda: tracker.active_watchers,
                    breaker=client.breaker_snapshot,
                )
            services = Services.build(settings, client, tracker, cluster, index)
            lifecycle.streams = services.streams
            try:
                yield {"services": services, "authenticator": authenticator}
            finally:
                if persisted_queries is not None:
                    persisted_queries.attach(None)
                await authenticator.aclose()
                if tracing is not None:
                    tracing.shutdown()

    return lifespan


def build_graphql_router(settings: Settings) -> GraphQLHTTPRouter:
    """The GraphQL schema served at `GRAPHQL_PATH` over HTTP, WebSocket, SSE and multipart.

    Raises `InvalidManifest` when the trusted documents manifest does not parse or validate.
    """
    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_tokens=settings.max_query_tokens,
        introspection=settings.introspection_enabled,
        suggestions=settings.is_development,
    )
    trusted = None
    if settings.trusted_documents is not None:
        assert schema.document_cache is not None
        trusted = trust_manifest(settings.trusted_documents, schema, schema.document_cache)
    graphql = GraphQLHTTPRouter(
        schema,
        path=GRAPHQL_PATH,
        context_getter=get_graphql_context,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        multipart_uploads_enabled=True,
        csrf_prevention=settings.csrf_prevention,
        # Idle proxies drop silent sockets: legacy graphql-ws gets `ka` messages and
        # graphql-transport-ws server pings at this interval.
        keep_alive=True,
        keep_alive_interval=settings.tuning.ws_keep_alive_interval,
        connection_init_wait_timeout=timedelta(seconds=settings.tuning.ws_connection_init_timeout),
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        allowed_origins=settings.ws_allowed_origin_list,
        allowed_origin_pattern=settings.loopback_origin_pattern,
        persisted_queries=PersistedQueries(trusted, prefix=settings.redis_key_prefix),
        max_json_bytes=settings.max_request_bytes,
    )
    # graphql-transport-ws subscribers of one operation share its execution (`graphql.sharing`).
    graphql.subscription_hub = SharedSubscriptions()
    if settings.graphiql_enabled:
        graphql.graphiql = GraphiQLPage(
            GraphiQLAssets.load(), endpoint=GRAPHQL_PATH, headers=settings.graphiql_headers
        )
    return graphql


def add_error_handlers(app: FastAPI) -> None:
    """Answer the shared dependencies' refusals (no principal, a bad session id) on every
    surface that does not answer them itself, and starlette's own (an unknown path, a method
    not taken) in the surface's error shape rather than `{"detail": ...}`."""

    @app.exception_handler(StarletteHTTPException)
    async def http_exception(request: Request, exc: StarletteHTTPException) -> Response:
        return http_exception_response(request, exc)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        return unauthenticated_response(exc, request.headers.get("accept"))

    @app.exception_handler(InvalidSessionId)
    async def invalid_session(request: Request, exc: InvalidSessionId) -> Response:
        return bad_request_response(str(exc), request.headers.get("accept"))


def add_middleware(
    app: FastAPI, settings: Settings, *, metrics: Metrics | None, tracing: Tracing | None
) -> None:
    """Body size limits, the answer to unexpected errors, CORS (when origins are configured,
    or loopback ones in development), observability and request ids."""
    # Added innermost first: request ids wrap everything, so even a 413 or a 500 carries one.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_request_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        # REST answers in its own error shape; everything else in GraphQL's.
        responders={REST_PREFIX: too_large_response},
    )
    # Inside CORS, so that a browser can read the 500 too.
    app.add_middleware(UnexpectedErrorMiddleware)
    loopback = settings.loopback_origin_pattern
    if settings.cors_origin_list or loopback is not None:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origin_list),
            allow_origin_regex=loopback.pattern if loopback is not None else None,
            allow_methods=["GET", "POST"],
            allow_headers=list(CORS_ALLOWED_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            max_age=CORS_MAX_AGE_SECONDS,
        )
    # Inside the request id (its lines and spans carry it), outside everything else.
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, tracing=tracing)
    app.add_middleware(RequestIdMiddleware)


def mount_metrics(app: FastAPI, metrics: Metrics) -> None:
    """Serve Prometheus' text format at `/metrics` (not part of the OpenAPI document)."""

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Experience Plane application; settings default to the environment's.

    Raises `AuthNotConfigured` when no way to authenticate callers is configured,
    `InvalidManifest` when the trusted documents manifest is unusable, and
    `TracingUnavailable` when tracing is asked for without the `otel` extra installed.
    """
    settings = settings or Settings()
    check_auth_configured(settings)
    lifecycle = Lifecycle()
    metrics = Metrics() if settings.metrics_enabled else None
    tracing = Tracing.configure() if tracing_requested(settings.tracing) else None
    graphql = build_graphql_router(settings)

    app = FastAPI(
        title="Experience Plane",
        description=(
            "The platform's experience API over its Runtime: GraphQL at `/graphql` and REST at "
            "`/v1` (described here), with the same services, tenancy and error codes."
        ),
        # The docs pages follow GraphiQL's switch; `/openapi.json` is served always.
        docs_url="/docs" if settings.graphiql_enabled else None,
        redoc_url="/redoc" if settings.graphiql_enabled else None,
        lifespan=build_lifespan(
            settings,
            lifecycle,
            metrics=metrics,
            tracing=tracing,
            persisted_queries=graphql.persisted_queries,
        ),
    )
    app.state.lifecycle = lifecycle
    # GraphQL is described by its SDL (`schema/`); the OpenAPI document is REST's.
    app.include_router(graphql, include_in_schema=False)
    if settings.graphiql_enabled:
        app.mount(ASSETS_PATH, asset_files(), name="graphiql-assets")
    install_rest_api(app)
    describe_limits(app, settings)
    add_error_handlers(app)
    add_middleware(app, settings, metrics=metrics, tracing=tracing)
    if metrics is not None:
        mount_metrics(app, metrics)
    app.include_router(build_health_router(lifecycle))
    return app
