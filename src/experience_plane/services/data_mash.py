"""Creating data mashes: composing uploaded files into one canonical view."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from experience_plane.auth import Principal, RateLimiter
from experience_plane.runtime import ExecutionStatus, RuntimeCaller, RuntimeClient, SubmitResult
from experience_plane.services.errors import InvalidInputError
from experience_plane.services.executions import ExecutionService
from experience_plane.services.idempotent import IdempotentSubmits
from experience_plane.services.sessions import RuntimeSessions
from experience_plane.services.submitting import Submitter

DATA_MASH_INTENT = "data_mash.create"
MAX_CONTENT_REFS = 50
MAX_NAME_LENGTH = 200


class ConfidenceLevel(StrEnum):
    """The least confidence at which a source column is mapped onto a canonical field."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class JoinMode(StrEnum):
    """Which rows of the sources become records: one per row of the fact (`left`), or also the
    rows of referenced files that no fact row names (`full`)."""

    LEFT = "left"
    FULL = "full"


class DataMashService:
    """Validates a mash request and submits it as a `data_mash.create` intent."""

    def __init__(
        self,
        client: RuntimeClient,
        sessions: RuntimeSessions,
        executions: ExecutionService,
        *,
        limiter: RateLimiter | None = None,
        idempotent: IdempotentSubmits | None = None,
    ) -> None:
        self._client = client
        self._submitter = Submitter(sessions, executions, limiter=limiter, idempotent=idempotent)

    async def create(
        self,
        principal: Principal,
        *,
        content_refs: Sequence[str],
        target_domain: str = "general",
        confidence_level: ConfidenceLevel = ConfidenceLevel.MEDIUM,
        name: str | None = None,
        join: JoinMode = JoinMode.LEFT,
        client_session: str | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str | None = None,
    ) -> ExecutionStatus:
        """Submit the mash and return the accepted execution (terminal on a sync Runtime).

        The key is `idempotency_key`, else `idempotency_header` (both given must agree). With
        a key, a repeat with the same input from the same tenant returns the first one's
        execution and submits nothing; other input under that key raises
        `IdempotencyConflictError`. The key also travels to the Runtime.
        Raises `RateLimitedError` before anything else when the tenant is over its rate
        (repeats count too: a client retrying in a loop is slowed down like any other).
        """
        key = await self._submitter.admit(principal, idempotency_key, idempotency_header)
        refs = validate_content_refs(content_refs)
        domain = target_domain.strip()
        if not domain:
            raise InvalidInputError("The target domain must not be empty.", field="targetDomain")
        if name is not None and len(name) > MAX_NAME_LENGTH:
            raise InvalidInputError(
                f"The name is longer than {MAX_NAME_LENGTH} characters.", field="name"
            )

        async def send(caller: RuntimeCaller) -> SubmitResult:
            return await self._client.create_data_mash(
                caller,
                content_refs=refs,
                target_domain=domain,
                confidence_level=confidence_level.value,
                name=name,
                # Only when asked for: a Runtime that predates the option still takes the rest.
                join=join.value if join is not JoinMode.LEFT else None,
                idempotency_key=key,
            )

        return await self._submitter.submit(
            principal,
            intent=DATA_MASH_INTENT,
            operation="createDataMash",
            key=key,
            request={
                "content_refs": refs,
                "target_domain": domain,
                "confidence_level": confidence_level.value,
                "name": name,
                # Only when asked for: keys stored before the option existed still match.
                **({"join": join.value} if join is not JoinMode.LEFT else {}),
            },
            send=send,
            client_session=client_session,
        )


def validate_content_refs(content_refs: Sequence[str]) -> list[str]:
    """The refs, checked: at least one, none empty, no duplicates, not too many."""
    if not content_refs:
        raise InvalidInputError("At least one content ref is needed.", field="contentRefs")
    if len(content_refs) > MAX_CONTENT_REFS:
        raise InvalidInputError(
            f"At most {MAX_CONTENT_REFS} content refs can be mashed at once.",
            field="contentRefs",
        )
    refs = [ref.strip() for ref in content_refs]
    if any(not ref for ref in refs):
        raise InvalidInputError("Content refs must not be empty.", field="contentRefs")
    duplicates = sorted({ref for ref in refs if refs.count(ref) > 1})
    if duplicates:
        raise InvalidInputError(
            f"Content refs must be distinct; repeated: {', '.join(duplicates)}.",
            field="contentRefs",
        )
    return refs
