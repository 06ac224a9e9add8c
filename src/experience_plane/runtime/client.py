"""`RuntimeClient`: the one way the Experience Plane talks to the Runtime.

One pooled HTTP connection pool with explicit timeouts and limits (aiohttp's, see
`runtime.transport`), owned by the client and closed by `aclose()`. Every failure below this
boundary leaves it as one of `runtime.errors`. Status and artifact reads are retried (they are safe
to repeat); a submit is retried only when it carries an idempotency key and its first answer was
lost (`SubmitOutcomeUnknown`), at most `submit_outcome_retries` times, because the Runtime
deduplicates submits by that key.

Every call passes a `CircuitBreaker` (see `runtime.breaker`): once the Runtime has failed
`breaker_failure_threshold` calls in a row, calls fail fast with `CircuitOpen` until a probe
(a read, or `/health` run on a submit's behalf) finds it back. `breaker_state` and
`breaker_snapshot()` expose it for a readiness endpoint.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Self
from urllib.parse import quote, urlencode

import httpx

from experience_plane.runtime.answers import (
    checked,
    failed_submit,
    json_body,
    parse_answer,
    parse_body,
)
from experience_plane.runtime.breaker import BreakerSnapshot, BreakerState, CircuitBreaker, Permit
from experience_plane.runtime.errors import (
    ArtifactNotFound,
    ExecutionNotFound,
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeTimeout,
    RuntimeUnavailable,
)
from experience_plane.runtime.guarded import GuardedCalls
from experience_plane.runtime.models import (
    Artifact,
    DataMashArtifact,
    ExecutionStatus,
    MashRecordsPage,
    RuntimeCaller,
    RuntimeFlavour,
    SubmitResult,
)
from experience_plane.runtime.stream import stream_statuses
from experience_plane.runtime.submits import SUBMIT_PATH, SubmitAttempt, retry_lost_answers
from experience_plane.runtime.transport import (
    TRANSPORT_ERRORS,
    Answer,
    Body,
    Carrier,
    is_timeout,
    make_carrier,
)
from experience_plane.runtime.upload import ContentEncoding, platform_file_type, upload_body
from experience_plane.runtime.wire import (
    WireArtifactDetail,
    WireHealth,
    WireSession,
    WireStatus,
    WireSubmit,
    artifact_from_detail,
    status_from_wire,
    submit_from_wire,
)

__all__ = ["RuntimeClient"]

BodyFactory = Callable[[], bytes | AsyncIterator[bytes]]

# `Retry-After` is honoured up to this many seconds: one header must not park a status read for
# minutes; past the cap the read is simply retried sooner.
RETRY_AFTER_CAP = 30.0
JSON_HEADERS = {"Content-Type": "application/json"}


class RuntimeClient:
    """A typed async client of the Runtime HTTP contract, for either Runtime flavour.

    Use it as an async context manager, or call `aclose()`. `transport` replaces the pooled network
    transport (tests pass an `httpx.MockTransport`); otherwise aiohttp carries the requests (see
    `runtime.transport`). `backoff_base` and `backoff_max` shape the full-jitter exponential
    backoff between status-read retries. The `breaker_*` arguments configure the circuit breaker
    (see `CircuitBreaker`); `breaker` replaces it whole (tests pass one with a fake clock).
    `submit_outcome_retries` is how many times a submit carrying an idempotency key is repeated
    when its answer is lost (0: never). `stream_headers` gives the headers to open an execution
    stream with (the trace context); `instrument` wraps whatever carries the requests
    (observability adds headers, metrics and spans that way).
    """

    def __init__(
        self,
        base_url: str,
        *,
        flavour: RuntimeFlavour = RuntimeFlavour.REFERENCE,
        timeout: float = 10.0,
        connect_timeout: float = 2.0,
        solution_id: str = "default",
        status_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.1,
        backoff_max: float = 2.0,
        breaker_failure_threshold: int = 5,
        breaker_failure_window: float = 30.0,
        breaker_reset_seconds: float = 5.0,
        breaker_max_reset_seconds: float = 60.0,
        breaker: CircuitBreaker | None = None,
        submit_outcome_retries: int = 1,
        stream_headers: Callable[[], Mapping[str, str]] | None = None,
        instrument: Callable[[Carrier], Carrier] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.flavour = RuntimeFlavour(flavour)
        self.solution_id = solution_id
        self.status_retries = max(0, status_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.submit_outcome_retries = max(0, submit_outcome_retries)
        self._stream_headers = stream_headers
        self._breaker = breaker or CircuitBreaker(
            failure_threshold=breaker_failure_threshold,
            failure_window=breaker_failure_window,
            reset_seconds=breaker_reset_seconds,
            max_reset_seconds=max(breaker_max_reset_seconds, breaker_reset_seconds),
        )
        self._guard = GuardedCalls(self._breaker, self._health_once)
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=timeout, write=timeout, pool=timeout
        )
        carrier = make_carrier(
            self.base_url,
            timeout=self._timeout,
            transport=transport,
        )
        self._http = instrument(carrier) if instrument is not None else carrier
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections. The client cannot be used afterwards."""
        await self._http.aclose()

    # -- breaker ----------------------------------------------------------------------------

    @property
    def breaker_state(self) -> BreakerState:
        """The circuit breaker's state: `closed`, `open` or `half_open`."""
        return self._breaker.state

    def breaker_snapshot(self) -> BreakerSnapshot:
        """The circuit breaker's state and counters (for a readiness endpoint)."""
        return self._breaker.snapshot()

    # -- reads ------------------------------------------------------------------------------

    async def health(self) -> bool:
        """True when the Runtime's `/health` says `healthy`; False when it says otherwise or
        cannot be reached (a readiness probe wants an answer, not an exception). While the
        circuit is open this answers False without asking; once it is half-open, this call
        may be the probe that closes it."""
        try:
            await self._guard.call(self._health_once, can_probe=True)
        except RuntimeClientError:
            return False
        return True

    async def get_execution(self, tenant_id: str, execution_id: str) -> ExecutionStatus:
        """Read an execution's status (retried on 5xx, 429, connection errors and timeouts).

        Raises `ExecutionNotFound` for an unknown id or another tenant's execution.
        """
        response = await self._get_with_retries(
            f"/api/execution/{quote(execution_id, safe='')}/status",
            {"tenant_id": tenant_id},
            ExecutionNotFound,
        )
        return status_from_wire(parse_body(WireStatus, response))

    async def get_artifact(self, tenant_id: str, artifact_id: str) -> Artifact:
        """Read everything the Runtime knows of a file or a data mash (retried like status
        reads); the artifact comes back `complete`. Raises `ArtifactNotFound`."""
        # records_limit=0: a data mash's records are paged by get_mash_records, not fetched here.
        detail = await self._get_artifact_detail(tenant_id, artifact_id, {"records_limit": "0"})
        artifact = artifact_from_detail(detail)
        if artifact is None:
            raise RuntimeProtocolError(
                f"Artifact {artifact_id!r} is of an unknown type {detail.artifact_type!r}"
            )
        return artifact

    async def get_mash_records(
        self, tenant_id: str, mash_id: str, *, offset: int = 0, limit: int | None = None
    ) -> MashRecordsPage:
        """Read a page of a data mash's joined records: `limit` records from `offset` (all of
        them when `limit` is None). Raises `ArtifactNotFound` when there is no such mash."""
        params: dict[str, str] = {"records_offset": str(offset)}
        if limit is not None:
            params["records_limit"] = str(limit)
        detail = await self._get_artifact_detail(tenant_id, mash_id, params)
        if not isinstance(artifact_from_detail(detail), DataMashArtifact):
            raise ArtifactNotFound(f"Artifact {mash_id!r} is not a data mash", status_code=200)
        records = tuple(detail.records or ())
        if detail.records_total is not None:
            return MashRecordsPage(records=records, total=detail.records_total, offset=offset)
        # A Runtime that ignores the paging parameters sends every record: page them here.
        end = None if limit is None else offset + limit
        return MashRecordsPage(records=records[offset:end], total=len(records), offset=offset)

    def stream_execution(self, tenant_id: str, execution_id: str) -> AsyncIterator[ExecutionStatus]:
        """Follow an execution over the Runtime's WebSocket stream: yields each new status and
        ends after a terminal one (or when the Runtime closes the stream).

        Raises `StreamUnavailable` when the Runtime has no stream endpoint (handshake refused
        with 403/404): poll `get_execution` instead. A lost connection is `RuntimeUnavailable`.
        """
        ws_base = "ws" + self.base_url.removeprefix("http")
        query = urlencode({"tenant_id": tenant_id})
        url = f"{ws_base}/api/execution/{quote(execution_id, safe='')}/stream?{query}"
        headers = self._stream_headers() if self._stream_headers is not None else None
        return self._guard.stream(
            lambda: stream_statuses(url, open_timeout=self._timeout.connect, headers=headers)
        )

    # -- writes -----------------------------------------------------------------------------

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
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Submit `data_mash.create` over the given file ids (retried as `submit_intent`)."""
        options: dict[str, object] = {
            "target_domain": target_domain,
            "confidence_level": confidence_level,
        }
        if name is not None:
            options["name"] = name
        parameters = {"content_refs": list(content_refs), "options": options}
        return await self.submit_intent(
            caller,
            "data_mash.create",
            parameters,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )

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

    async def _get_artifact_detail(
        self, tenant_id: str, artifact_id: str, params: Mapping[str, str]
    ) -> WireArtifactDetail:
        response = await self._get_with_retries(
            f"/api/artifacts/{quote(artifact_id, safe='')}",
            {"tenant_id": tenant_id, **params},
            ArtifactNotFound,
        )
        return parse_body(WireArtifactDetail, response)

    async def _get_with_retries(
        self, path: str, params: Mapping[str, str], not_found: type[RuntimeClientError]
    ) -> Answer:
        """GET a 2xx answer (other statuses raise, see `answers.checked`), retrying what may
        succeed on a second try (5xx, 429, connection errors, timeouts) with full-jitter
        exponential backoff, honouring `Retry-After`.

        The read is one logical call for the breaker; it stops retrying once the circuit opens,
        and a probe is never retried (its one answer decides the breaker's state)."""

        async def attempts(permit: Permit) -> Answer:
            attempt = 0
            while True:
                try:
                    response = await self._send("GET", path, params=params)
                    return checked(response, not_found)
                except RuntimeUnavailable as exc:
                    if (
                        permit is Permit.PROBE
                        or attempt >= self.status_retries
                        or not self._breaker.still_closed()
                    ):
                        raise
                    await asyncio.sleep(self._backoff(attempt, exc.retry_after))
                    if not self._breaker.still_closed():
                        raise
                    attempt += 1

        return await self._guard.call(attempts, can_probe=True)

    async def _health_once(self, _: Permit) -> None:
        response = await self._send("GET", "/health")
        health = parse_answer(WireHealth, json_body(response, None))
        if health.status.lower() != "healthy":
            # An answer, but one that says the Runtime cannot work: down, for the breaker too.
            raise RuntimeUnavailable(f"GET /health: the Runtime says {health.status!r}")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self._random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request; transport failures leave as `RuntimeUnavailable`/`RuntimeTimeout`."""
        what = f"{method} {path}"
        try:
            return await self._http.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.DecodingError as exc:
            raise RuntimeProtocolError(f"{what}: undecodable answer: {exc}") from exc
        except TRANSPORT_ERRORS as exc:
            if is_timeout(exc):
                raise RuntimeTimeout(f"{what}: the Runtime did not answer in time") from exc
            raise RuntimeUnavailable(f"{what}: the Runtime is unreachable: {exc!r}") from exc
