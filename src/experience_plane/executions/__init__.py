"""Tracking executions: one watcher per execution on the Runtime, fanned out to its subscribers,
told within a promised time when the Runtime stops answering (`freshness`).
With several replicas, a `WatchCoordinator` (Redis, in `experience_plane.cluster`) makes that one
watcher per execution cluster-wide (see `replicated`).
"""

from experience_plane.executions.cache import ExecutionKey, TerminalCache
from experience_plane.executions.freshness import StaleCause, Timers
from experience_plane.executions.replicated import CoordinationUnavailable, WatchCoordinator
from experience_plane.executions.tracker import ExecutionTracker, TrackerClosed
from experience_plane.executions.watcher import Snapshot, StatusSource

__all__ = [
    "CoordinationUnavailable",
    "ExecutionKey",
    "ExecutionTracker",
    "Snapshot",
    "StaleCause",
    "StatusSource",
    "TerminalCache",
    "Timers",
    "TrackerClosed",
    "WatchCoordinator",
]
