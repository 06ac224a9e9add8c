"""The service layer GraphQL and REST share: validation, Runtime calls, typed failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from experience_plane.auth import RateLimiter, TokenBucketLimiter
from experience_plane.executions import ExecutionTracker
from experience_plane.index import ExecutionFilter
from experience_plane.runtime import RuntimeClient
from experience_plane.services.content import ContentService
from experience_plane.services.data_mash import ConfidenceLevel, DataMashService, JoinMode
from experience_plane.services.errors import (
    AlreadyFinishedError,
    CancelUnsupportedError,
    ErrorCode,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    RuntimeOutcomeUnknownError,
    RuntimeProtocolFailure,
    RuntimeRejectedError,
    RuntimeTimeoutError,
    RuntimeUnavailableError,
    ServiceError,
    TooManySubscriptionsError,
    UploadTooLargeError,
)
from experience_plane.services.executions import ExecutionService
from experience_plane.services.idempotent import IdempotentSubmits, releases_key
from experience_plane.services.listing import (
    DEFAULT_EXECUTIONS_PAGE,
    MAX_EXECUTIONS_PAGE,
    TENANT_ADMIN_ROLE,
    ExecutionEdge,
    ExecutionsPage,
    PageRequest,
)
from experience_plane.services.sessions import RuntimeSessions
from experience_plane.services.streams import OpenStreams
from experience_plane.settings import Settings

if TYPE_CHECKING:
    from experience_plane.cluster import Cluster
    from experience_plane.idempotency import InMemoryIdempotencyStore
    from experience_plane.index import ExecutionIndex
    from experience_plane.runtime import ExecutionStatus


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler needs, built once per application by the lifespan."""

    settings: Settings
    client: RuntimeClient
    tracker: ExecutionTracker
    sessions: RuntimeSessions
    executions: ExecutionService
    content: ContentService
    data_mash: DataMashService
    idempotent: IdempotentSubmits
    streams: OpenStreams
    cluster: Cluster | None = None
    index: ExecutionIndex | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        client: RuntimeClient,
        tracker: ExecutionTracker,
        cluster: Cluster | None = None,
        index: ExecutionIndex | None = None,
    ) -> Services:
        """Wire the services over one Runtime client and one tracker; with a `cluster`
        (Redis), rate limits, idempotency keys and the count of open streams are shared with the
        other replicas. `index` records the executions started here, for listing them against
        a Runtime without a list endpoint."""
        sessions = RuntimeSessions(client)
        limiter: RateLimiter | None = None
        if settings.rate_limit_per_second > 0:
            local = TokenBucketLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
            limiter = local if cluster is None else cluster.rate_limiter(local)
        idempotent = IdempotentSubmits.in_memory(
            ttl_seconds=settings.idempotency_ttl_seconds,
            max_entries=settings.tuning.idempotency_max_entries,
        )
        if cluster is not None:
            # The in-memory store stays as the fallback while Redis is unreachable.
            local_store = cast("InMemoryIdempotencyStore[ExecutionStatus]", idempotent.store)
            idempotent = IdempotentSubmits(cluster.idempotency_store(local_store, releases_key))
        executions = ExecutionService(
            client, tracker, index=index, limiter=limiter, idempotent=idempotent
        )
        return cls(
            settings=settings,
            client=client,
            tracker=tracker,
            sessions=sessions,
            executions=executions,
            content=ContentService(
                client,
                sessions,
                executions,
                max_upload_bytes=settings.max_upload_bytes,
                limiter=limiter,
                idempotent=idempotent,
            ),
            data_mash=DataMashService(
                client, sessions, executions, limiter=limiter, idempotent=idempotent
            ),
            idempotent=idempotent,
            streams=OpenStreams(
                settings.max_streams_per_tenant,
                cluster.streams if cluster is not None else None,
            ),
            cluster=cluster,
            index=index,
        )


__all__ = [
    "DEFAULT_EXECUTIONS_PAGE",
    "MAX_EXECUTIONS_PAGE",
    "TENANT_ADMIN_ROLE",
    "AlreadyFinishedError",
    "CancelUnsupportedError",
    "ConfidenceLevel",
    "ContentService",
    "DataMashService",
    "ErrorCode",
    "ExecutionEdge",
    "ExecutionFilter",
    "ExecutionService",
    "ExecutionsPage",
    "IdempotencyConflictError",
    "IdempotentSubmits",
    "InvalidInputError",
    "JoinMode",
    "NotFoundError",
    "OpenStreams",
    "PageRequest",
    "RateLimitedError",
    "RuntimeOutcomeUnknownError",
    "RuntimeProtocolFailure",
    "RuntimeRejectedError",
    "RuntimeSessions",
    "RuntimeTimeoutError",
    "RuntimeUnavailableError",
    "ServiceError",
    "Services",
    "TooManySubscriptionsError",
    "UploadTooLargeError",
]
