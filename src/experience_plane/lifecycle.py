"""Shutting down gracefully: end open subscriptions first, then let uvicorn drain the rest.
uvicorn's own shutdown stops accepting, waits for in-flight requests and closes WebSockets with
1012 (service restart). It cannot end a subscription, though: an SSE response never finishes by
itself, so uvicorn would wait out its whole grace period. Shutdown is no completion: a client
told `complete` for an execution still running would never subscribe again. So
`Lifecycle.drain()` first tells the open streams the service is restarting (`OpenStreams.restart`:
GraphQL WebSockets close with 1012 at once), then closes the execution tracker, which ends the
remaining streams without a completion (an SSE stream without its `complete` event, REST events
with `event: restarting`); `DrainingServer` calls it as soon as uvicorn stops accepting. The app
keeps its `Lifecycle` on `app.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

import uvicorn

from experience_plane.executions import ExecutionTracker
from experience_plane.services.streams import OpenStreams

__all__ = ["DrainingServer", "Lifecycle"]

logger = logging.getLogger(__name__)

# How long subscriptions get to end before connections are closed.
SUBSCRIPTION_DRAIN_SECONDS = 2.0


class Lifecycle:
    """The application's running parts that shutdown must reach before the lifespan ends.

    The lifespan sets `tracker` and `streams` when it starts; `drain()` may be called any
    number of times.
    """

    def __init__(self) -> None:
        self.tracker: ExecutionTracker | None = None
        self.streams: OpenStreams | None = None
        self.draining = False

    async def drain(self) -> None:
        """End every open subscription as a restart and stop the watchers; wait (up to
        `SUBSCRIPTION_DRAIN_SECONDS`) for the subscriptions to notice."""
        self.draining = True
        if self.streams is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SUBSCRIPTION_DRAIN_SECONDS):
                    await self.streams.restart()
        tracker = self.tracker
        if tracker is None:
            return
        subscribers = tracker.active_subscribers
        logger.info("Shutting down: ending %d open subscription(s)", subscribers)
        await tracker.aclose()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SUBSCRIPTION_DRAIN_SECONDS):
                # The tracker keeps a count, not an event; this short, bounded wait is enough.
                while tracker.active_subscribers:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        # One more beat so the transports flush what they just queued.
        await asyncio.sleep(0.05)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, ending the app's subscriptions once it stops accepting connections."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, end subscriptions, then uvicorn's shutdown (in-flight requests get
        `timeout_graceful_shutdown`, WebSockets close with 1012, then the lifespan ends)."""
        for server in self.servers:
            server.close()
        await self.lifecycle.drain()
        await super().shutdown(sockets)
        if not self.force_exit:
            # uvicorn re-raises a captured SIGTERM once it has shut down, so the process dies
            # of the signal (exit -15). A drained shutdown is a clean one: exit 0, as process
            # managers (Kubernetes, systemd) expect of a graceful stop.
            self._captured_signals = [
                sig for sig in self._captured_signals if sig != signal.SIGTERM
            ]
