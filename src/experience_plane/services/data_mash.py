"""Creating data mashes: composing uploaded files into one canonical view."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from experience_plane.auth import Principal, RateLimiter
from experience_plane.runtime import ExecutionStatus, RuntimeCaller, RuntimeClient, SubmitResult
from experience_plane.services.errors import InvalidInputError, runtime_errors
from experience_plane.services.executions import ExecutionService
from experience_plane.services.idempotent import IdempotentSubmits, checked_key
from experience_plane.services.limits import admit
from experience_plane.services.sessions import RuntimeSessions

DATA_MASH_INTENT = "data_mash.create"
MAX_CONTENT_REFS = 50
MAX_NAME_LENGTH = 200


class ConfidenceLevel(StrEnum):
    """The least confidence at which a source column is mapped onto a canonical field."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


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
        self._sessions = sessions
        self._executions = executions
        self._limiter = limiter
        self._idempotent = idempotent

    async def create(
        self,
        principal: Principal,
        *,
        content_refs: Sequence[str],
        target_domain: str = "general",
        confidence_level: ConfidenceLevel = ConfidenceLevel.MEDIUM,
        name: str | None = None,
        client_session: str | None = None,
        idempotency_key: str | None = None,
    ) -> ExecutionStatus:
        """Submit the mash and return the accepted execution (terminal on a sync Runtime).

        With an `idempotency_key`, a repeat with the same input from the same tenant returns
        the first one's execution and submits nothing; other input under that key raises
        `IdempotencyConflictError`. The key also travels to the Runtime.
        Raises `RateLimitedError` before anything else when the tenant is over its rate
        (repeats count too: a client retrying in a loop is slowed down like any other).
        """
        await admit(self._limiter, principal)
        key = checked_key(idempotency_key)
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
                idempotency_key=key,
            )

        async def submit() -> ExecutionStatus:
            with runtime_errors():
                submitted = await self._sessions.submit(principal, client_session, send)
            return await self._executions.accepted(principal, submitted, DATA_MASH_INTENT)

        if key is None or self._idempotent is None:
            return await submit()
        request = {
            "content_refs": refs,
            "target_domain": domain,
            "confidence_level": confidence_level.value,
            "name": name,
        }
        return await self._idempotent.run(principal, "createDataMash", key, request, submit)


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
