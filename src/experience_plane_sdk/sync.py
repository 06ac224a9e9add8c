"""`SyncExperienceClient`: the async client driven from blocking code.
One event loop runs in a background thread for the client's lifetime, so connections (the HTTP
pool, the WebSocket) are kept across calls exactly as in the async client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from experience_plane_sdk.client import DEFAULT_WAIT_TIMEOUT, ExperienceClient, UploadSource
from experience_plane_sdk.models import Execution, ExecutionsPage, Node, RecordsPage

__all__ = ["SyncExperienceClient"]

T = TypeVar("T")


class SyncExperienceClient:
    """The blocking twin of `ExperienceClient`: the same methods, arguments and errors.

    Use it as `with SyncExperienceClient(url) as client:`; `watch` and `records` return
    ordinary iterators.
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
        self._client = ExperienceClient(
            url, token, timeout=timeout, headers=headers, retries=retries
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Start the background event loop and open the client."""
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="experience-plane-sdk", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        self._run(self._client.open())

    def close(self) -> None:
        """Close the client and stop the background event loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._run(self._client.aclose())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            self._loop = self._thread = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("The client is not open: use `with SyncExperienceClient(...)`.")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result()

    def _iterate(self, generator: AsyncGenerator[T, None]) -> Iterator[T]:
        async def next_item() -> tuple[bool, T | None]:
            try:
                return True, await anext(generator)
            except StopAsyncIteration:
                return False, None

        try:
            while True:
                more, item = self._run(next_item())
                if not more:
                    return
                yield item  # type: ignore[misc]  # `more` says item is a T
        finally:
            if self._loop is not None:
                self._run(generator.aclose())

    def upload_content(
        self,
        source: UploadSource,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        idempotency_key: str | None = None,
    ) -> Execution:
        """See `ExperienceClient.upload_content`."""
        return self._run(
            self._client.upload_content(
                source, filename=filename, mime_type=mime_type, idempotency_key=idempotency_key
            )
        )

    def create_data_mash(
        self,
        content_refs: Sequence[str],
        *,
        target_domain: str = "general",
        confidence_level: str = "medium",
        name: str | None = None,
        join: str = "left",
        idempotency_key: str | None = None,
    ) -> Execution:
        """See `ExperienceClient.create_data_mash`."""
        return self._run(
            self._client.create_data_mash(
                content_refs,
                target_domain=target_domain,
                confidence_level=confidence_level,
                name=name,
                join=join,
                idempotency_key=idempotency_key,
            )
        )

    def execution_status(self, execution_id: str) -> Execution | None:
        """See `ExperienceClient.execution_status`."""
        return self._run(self._client.execution_status(execution_id))

    def node(self, global_id: str) -> Node | None:
        """See `ExperienceClient.node`."""
        return self._run(self._client.node(global_id))

    def nodes(self, global_ids: Sequence[str]) -> list[Node | None]:
        """See `ExperienceClient.nodes`."""
        return self._run(self._client.nodes(global_ids))

    def watch(self, execution_id: str) -> Iterator[Execution]:
        """See `ExperienceClient.watch`."""
        return self._iterate(self._client.watch(execution_id))

    def wait(
        self,
        execution_id: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Execution], None] | None = None,
    ) -> Execution:
        """See `ExperienceClient.wait` (`on_update` is called on the background thread)."""
        return self._run(self._client.wait(execution_id, timeout=timeout, on_update=on_update))

    def records_page(
        self,
        execution_id: str,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RecordsPage:
        """See `ExperienceClient.records_page`."""
        return self._run(
            self._client.records_page(
                execution_id, first=first, after=after, last=last, before=before
            )
        )

    def records(self, execution_id: str, *, page_size: int = 200) -> Iterator[dict[str, Any]]:
        """See `ExperienceClient.records`."""
        return self._iterate(self._client.records(execution_id, page_size=page_size))

    def executions_page(self, **options: Any) -> ExecutionsPage:
        """See `ExperienceClient.executions_page` (the same keyword arguments)."""
        return self._run(self._client.executions_page(**options))

    def list_executions(self, **options: Any) -> Iterator[ExecutionsPage]:
        """See `ExperienceClient.list_executions` (the same keyword arguments)."""
        return self._iterate(self._client.list_executions(**options))

    def cancel(self, execution_id: str, *, idempotency_key: str | None = None) -> Execution:
        """See `ExperienceClient.cancel`."""
        return self._run(self._client.cancel(execution_id, idempotency_key=idempotency_key))
