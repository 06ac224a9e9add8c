"""`RuntimeWrites`: sessions, intents, uploads, data mashes and cancellations.

A submit is never blindly retried: only one carrying an idempotency key whose answer was lost
(`SubmitOutcomeUnknown`) is repeated, at most `submit_outcome_retries` times, because the Runtime
deduplicates submits by that key (see `runtime.submits`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from urllib.parse import quote

from experience_plane.runtime.answers import (
    checked,
    error_detail,
    failed_submit,
    json_body,
    parse_answer,
    parse_body,
)
from experience_plane.runtime.breaker import Permit
from experience_plane.runtime.connection import RuntimeConnection
from experience_plane.runtime.errors import (
    AlreadyFinished,
    CancelUnsupported,
    ExecutionNotFound,
    RuntimeTimeout,
    RuntimeUnavailable,
)
from experience_plane.runtime.models import (
    ExecutionStatus,
    RuntimeCaller,
    RuntimeFlavour,
    SubmitResult,
)
from experience_plane.runtime.optional import OptionalEndpoint, route_missing
from experience_plane.runtime.submits import SUBMIT_PATH, SubmitAttempt, retry_lost_answers
from experience_plane.runtime.transport import Answer
from experience_plane.runtime.upload import ContentEncoding, platform_file_type, upload_body
from experience_plane.runtime.wire import (
    WireSession,
    WireStatus,
    WireSubmit,
    status_from_wire,
    submit_from_wire,
)

__all__ = ["RuntimeWrites"]

BodyFactory = Callable[[], bytes | AsyncIterator[bytes]]
JSON_HEADERS = {"Content-Type": "application/json"}


class RuntimeWrites(RuntimeConnection):
    """The Runtime calls that create something (see `RuntimeClient`)."""

    async def create_session(
        self,
        tenant_id: str,
        user_id: str,
        session_id: str | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> str:
        """Create a Runtime session (a fresh id unless `session_id` is given); returns its id."""
        session_id = session_id or str(uuid.uuid4())
        body = {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "session_id": session_id,
            "execution_contract": {
                "action": "create_session",
                "session_id": session_id,
                "tenant_id": tenant_id,
                "user_id": user_id,
            },
            "metadata": dict(metadata or {}),
        }

        content = json.dumps(body).encode()

        async def create(_: Permit) -> str:
            response = await self._send(
                "POST", "/api/session/create", content=content, headers=JSON_HEADERS
            )
            return parse_answer(WireSession, json_body(response, None)).session_id

        return await self._guard.call(create, can_probe=False)

    async def submit_intent(
        self,
        caller: RuntimeCaller,
        intent_type: str,
        parameters: Mapping[str, object],
        *,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Submit an intent. A submit without an idempotency key is never retried: a lost answer
        may mean the intent ran. With a key, a lost answer (`SubmitOutcomeUnknown`) is retried
        up to `submit_outcome_retries` times, since the Runtime deduplicates by the key.

        Raises `SubmitOutcomeUnknown` when the request was sent but its answer lost; a failure
        to connect (nothing sent) is a plain `RuntimeUnavailable`."""
        attempt = SubmitAttempt.new(intent_type, idempotency_key)
        envelope = attempt.envelope(caller, self.solution_id, metadata)
        body = json.dumps({**envelope, "parameters": dict(parameters)}).encode()
        return await self._submit(attempt, lambda: body, replayable=True)

    async def upload_content(
        self,
        caller: RuntimeCaller,
        *,
        filename: str,
        mime_type: str,
        content: bytes | AsyncIterable[bytes],
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Upload a file as an upload intent, streaming it: the content (bytes, or an async
        iterable of chunks) is encoded on the fly and never held whole in memory.

        Reference flavour: `content.upload`, base64. Platform flavour: `ingest_file`, hex, with
        `ui_name`, `file_type` and `user_id`. Size and sha256 are computed on the way. Lost
        answers are handled as in `submit_intent`, except that streamed content (an iterable)
        cannot be sent twice, so such an upload is never retried by the client.
        """
        parameters: dict[str, object] = {"filename": filename, "mime_type": mime_type}
        if self.flavour is RuntimeFlavour.PLATFORM:
            intent_type, encoding = "ingest_file", ContentEncoding.HEX
            parameters |= {
                "ui_name": filename,
                "file_type": platform_file_type(filename, mime_type),
                "user_id": caller.user_id,
            }
        else:
            intent_type, encoding = "content.upload", ContentEncoding.BASE64
            parameters["content_encoding"] = encoding.value
        attempt = SubmitAttempt.new(intent_type, idempotency_key)
        envelope = attempt.envelope(caller, self.solution_id, metadata)
        return await self._submit(
            attempt,
            lambda: upload_body(envelope, parameters, content, encoding),
            replayable=isinstance(content, bytes | bytearray | memoryview),
        )

    async def create_data_mash(
        self,
        caller: RuntimeCaller,
        *,
        content_refs: Sequence[str],
        target_domain: str = "general",
        confidence_level: str = "medium",
        name: str | None = None,
        join: str | None = None,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Submit `data_mash.create` over the given file ids (retried as `submit_intent`);
        `join` (`left` or `full`) is sent only when given."""
        options: dict[str, object] = {
            "target_domain": target_domain,
            "confidence_level": confidence_level,
        }
        if name is not None:
            options["name"] = name
        if join is not None:
            options["join"] = join
        parameters = {"content_refs": list(content_refs), "options": options}
        return await self.submit_intent(
            caller,
            "data_mash.create",
            parameters,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )

    async def cancel_execution(self, tenant_id: str, execution_id: str) -> ExecutionStatus:
        """Cancel a running execution through the Runtime's optional cancel endpoint; return its
        status: `cancelled`, or still running when its work has not reached a safe point yet.
        Not retried (a second cancel of a cancelled execution answers differently).

        Raises `AlreadyFinished` (409: it has finished), `ExecutionNotFound` (an unknown id or
        another tenant's), and `CancelUnsupported` when the Runtime has no cancel endpoint:
        405, or a 404 that is FastAPI's route miss rather than the contract's "Execution not
        found" (`runtime.optional`). Found absent, it is remembered for a while and raised again
        without a call.
        """
        endpoints = self.optional_endpoints
        if endpoints.known_absent(OptionalEndpoint.CANCEL):
            raise CancelUnsupported("The Runtime cannot cancel executions (found earlier)")
        path = f"/api/execution/{quote(execution_id, safe='')}/cancel"

        async def cancel(_: Permit) -> ExecutionStatus:
            response = await self._send("POST", path, params={"tenant_id": tenant_id})
            try:
                _check_cancel(response)
            except CancelUnsupported:
                endpoints.absent(OptionalEndpoint.CANCEL)
                raise
            endpoints.present(OptionalEndpoint.CANCEL)
            return status_from_wire(parse_body(WireStatus, checked(response, None)))

        return await self._guard.call(cancel, can_probe=False)

    # -- plumbing ---------------------------------------------------------------------------

    async def _submit(
        self, attempt: SubmitAttempt, body: BodyFactory, *, replayable: bool
    ) -> SubmitResult:
        """Send a submit as one logical call, repeating it on a lost answer only when that is
        safe: a key was sent, the body can be built again, and the circuit is still closed."""
        safe = attempt.idempotency_key is not None and replayable

        async def attempts(_: Permit) -> SubmitResult:
            return await retry_lost_answers(
                lambda: self._submit_once(body(), attempt),
                attempt,
                retries=self.submit_outcome_retries,
                may_retry=lambda: safe and self._breaker.still_closed(),
                pause=lambda tries: self._backoff(tries, None),
            )

        return await self._guard.call(attempts, can_probe=False)

    async def _submit_once(
        self, body: bytes | AsyncIterator[bytes], attempt: SubmitAttempt
    ) -> SubmitResult:
        try:
            response = await self._send("POST", SUBMIT_PATH, content=body, headers=JSON_HEADERS)
        except RuntimeUnavailable as exc:
            attempt.check_sent(exc)
            raise
        if response.status_code == 504:
            # A gateway timed out waiting for the Runtime, which may have read the submit.
            lost = RuntimeTimeout(f"{response.status_code} from a gateway", status_code=504)
            raise attempt.unknown(lost, retried=0)
        if response.status_code == 500:
            failed = failed_submit(response, attempt.intent_id)
            if failed is not None:
                return failed
        return submit_from_wire(parse_answer(WireSubmit, json_body(response, None)))


def _check_cancel(response: Answer) -> None:
    """Raise the cancel-specific errors for a 404, 405 or 409 answer to a cancel."""
    status = response.status_code
    if status not in (404, 405, 409):
        return
    detail = error_detail(response)
    message = f"{response.what}: {status} {detail}"
    if status == 409:
        raise AlreadyFinished(message, detail=detail, status_code=status) from (
            response.status_error()
        )
    if route_missing(response):
        # The Runtime does not serve the route: it cannot cancel anything.
        raise CancelUnsupported(message, status_code=status) from response.status_error()
    raise ExecutionNotFound(message, status_code=status) from response.status_error()
