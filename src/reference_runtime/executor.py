"""Running executions: phases, progress, durable status, cancellation, and change notifications.
An execution goes `created` → `executing` → `artifacts_received` → `completed`, or to `failed`
(or `cancelled`) from wherever it was. Each step is written to the store before anyone is told
about it, so a status read never runs ahead of what a restart would show; the artifacts are
written in the same transaction as the `artifacts_received` step that names them. In
asynchronous mode the steps run in a background task, which `cancel` stops at its next safe point
(see `reference_runtime.cancelling`); in platform mode the submit request runs them itself.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reference_runtime.blobs import BlobStore
from reference_runtime.cancelling import CANCELLED_MESSAGE, CancelToken, ExecutionCancelled
from reference_runtime.faults import LiveControls
from reference_runtime.intake import discard_spooled
from reference_runtime.intents import (
    Handler,
    IntentContext,
    IntentFailed,
    content_upload,
    ingest_file,
    new_id,
)
from reference_runtime.mash_intent import data_mash_create
from reference_runtime.settings import RuntimeMode
from reference_runtime.store import ArtifactRecord, ExecutionRecord, Store
from reference_runtime.timeutil import utc_now

logger = logging.getLogger(__name__)

INTERRUPTED = "Interrupted: the Runtime restarted before this execution finished; submit it again"
PHASE_PERCENT = {"created": 0.0, "executing": 25.0, "artifacts_received": 75.0, "completed": 100.0}
# How long a cancel request waits for the work to reach its next safe point before it answers
# with the execution as it stands (still running, its cancellation asked for).
CANCEL_WAIT_SECONDS = 10.0


class UnknownIntentType(LookupError):
    """The Runtime has no handler for this intent type."""

    def __init__(self, intent_type: str, known: list[str]) -> None:
        self.intent_type = intent_type
        self.known = known
        super().__init__(
            f"Unknown intent_type {intent_type!r}; this Runtime handles: {', '.join(known)}"
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """A validated submit request."""

    intent_type: str
    tenant_id: str
    session_id: str
    solution_id: str
    intent_id: str | None
    user_id: str | None
    idempotency_key: str | None


def handlers_for(mode: RuntimeMode) -> dict[str, Handler]:
    """The intent types a Runtime in `mode` understands."""
    upload: dict[str, Handler] = (
        {"ingest_file": ingest_file}
        if mode is RuntimeMode.PLATFORM
        else {"content.upload": content_upload}
    )
    return {**upload, "data_mash.create": data_mash_create}


class StatusHub:
    """Tells stream subscribers about every change of an execution's status."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue[ExecutionRecord]]] = defaultdict(set)

    @contextmanager
    def subscribe(self, execution_id: str) -> Iterator[asyncio.Queue[ExecutionRecord]]:
        """A queue receiving a snapshot of the execution at each change, while in the block."""
        queue: asyncio.Queue[ExecutionRecord] = asyncio.Queue()
        self._queues[execution_id].add(queue)
        try:
            yield queue
        finally:
            subscribers = self._queues.get(execution_id)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._queues[execution_id]

    def publish(self, record: ExecutionRecord) -> None:
        """Hand a snapshot of `record` to every subscriber of its execution."""
        for queue in self._queues.get(record.execution_id, ()):
            queue.put_nowait(copy.deepcopy(record))


