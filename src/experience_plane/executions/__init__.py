"""Tracking executions: one watcher per execution on the Runtime, fanned out to its subscribers."""

from experience_plane.executions.cache import ExecutionKey, TerminalCache
from experience_plane.executions.tracker import ExecutionTracker, TrackerClosed
from experience_plane.executions.watcher import Snapshot, StatusSource

__all__ = [
    "ExecutionKey",
    "ExecutionTracker",
    "Snapshot",
    "StatusSource",
    "TerminalCache",
    "TrackerClosed",
]
