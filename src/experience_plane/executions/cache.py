"""A bounded cache of finished executions, so late subscribers cost no Runtime call."""

from __future__ import annotations

from collections import OrderedDict

from experience_plane.runtime import ExecutionStatus

ExecutionKey = tuple[str, str]
"""`(tenant_id, execution_id)`: executions are always looked up per tenant, never by id alone."""


class TerminalCache:
    """Least-recently-used map from an execution key to its terminal status.

    A terminal status never changes again, so it can be served forever without asking the Runtime;
    the bound only keeps memory flat. Only terminal statuses are accepted: a running status would
    go stale. A size of 0 disables the cache.
    """

    def __init__(self, max_size: int) -> None:
        if max_size < 0:
            raise ValueError(f"max_size must be >= 0, got {max_size}")
        self._max_size = max_size
        self._entries: OrderedDict[ExecutionKey, ExecutionStatus] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: ExecutionKey) -> ExecutionStatus | None:
        """The cached terminal status for `key`, marking it recently used, or None."""
        status = self._entries.get(key)
        if status is not None:
            self._entries.move_to_end(key)
        return status

    def put(self, key: ExecutionKey, status: ExecutionStatus) -> bool:
        """Cache a terminal status; returns False (and caches nothing) for a non-terminal one."""
        if not status.state.is_terminal or self._max_size == 0:
            return False
        self._entries[key] = status
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)
        return True