class Executor:
    """Creates executions and drives them through their phases."""

    def __init__(
        self,
        *,
        store: Store,
        blobs: BlobStore,
        controls: LiveControls,
        hub: StatusHub,
        mode: RuntimeMode,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.controls = controls
        self.hub = hub
        self.mode = mode
        self._handlers = handlers_for(mode)
        self._running: dict[str, tuple[asyncio.Task[ExecutionRecord], CancelToken]] = {}
        self._submit_lock = asyncio.Lock()

    @property
    def intent_types(self) -> list[str]:
        """The intent types this Runtime handles."""
        return sorted(self._handlers)

    async def create(self, submission: Submission) -> tuple[ExecutionRecord, bool]:
        """Record a new execution; with a known idempotency key, the earlier one instead.

        Returns the execution and whether it is new (and so has to be run).
        """
        if submission.intent_type not in self._handlers:
            raise UnknownIntentType(submission.intent_type, self.intent_types)
        async with self._submit_lock:
            if submission.idempotency_key:
                existing = await asyncio.to_thread(
                    self.store.find_by_idempotency_key,
                    submission.tenant_id,
                    submission.intent_type,
                    submission.idempotency_key,
                )
                if existing is not None:
                    return existing, False
            now = utc_now()
            record = ExecutionRecord(
                execution_id=new_id("exec"),
                tenant_id=submission.tenant_id,
                session_id=submission.session_id,
                solution_id=submission.solution_id,
                user_id=submission.user_id,
                intent_id=submission.intent_id or new_id("intent"),
                intent_type=submission.intent_type,
                idempotency_key=submission.idempotency_key,
                status="created",
                phase="created",
                percent=0.0,
                error=None,
                artifacts=None,
                events=[{"type": "status", "status": "created", "at": now}],
                created_at=now,
                updated_at=now,
            )
            await asyncio.to_thread(self.store.insert_execution, record)
        return record, True

    def start(self, record: ExecutionRecord, params: dict[str, Any]) -> None:
        """Run the execution in the background, cancellable by `cancel`."""
        token = self.new_token()
        task = asyncio.create_task(self.run(record, params, token), name=record.execution_id)
        self._running[record.execution_id] = (task, token)
        task.add_done_callback(lambda _: self._running.pop(record.execution_id, None))

    def new_token(self) -> CancelToken:
        """A cancellation flag whose checkpoints wait the live `step_delay` control."""
        return CancelToken(lambda: self.controls.step_delay)

    async def run(
        self, record: ExecutionRecord, params: dict[str, Any], token: CancelToken | None = None
    ) -> ExecutionRecord:
        """Drive the execution to a terminal status and return it as it ended."""
        handler = self._handlers[record.intent_type]
        token = token or self.new_token()
        try:
            await token.pause(self.controls.phase_delay)
            await token.acheckpoint()
            await self._advance(record, "executing")
            try:
                result = await handler(IntentContext(self.store, self.blobs, record, token), params)
            finally:
                discard_spooled(params)  # whatever spooled text the handler did not take
            del params
            token.commit()  # a handler that did not commit itself is past its last safe point
            artifacts = result.reduced if self.mode is RuntimeMode.PLATFORM else result.artifacts
            await self._pause()
            await self._advance(
                record, "artifacts_received", artifacts=artifacts, new_artifacts=result.records
            )
            await self._pause()
            await self._advance(record, "completed")
        except ExecutionCancelled:
            await self._advance(record, "cancelled", error=CANCELLED_MESSAGE)
        except IntentFailed as exc:
            await self._advance(record, "failed", error=str(exc))
        except asyncio.CancelledError:
            raise  # left unfinished on purpose: the next start marks it interrupted
        except Exception as exc:
            logger.exception("execution %s (%s) crashed", record.execution_id, record.intent_type)
            error = f"The Runtime failed while running {record.intent_type}: {exc!r}"
            await self._advance(record, "failed", error=error)
        return record

    async def cancel(self, record: ExecutionRecord) -> ExecutionRecord:
        """Ask the execution's work to stop at its next safe point and wait for it (at most
        `CANCEL_WAIT_SECONDS`); return the execution as it then stands: `cancelled`, still
        running (it has not reached a safe point yet), or finished (it was past its last one)."""
        running = self._running.get(record.execution_id)
        if running is None:
            if not record.is_terminal:
                # Recorded but not running (nothing runs it in this process): nothing to stop.
                await self._advance(record, "cancelled", error=CANCELLED_MESSAGE)
            return record
        task, token = running
        token.cancel()
        await asyncio.wait({task}, timeout=CANCEL_WAIT_SECONDS)
        current = await asyncio.to_thread(
            self.store.get_execution, record.execution_id, record.tenant_id
        )
        return current or record

    async def _pause(self) -> None:
        if self.controls.phase_delay > 0:
            await asyncio.sleep(self.controls.phase_delay)

    async def _advance(
        self,
        record: ExecutionRecord,
        status: str,
        *,
        artifacts: dict[str, Any] | None = None,
        error: str | None = None,
        new_artifacts: Sequence[ArtifactRecord] = (),
    ) -> None:
        now = utc_now()
        record.status = status
        record.phase = status
        record.percent = PHASE_PERCENT.get(status, record.percent)
        record.updated_at = now
        if artifacts is not None:
            record.artifacts = artifacts
        if error is not None:
            record.error = error
        event: dict[str, Any] = {"type": "status", "status": status, "at": now}
        if error is not None:
            event["error"] = error
        record.events.append(event)
        await asyncio.to_thread(self.store.save_progress, record, new_artifacts)
        self.hub.publish(record)

    async def recover(self) -> int:
        """Fail every execution a previous process left unfinished; return how many."""
        unfinished = await asyncio.to_thread(self.store.unfinished_executions)
        for record in unfinished:
            await self._advance(record, "failed", error=INTERRUPTED)
        return len(unfinished)

    async def shutdown(self) -> None:
        """Stop the background executions (they count as interrupted at the next start)."""
        tasks = [task for task, _ in self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
