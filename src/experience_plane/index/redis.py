"""The execution index in Redis, shared by the replicas (`EXPERIENCE_REDIS_URL`).

Per tenant, one sorted set of all its executions and one per user, every member scored 0 and
named by its position, `<created µs, 16 digits>:<execution id>`, so that the lexicographic order
of the members is the list's order (oldest first) and a page is one `ZREVRANGEBYLEX` between
two positions (a cursor's and a creation-time bound). The entries themselves (user, intent,
creation time, last known status) are one hash per tenant, read for a page with one `HMGET`:
two commands in all. State and intent filters are checked on the members read, reading on in
batches until the page is full. Tenant and user ids are percent-encoded in the keys, so no id
can reach into another tenant's keys. `ZRANGEBYLEX` and friends need Redis 2.8.9 or later.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from experience_plane.cluster.codec import decode_status, encode_status
from experience_plane.cluster.link import REDIS_ERRORS, RedisLink
from experience_plane.index.model import (
    TERMINAL_STATES,
    ExecutionFilter,
    IndexEntry,
    IndexUnavailable,
    Listed,
    Position,
    RangeReads,
    Scope,
    from_microseconds,
)
from experience_plane.runtime import ExecutionStatus

__all__ = ["RedisExecutionIndex"]

_DIGITS = 16
# Members read at a time while a state or intent filter skips some.
_FILTERED_BATCH = 200

# KEYS: the entries hash, the tenant's set, the user's set. ARGV: execution id, member, entry.
# The members are added only with a new entry: a repeat never adds a second position.
_RECORD = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 1 then
    redis.call('ZADD', KEYS[2], 0, ARGV[2])
    redis.call('ZADD', KEYS[3], 0, ARGV[2])
end
return 0
"""

# An entry is "<state>\\n<fixed JSON>\\n<status JSON>" (JSON text has no raw newline): a new
# status replaces the first and last parts unless the entry is unknown or already terminal.
# KEYS: the entries hash. ARGV: execution id, new state, status JSON, terminal states...
_UPDATE = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
local first = string.find(entry, '\\n', 1, true)
local state = string.sub(entry, 1, first - 1)
for i = 4, #ARGV do
    if ARGV[i] == state then return 0 end
