"""The load generator of `bench/subscriptions.py`: many graphql-transport-ws subscriptions.

Runs as its own process (so its CPU is not the server's). Reads a JSON config on stdin:
`{"url", "token", "query", "executions": [...], "per_execution", "per_connection", "first_only"}`,
opens `len(executions) * per_execution` `executionStatus` subscriptions spread evenly over the
executions, `per_connection` to a WebSocket, and prints JSON lines on stdout:

- `{"ready": ...}` once every subscription has had its first event (the status at once);
- `{"done": ...}` once every subscription has completed: the receive time of every event, the
  change-to-client latency of every event after a subscription's first (receive time minus the
  status's `updatedAt`, both this machine's clock), errors, and when each execution ended.

`first_only` stops after `ready` (a warm-up). The bench runs several of these processes at once
(each with its own executions) and merges their figures: one asyncio loop parsing a burst of
thousands of events would otherwise be the bottleneck of the latency it measures.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


@dataclass
class Tally:
    """What every connection adds up to."""

    subscriptions: int
    first_events: int = 0
    errors: int = 0
    received: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    ended: dict[str, float] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


async def open_connection(url: str, token: str) -> ClientConnection:
    socket = await connect(
        url, subprotocols=["graphql-transport-ws"], open_timeout=60, max_size=None
    )
    payload = {"Authorization": f"Bearer {token}"}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    ack = json.loads(await asyncio.wait_for(socket.recv(), 60))
    if ack.get("type") != "connection_ack":
        raise SystemExit(f"connection refused: {ack}")
    return socket


async def follow(
    socket: ClientConnection,
    subscriptions: list[tuple[str, str]],
    config: dict[str, Any],
    tally: Tally,
) -> None:
    """Subscribe on `socket` and read until every one of its subscriptions has completed."""
    executions = dict(subscriptions)
    for op_id, execution_id in subscriptions:
        payload = {"query": config["query"], "variables": {"id": execution_id}}
        await socket.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
    seen: set[str] = set()
    pending = set(executions)
    while pending:
        if config["first_only"] and tally.ready.is_set():
            return
        message = json.loads(await socket.recv())
        kind = message["type"]
        if kind == "ping":
            await socket.send(json.dumps({"type": "pong"}))
            continue
        op_id = message.get("id")
        received = time.time()
        if kind == "next":
            tally.received.append(received)
            payload = message["payload"]
            status = (payload.get("data") or {}).get("executionStatus")
            if payload.get("errors") or status is None:
                tally.errors += 1
                continue
            if op_id in seen:
                updated = datetime.fromisoformat(status["updatedAt"]).timestamp()
                tally.latencies.append(received - updated)
            else:
                seen.add(op_id)
                tally.first_events += 1
                if tally.first_events == tally.subscriptions:
                    tally.ready.set()
            if status["isTerminal"]:
                tally.ended.setdefault(executions[op_id], received)
        elif kind in ("complete", "error"):
            tally.errors += kind == "error"
            pending.discard(op_id)


async def main() -> None:
    config = json.loads(sys.stdin.readline())
    executions: list[str] = config["executions"]
    wanted = [
        (f"s{i}", executions[i % len(executions)])
        for i in range(len(executions) * config["per_execution"])
    ]
    tally = Tally(subscriptions=len(wanted))
    size = config["per_connection"]
    chunks = [wanted[i : i + size] for i in range(0, len(wanted), size)]
    sockets = await asyncio.gather(
        *(open_connection(config["url"], config["token"]) for _ in chunks)
    )
    readers = [
        asyncio.create_task(follow(s, chunk, config, tally))
        for s, chunk in zip(sockets, chunks, strict=True)
    ]

    async def announce() -> None:
        await tally.ready.wait()
        print(json.dumps({"ready": time.time(), "subscriptions": len(wanted)}), flush=True)

    announcer = asyncio.create_task(announce())
    try:
        await asyncio.gather(*readers)
        await announcer
    finally:
        for socket in sockets:
            await socket.close()
    print(
        json.dumps(
            {
                "done": time.time(),
                "received": [round(t, 4) for t in tally.received],
                "latencies": [round(t, 4) for t in tally.latencies],
                "errors": tally.errors,
                "ended": tally.ended,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
