"""`ExperienceClient`: the async client of the Experience Plane's GraphQL API, built on gql.
One HTTP transport (a pooled httpx client) carries queries and mutations; a graphql-transport-ws
WebSocket is opened on the first `watch`/`wait` and shared by every subscription after it. Both
are closed with the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from gql import Client, FileVar, GraphQLRequest
from gql.client import AsyncClientSession
from graphql import DocumentNode, parse

from experience_plane_sdk import operations
from experience_plane_sdk.errors import (
    ApiProtocolError,
    ApiUnreachable,
    ExecutionFailed,
    ExecutionNotFoundError,
    ExperienceError,
    InvalidInput,
    WaitTimeout,
    error_for_code,
)
from experience_plane_sdk.models import (
    Execution,
    ExecutionsPage,
    ExecutionState,
    Node,
    RecordsPage,
    node_from_graphql,
)
from experience_plane_sdk.transport import (
    Retry,
    http_transport,
    translate,
    websocket_transport,
)
from experience_plane_sdk.uploads import UploadSource, upload_opener

__all__ = ["DEFAULT_WAIT_TIMEOUT", "ExperienceClient", "UploadSource"]

T = TypeVar("T")

DEFAULT_WAIT_TIMEOUT = 300.0
IDEMPOTENCY_HEADER = "Idempotency-Key"
# How `wait` polls when it cannot subscribe: quickly at first, then every couple of seconds.
POLL_INTERVAL_MIN = 0.1
POLL_INTERVAL_MAX = 2.0
CONFIDENCE_LEVELS = ("low", "medium", "high")
JOIN_MODES = ("left", "full")


def _execution_filter(
    states: Sequence[ExecutionState | str] | None,
    intent_types: Sequence[str] | None,
    created_after: datetime | None,
    created_before: datetime | None,
) -> dict[str, Any] | None:
    """The `ExecutionFilter` input of these filters (None when there are none)."""
    if isinstance(states, str) or isinstance(intent_types, str):
        raise InvalidInput("states and intent_types must be sequences, not one string")
    names = []
    for state in states or ():
        try:
            names.append(ExecutionState(str(state).upper()).value)
        except ValueError:
            choices = ", ".join(member.value for member in ExecutionState)
            raise InvalidInput(
                f"state must be one of {choices}, got {state!r}", field="states"
            ) from None
    found: dict[str, Any] = {
        "states": names or None,
        "intentTypes": list(intent_types) if intent_types else None,
        "createdAfter": _instant(created_after),
        "createdBefore": _instant(created_before),
    }
    return {name: value for name, value in found.items() if value is not None} or None


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


@functools.cache
def _document(source: str) -> DocumentNode:
    """The parsed document, parsed once per process on first use (not at import time)."""
    return parse(source)


def new_idempotency_key() -> str:
    """A fresh idempotency key for one logical call (reused by that call's own retries)."""
    return uuid.uuid4().hex


class ExperienceClient:
    """The async client of the Experience Plane API; use it as `async with ExperienceClient(url)`.

    `token` is sent as `Authorization: Bearer <token>` on HTTP and as `{"Authorization":
    "Bearer <token>"}` in the WebSocket's `connection_init`. `timeout` bounds each request
    (connect, read, write), not how long an execution may take (see `wait`).

    Transport failures (connection refused or reset, timeouts) and 5xx answers are retried
    `retries` times with jittered backoff. A mutation is resent with the same idempotency key
    (`idempotency_key`, or one generated per call) in the `Idempotency-Key` header; until the
    API honours that key, a retry after a failure that reached the API could start the work
    twice.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        retries: int = 2,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self._token = token
        self._headers = dict(headers or {})
        self._http_headers = dict(self._headers)
        if token:
            self._http_headers["Authorization"] = f"Bearer {token}"
        self._stack: AsyncExitStack | None = None
        self._session: AsyncClientSession | None = None
        self._ws_session: AsyncClientSession | None = None
        self._ws_stack: AsyncExitStack | None = None
        self._ws_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the HTTP transport (nothing is sent until the first call)."""
        if self._session is not None:
            return
        stack = AsyncExitStack()
        transport = http_transport(self.url, headers=self._http_headers, timeout=self.timeout)
        # execute_timeout=None: httpx's own timeouts apply per request; a whole-call deadline
        # would cut large uploads short.
        client = Client(transport=transport, execute_timeout=None)
        self._session = await stack.enter_async_context(client)
        self._stack = stack

    async def aclose(self) -> None:
        """Close the WebSocket (if one was opened) and the HTTP transport."""
        await self._close_websocket()
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    def _http(self) -> AsyncClientSession:
        if self._session is None:
            raise RuntimeError("The client is not open: use `async with ExperienceClient(...)`.")
        return self._session

    async def _websocket(self) -> AsyncClientSession:
        async with self._ws_lock:
            if self._ws_session is None:
                self._http()  # the same "not open" error as HTTP calls
                transport = websocket_transport(
                    self.url, headers=self._headers, token=self._token, timeout=self.timeout
                )
                stack = AsyncExitStack()
                try:
                    client = Client(transport=transport, execute_timeout=None)
                    session: AsyncClientSession = await stack.enter_async_context(client)
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        await stack.aclose()
                    raise translate(exc, self.url)[0] from exc
                self._ws_session, self._ws_stack = session, stack
                return session
            return self._ws_session

    async def _close_websocket(self) -> None:
        stack, self._ws_stack, self._ws_session = self._ws_stack, None, None
        if stack is not None:
            # A broken connection may fail again while closing; it is being thrown away anyway.
            with contextlib.suppress(Exception):
                await stack.aclose()

    # -- requests ----------------------------------------------------------------------------

    async def _with_retries(
        self, attempt: Callable[[], Awaitable[T]], *, retries: int | None = None
    ) -> T:
        """Run `attempt`, retrying failures that are safe to retry, with jittered backoff.

        Every call is idempotent: reads by nature, mutations by their idempotency key.
        """
        self._http()  # a client that is not open is a programming error, not a retry
        retries = self.retries if retries is None else retries
        for number in range(retries + 1):
            try:
                return await attempt()
            except Exception as exc:
                error, retry = translate(exc, self.url)
                if retry is Retry.NEVER or number == retries:
                    raise error from exc
            await asyncio.sleep(0.2 * 2**number * (0.5 + random.random()))  # noqa: S311
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _execute(
        self,
        document: str,
        variables: dict[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        upload_files: bool = False,
    ) -> dict[str, Any]:
        request = GraphQLRequest(_document(document), variable_values=variables)
        extra: dict[str, Any] = {"upload_files": True} if upload_files else {}
        if headers:
            extra["extra_args"] = {"headers": dict(headers)}
        data: dict[str, Any] = await self._http().execute(request, **extra)
        return data

    @staticmethod
    def _accepted(result: object) -> Execution:
        """The accepted execution of a mutation's result union, or its error raised."""
        if not isinstance(result, Mapping):
            raise ApiProtocolError(f"Unexpected mutation result: {result!r}")
        if result.get("__typename") == "ExecutionAccepted":
            return Execution.from_graphql(result["execution"])
        if "code" in result:
            raise error_for_code(
                result.get("code"),
                str(result.get("message", "")),
                field=result.get("field"),
                max_bytes=result.get("maxBytes"),
                retry_after=result.get("retryAfterSeconds"),
                idempotency_key=result.get("idempotencyKey"),
            )
        raise ApiProtocolError(f"Unexpected mutation result: {result.get('__typename')!r}")

    # -- the API -----------------------------------------------------------------------------

    async def upload_content(
        self,
        source: UploadSource,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        idempotency_key: str | None = None,
    ) -> Execution:
        """Upload a file (a path, bytes or a binary file object); returns its execution at once.

        Paths and file objects are streamed, never read whole into memory; a file object is
        sent whole (from its start) and is not closed. The name defaults to the path's or file
        object's name. Retries resend the file, so an unseekable stream is never retried.
        """
        key = idempotency_key or new_idempotency_key()
        opener, default_name, rewindable = upload_opener(source)
        part_name = filename or default_name
        variables_base: dict[str, Any] = {"filename": filename, "mimeType": mime_type}

        async def attempt() -> dict[str, Any]:
            with opener() as stream:
                file = FileVar(stream, filename=part_name, content_type=mime_type)
                return await self._execute(
                    operations.UPLOAD_CONTENT,
                    {"file": file, **variables_base},
                    headers={IDEMPOTENCY_HEADER: key},
                    upload_files=True,
                )

        # An unseekable stream is consumed by the first attempt: there is nothing to resend.
        data = await self._with_retries(attempt, retries=None if rewindable else 0)
        return self._accepted(data.get("uploadContent"))

    async def create_data_mash(
        self,
        content_refs: Sequence[str],
        *,
        target_domain: str = "general",
        confidence_level: str = "medium",
        name: str | None = None,
        join: str = "left",
        idempotency_key: str | None = None,
    ) -> Execution:
        """Compose uploaded files (their file ids) into one canonical view; returns at once.

        `confidence_level` is `low`, `medium` or `high` (any case); `join` is `left` (one record
        per row of the fact, the default) or `full` (also the rows of referenced files that no
        fact row names).
        """
        if isinstance(content_refs, str):
            raise InvalidInput("content_refs must be a sequence of ids, not one string")
        level = confidence_level.upper()
        if level.lower() not in CONFIDENCE_LEVELS:
            raise InvalidInput(
                f"confidence_level must be one of {', '.join(CONFIDENCE_LEVELS)}, "
                f"got {confidence_level!r}",
                field="confidenceLevel",
            )
        if join.lower() not in JOIN_MODES:
            raise InvalidInput(
                f"join must be one of {', '.join(JOIN_MODES)}, got {join!r}", field="join"
            )
        key = idempotency_key or new_idempotency_key()
        mash_input = {
            "contentRefs": list(content_refs),
            "targetDomain": target_domain,
            "confidenceLevel": level,
            "name": name,
        }
        if join.lower() != "left":  # a server that predates the option still takes the rest
            mash_input["join"] = join.upper()
        data = await self._with_retries(
            lambda: self._execute(
                operations.CREATE_DATA_MASH,
                {"input": mash_input},
                headers={IDEMPOTENCY_HEADER: key},
            )
        )
        return self._accepted(data.get("createDataMash"))

    async def execution_status(self, execution_id: str) -> Execution | None:
        """The execution's current status, or None when it is unknown to the caller."""
        data = await self._with_retries(
            lambda: self._execute(operations.EXECUTION_STATUS, {"executionId": execution_id})
        )
        found = data.get("executionStatus")
        return None if found is None else Execution.from_graphql(found)

    async def node(self, global_id: str) -> Node | None:
        """The execution, file or data mash whose global id (`global_id`) this is, as it stands
        now; None when the caller's tenant has no such object. A malformed id is
        `InvalidInput`."""
        data = await self._with_retries(lambda: self._execute(operations.NODE, {"id": global_id}))
        return node_from_graphql(data.get("node"))

    async def nodes(self, global_ids: Sequence[str]) -> list[Node | None]:
        """`node` for each of `global_ids` (at most 100), in one request and their order."""
        data = await self._with_retries(
            lambda: self._execute(operations.NODES, {"ids": list(global_ids)})
        )
        return [node_from_graphql(item) for item in data.get("nodes") or ()]

    async def executions_page(
        self,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        states: Sequence[ExecutionState | str] | None = None,
        intent_types: Sequence[str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> ExecutionsPage:
        """One page of your executions, newest first (your tenant's with the `tenant-admin`
        role): the `first` (20 without `first` or `last`; at most 100) after the cursor `after`
        (older), or the `last` before the cursor `before` (newer). The filters narrow the list:
        any of `states` (`ExecutionState` or its name, any case), any of `intent_types`,
        created strictly between `created_after` and `created_before` (naive is UTC).

        A cursor the API did not issue, or a bad state, is `InvalidInput`.
        """
        variables: dict[str, Any] = {
            "first": first,
            "after": after,
            "last": last,
            "before": before,
            "filter": _execution_filter(states, intent_types, created_after, created_before),
        }
        data = await self._with_retries(lambda: self._execute(operations.EXECUTIONS, variables))
        return ExecutionsPage.from_graphql(data.get("executions") or {})

    async def list_executions(
        self,
        *,
        page_size: int = 20,
        states: Sequence[ExecutionState | str] | None = None,
        intent_types: Sequence[str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> AsyncGenerator[ExecutionsPage, None]:
        """Your executions, newest first, a page of `page_size` (1 to 100) at a time: every
        page of `executions_page` with these filters, following the cursors to the end."""
        after: str | None = None
        while True:
            page = await self.executions_page(
                first=page_size,
                after=after,
                states=states,
                intent_types=intent_types,
                created_after=created_after,
                created_before=created_before,
            )
            yield page
            if not page.has_next_page or page.end_cursor is None:
                return
            after = page.end_cursor

    async def cancel(self, execution_id: str, *, idempotency_key: str | None = None) -> Execution:
        """Cancel a running execution (its `execution_id` or global `id`); returns it as it
        stands: CANCELLED, or still running until the Runtime reaches its next safe point
        (`wait` then raises `ExecutionFailed` with it CANCELLED).

        Raises `AlreadyFinishedError` when it has finished, `ExecutionNotFoundError` when it is
        unknown to your tenant, `CancelUnsupportedError` when the Runtime cannot cancel.
        """
        key = idempotency_key or new_idempotency_key()
        data = await self._with_retries(
            lambda: self._execute(
                operations.CANCEL_EXECUTION,
                {"executionId": execution_id},
                headers={IDEMPOTENCY_HEADER: key},
            )
        )
        result = data.get("cancelExecution")
        if isinstance(result, Mapping) and result.get("__typename") == "ExecutionCancelled":
            return Execution.from_graphql(result["execution"])
        return self._accepted(result)

    async def watch(self, execution_id: str) -> AsyncGenerator[Execution, None]:
        """The execution's status now, then once per change, ending after a terminal status.

        An unknown id raises `ExecutionNotFoundError`. Uses the WebSocket subscription.
        """
        session = await self._websocket()
        request = GraphQLRequest(
            _document(operations.WATCH_EXECUTION), variable_values={"executionId": execution_id}
        )
        try:
            async with aclosing(session.subscribe(request)) as results:
                async for data in results:
                    yield Execution.from_graphql(data.get("executionStatus") or {})
        except ExperienceError:
            raise
        except Exception as exc:
            error, retry = translate(exc, self.url)
            if retry is not Retry.NEVER or isinstance(error, ApiProtocolError):
                # The connection is broken or confused; the next watch opens a fresh one.
                await self._close_websocket()
            raise error from exc

    async def wait(
        self,
        execution_id: str,
        *,
        # A parameter, not the caller's asyncio.timeout: WaitTimeout carries the last status.
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109
        on_update: Callable[[Execution], None] | None = None,
    ) -> Execution:
        """Follow the execution until it ends and return its final status.

        Raises `ExecutionFailed` (carrying the execution) when it ended FAILED, CANCELLED or
        UNKNOWN, `WaitTimeout` when `timeout` seconds pass first (None waits for ever), and
        `ExecutionNotFoundError` for an unknown id. `on_update` sees every status on the way.
        Follows the subscription; when the WebSocket cannot be opened or drops, it polls
        `execution_status` instead.
        """
        last: Execution | None = None

        def seen(execution: Execution) -> None:
            nonlocal last
            if execution != last and on_update is not None:
                on_update(execution)
            last = execution

        try:
            async with asyncio.timeout(timeout):
                try:
                    async with aclosing(self.watch(execution_id)) as updates:
                        async for execution in updates:
                            seen(execution)
                            if execution.is_terminal:
                                break
                except ApiUnreachable:
                    # No WebSocket (a proxy without upgrade support, a dropped connection);
                    # plain HTTP may still work, and fails the same way if it does not.
                    pass
                delay = POLL_INTERVAL_MIN
                while last is None or not last.is_terminal:
                    current = await self.execution_status(execution_id)
                    if current is None:
                        raise ExecutionNotFoundError(f"Execution {execution_id} not found")
                    seen(current)
                    if not current.is_terminal:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, POLL_INTERVAL_MAX)
        except TimeoutError as exc:
            raise WaitTimeout(execution_id, timeout or 0.0, last) from exc
        if not last.state.succeeded:
            raise ExecutionFailed(last)
        return last

    async def records_page(
        self,
        execution_id: str,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RecordsPage:
        """One page of the records of the data mash that execution `execution_id` produced:
        the `first` (200 without `first` or `last`) after the cursor `after`, or the `last`
        before the cursor `before` (or the end). Pages are 1 to 500 records.

        Raises `ExecutionNotFoundError` for an unknown execution and `InvalidInput` when the
        execution has no data mash (an upload, or a mash not completed yet).
        """
        if first is None and last is None:
            first = 200
        variables = {
            "executionId": execution_id,
            "first": first,
            "after": after,
            "last": last,
            "before": before,
        }
        data = await self._with_retries(lambda: self._execute(operations.MASH_RECORDS, variables))
        execution = data.get("executionStatus")
        if execution is None:
            raise ExecutionNotFoundError(f"Execution {execution_id} not found")
        for artifact in execution.get("artifacts") or ():
            if artifact.get("__typename") == "DataMash":
                return RecordsPage.from_graphql(artifact.get("records") or {})
        raise InvalidInput(
            f"Execution {execution_id} has no data mash (it is {execution.get('state')})",
            field="executionId",
        )

    async def records(
        self, execution_id: str, *, page_size: int = 200
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Every joined record of the data mash execution `execution_id` produced, in order.

        Pages through the `DataMash.records` connection `page_size` records (1 to 500) at a
        time, following its cursors; same errors as `records_page`.
        """
        after: str | None = None
        while True:
            page = await self.records_page(execution_id, first=page_size, after=after)
            for record in page.records:
                yield record
            if not page.has_next_page or page.end_cursor is None:
                return
            after = page.end_cursor