end
local second = string.find(entry, '\\n', first + 1, true)
local fixed = string.sub(entry, first + 1, second - 1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\\n' .. fixed .. '\\n' .. ARGV[3])
return 1
"""


def _member(created_us: int, execution_id: str) -> str:
    return f"{created_us:0{_DIGITS}d}:{execution_id}"


def _entry(entry: IndexEntry) -> str:
    fixed = json.dumps(
        {"u": entry.user_id, "i": entry.intent_type, "c": entry.created_us},
        separators=(",", ":"),
    )
    return f"{entry.status.state.value}\n{fixed}\n{encode_status(entry.status)}"


def _listed(raw: bytes) -> Listed:
    _, fixed, status = raw.decode().split("\n", 2)
    meta: dict[str, Any] = json.loads(fixed)
    entry = IndexEntry(
        tenant_id="",
        user_id=meta["u"],
        status=decode_status(status),
        created_at=from_microseconds(meta["c"]),
    )
    return entry.listed()


class RedisExecutionIndex(RangeReads):
    """`ExecutionIndex` in the Redis behind `link`, under keys starting `<prefix>:executions:`."""

    def __init__(self, link: RedisLink, *, prefix: str) -> None:
        self._link = link
        self._prefix = f"{prefix}:executions:"
        self._record = link.redis.register_script(_RECORD)
        self._update = link.redis.register_script(_UPDATE)

    def _keys(self, tenant_id: str) -> tuple[str, str]:
        tenant = self._prefix + quote(tenant_id, safe="")
        return f"{tenant}:entries", f"{tenant}:all"

    def _set(self, scope: Scope) -> str:
        tenant = self._prefix + quote(scope.tenant_id, safe="")
        if scope.user_id is None:
            return f"{tenant}:all"
        return f"{tenant}:user:{quote(scope.user_id, safe='')}"

    async def aclose(self) -> None:
        """Nothing to release: the link belongs to the cluster."""

    async def record(self, entry: IndexEntry) -> None:
        """Add the execution unless it is there already (one script, atomic)."""
        entries, everyone = self._keys(entry.tenant_id)
        user = self._set(Scope(entry.tenant_id, entry.user_id))
        execution_id = entry.status.execution_id
        member = _member(entry.created_us, execution_id)
        await self._call(
            self._record(keys=[entries, everyone, user], args=[execution_id, member, _entry(entry)])
        )

    async def update(self, tenant_id: str, status: ExecutionStatus) -> None:
        """Keep `status` unless the entry is unknown or terminal already (one script)."""
        entries, _ = self._keys(tenant_id)
        args = [status.execution_id, status.state.value, encode_status(status)]
        await self._call(self._update(keys=[entries], args=[*args, *sorted(TERMINAL_STATES)]))

    async def count(self, scope: Scope, filter: ExecutionFilter) -> int:
        """How many executions of `scope` pass `filter`: `ZCARD` without a filter, `ZLEXCOUNT`
        with creation-time bounds only; a state or intent filter reads every entry in range."""
        low, high = _bounds(filter, None, None)
        key = self._set(scope)
        if not filter.by_content:
            if low == "-" and high == "+":
                return int(await self._call(self._link.redis.zcard(key)))
            return int(await self._call(self._link.redis.zlexcount(key, low, high)))
        total = 0
        while True:
            batch = await self._read(scope, low, high, _FILTERED_BATCH, newest_first=False)
            total += sum(1 for _, listed in batch if listed is not None and filter.matches(listed))
            if len(batch) < _FILTERED_BATCH:
                return total
            low = "(" + batch[-1][0]

    async def _window(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        after: Position | None,
        before: Position | None,
        limit: int,
        *,
        newest_first: bool,
    ) -> list[Listed]:
        if limit <= 0:
            return []
        low, high = _bounds(filter, after, before)
        found: list[Listed] = []
        batch_size = _FILTERED_BATCH if filter.by_content else limit
        while True:
            batch = await self._read(scope, low, high, batch_size, newest_first=newest_first)
            for _, listed in batch:
                if listed is not None and filter.matches(listed):
                    found.append(listed)
                    if len(found) == limit:
                        return found
            if len(batch) < batch_size:
                return found
            last = "(" + batch[-1][0]
            if newest_first:
                high = last
            else:
                low = last

    async def _read(
        self, scope: Scope, low: str, high: str, count: int, *, newest_first: bool
    ) -> list[tuple[str, Listed | None]]:
        """`count` members between the bounds, in the given direction, with their entries (None
        for a member whose entry is missing)."""
        redis = self._link.redis
        key = self._set(scope)
        if newest_first:
            members = await self._call(redis.zrevrangebylex(key, high, low, start=0, num=count))
        else:
            members = await self._call(redis.zrangebylex(key, low, high, start=0, num=count))
        if not members:
            return []
        names = [member.decode() for member in members]
        entries_key, _ = self._keys(scope.tenant_id)
        ids = [name.split(":", 1)[1] for name in names]
        raws = await self._call(redis.hmget(entries_key, ids))
        return [
            (name, _listed(raw) if raw is not None else None)
            for name, raw in zip(names, raws, strict=True)
        ]

    async def _call(self, command: Any) -> Any:
        if not self._link.up:
            # Down since a failed call: the probe brings it back; fail fast meanwhile.
            command.close()
            raise IndexUnavailable(f"Redis is down since a failed call: {self._link.last_error}")
        try:
            result = await command
        except REDIS_ERRORS as exc:
            self._link.failed(exc)
            raise IndexUnavailable(f"Redis is unavailable: {exc}") from exc
        return result


def _bounds(
    filter: ExecutionFilter, after: Position | None, before: Position | None
) -> tuple[str, str]:
    """The lexicographic range (`ZRANGEBYLEX` syntax, exclusive) of the window: above the
    `before` position and `created_after`, below the `after` position and `created_before`."""
    lows = []
    if before is not None:
        lows.append(_member(before.created_us, before.execution_id))
    if filter.after_us is not None:
        # Past every member created at that microsecond: ';' sorts right after ':'.
        lows.append(f"{filter.after_us:0{_DIGITS}d};")
    highs = []
    if after is not None:
        highs.append(_member(after.created_us, after.execution_id))
    if filter.before_us is not None:
        highs.append(f"{filter.before_us:0{_DIGITS}d}")
    low = "(" + max(lows) if lows else "-"
    high = "(" + min(highs) if highs else "+"
    return low, high
