"""Soak: mixed load on the API while the Runtime is faulted and restarted; nothing may be lost.

Starts the reference Runtime and the API as real processes on loopback, then for `--duration`
seconds runs uploads and data mashes (each a user action with one idempotency key, retried with
that key until accepted), status queries, and `--subscriptions` concurrent WebSocket
subscriptions, while a chaos loop cycles the Runtime through injected faults (status 5xx,
latency, dropped connections, 5xx on every call, answers lost after handling, flapping) and
restarts. Afterwards the faults stop and every execution the API ever returned is followed to a
terminal status. It prints the figures and exits 1 if any of these is not zero:

* executions returned to clients that never resolved;
* duplicate intents (Runtime executions created beyond one per user action, and user actions
  answered with two different executions);
* server errors (HTTP 5xx, INTERNAL_SERVER_ERROR);
* false failures (a subscription reporting FAILED for an execution that did not fail);

and if the API's memory (RSS) grew by more than `--max-rss-growth-mb` from when the load is in
full swing (every subscription open, after at most 20 s) to after it, once everything resolved.

    .venv/bin/python bench/soak.py [--duration 180] [--subscriptions 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import ApiProcess, RuntimeProcess

RESULT = """__typename
  ... on ExecutionAccepted { execution { id } }
  ... on Error { code message }"""
UPLOAD = f"""mutation ($file: Upload!, $key: String) {{
  uploadContent(file: $file, idempotencyKey: $key) {{ {RESULT} }} }}"""
MASH = f"""mutation ($refs: [ID!]!, $key: String) {{
  createDataMash(input: {{contentRefs: $refs}}, idempotencyKey: $key) {{ {RESULT} }} }}"""
STATUS = """query ($id: ID!) { executionStatus(executionId: $id) {
  id state isTerminal artifacts { ... on ContentFile { fileId } } } }"""
WATCH = """subscription ($id: ID!) { executionStatus(executionId: $id) { id state stale } }"""
RETRYABLE = {"RUNTIME_UNAVAILABLE", "RUNTIME_TIMEOUT", "RUNTIME_OUTCOME_UNKNOWN", "RATE_LIMITED"}
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "UNKNOWN"}
API_ENV = {
    "EXPERIENCE_RUNTIME_TIMEOUT": "2",
    "EXPERIENCE_TUNING__RUNTIME_STATUS_RETRIES": "2",
    "EXPERIENCE_TUNING__SUBSCRIPTION_STALE_AFTER_SECONDS": "2",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_RESET_SECONDS": "1",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_MAX_RESET_SECONDS": "4",
    "EXPERIENCE_TUNING__POLL_INTERVAL_MAX": "1",
    "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0",
    "EXPERIENCE_MAX_SUBSCRIPTIONS_PER_CONNECTION": "20",
}
CALM = {
    "latency": 0.0,
    "status_error_rate": 0.0,
    "drop_rate": 0.0,
    "error_rate": 0.0,
    "drop_after_handling_rate": 0.0,
}
CHAOS: list[tuple[str, dict[str, float]]] = [
    ("status 5xx 40%", {"status_error_rate": 0.4}),
    ("latency 0.8s", {"latency": 0.8}),
    ("dropped connections 15%", {"drop_rate": 0.15}),
    ("5xx on every call 30%", {"error_rate": 0.3}),
    ("answers lost after handling 40%", {"drop_after_handling_rate": 0.4}),
    ("latency past the timeout", {"latency": 2.5}),
]


@dataclass
class Figures:
    actions: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> execution id
    split_actions: int = 0  # a key answered with two different executions
    abandoned: int = 0  # actions given up with an unknown outcome
    typed_errors: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    queries: int = 0
    subscriptions: int = 0
    subscription_events: int = 0
    stale_events: int = 0
    reported_failed: set[str] = field(default_factory=set)
    file_ids: list[str] = field(default_factory=list)
    chaos: list[str] = field(default_factory=list)

    def typed(self, code: str) -> None:
        self.typed_errors[code] = self.typed_errors.get(code, 0) + 1


def check_body(figures: Figures, body: Any, where: str) -> None:
    for error in (body or {}).get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR":
            figures.server_errors.append(f"{where}: {error.get('message')}")
        elif code:
            figures.typed(code)


class Load:
    def __init__(self, api: ApiProcess, runtime: RuntimeProcess, figures: Figures) -> None:
        self.api = api
        self.runtime = runtime
        self.figures = figures
        self.stop = asyncio.Event()
        self.http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50))
        self.headers = {
            **api.headers(tenant="soak", ttl=timedelta(hours=2)),
            "GraphQL-Preflight": "1",
        }
        self.banked: list[dict[str, dict[str, int]]] = []
        self.random = random.Random(7)  # noqa: S311 - load shaping, not cryptography

    async def mutate(self, kind: str) -> None:
        """One user action: a fresh key, retried with it until accepted (or given up)."""
        figures = self.figures
        key = str(uuid.uuid4())
        figures.actions += 1
        content = f"id,name,amount\n{figures.actions},n{key[:8]},{self.random.randint(1, 99)}\n"
        refs = self.random.sample(figures.file_ids, k=min(2, len(figures.file_ids)))
        for attempt in range(30):
            try:
                if kind == "upload":
                    ops = json.dumps({"query": UPLOAD, "variables": {"file": None, "key": key}})
                    response = await self.http.post(
                        self.api.graphql_url,
                        data={"operations": ops, "map": json.dumps({"0": ["variables.file"]})},
                        files={"0": ("soak.csv", content.encode(), "text/csv")},
                        headers=self.headers,
                    )
                else:
                    response = await self.http.post(
                        self.api.graphql_url,
                        json={"query": MASH, "variables": {"refs": refs, "key": key}},
                        headers=self.headers,
                    )
            except httpx.HTTPError as exc:
                figures.server_errors.append(f"{kind}: transport {exc!r}")
                return
            if response.status_code >= 500:
                figures.server_errors.append(f"{kind}: HTTP {response.status_code}")
                return
            body = response.json()
            check_body(figures, body, kind)
            result = (body.get("data") or {}).get(
                "uploadContent" if kind == "upload" else "createDataMash"
            )
            if result and result["__typename"] == "ExecutionAccepted":
                execution_id = result["execution"]["id"]
                previous = figures.accepted.setdefault(key, execution_id)
                if previous != execution_id:
                    figures.split_actions += 1
                return
            code = (result or {}).get("code")
            if code:
                figures.typed(code)
            if code not in RETRYABLE:
                return  # refused for good (e.g. a mash of files the Runtime lost): not lost
            # Kept: the same key on every retry, so the Runtime starts one execution at most.
            await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt, 5)) * self.random.random())
        figures.abandoned += 1

    async def mutators(self, kind: str, pause: float) -> None:
        while not self.stop.is_set():
            if kind == "mash" and len(self.figures.file_ids) < 2:
                await asyncio.sleep(0.5)
                continue
            await self.mutate(kind)
            await asyncio.sleep(pause * self.random.random())

    async def queriers(self) -> None:
        figures = self.figures
        while not self.stop.is_set():
            if not figures.accepted:
                await asyncio.sleep(0.2)
                continue
            execution_id = self.random.choice(list(figures.accepted.values()))
            try:
                response = await self.http.post(
                    self.api.graphql_url,
                    json={"query": STATUS, "variables": {"id": execution_id}},
                    headers=self.headers,
                )
            except httpx.HTTPError as exc:
                figures.server_errors.append(f"query: transport {exc!r}")
                continue
            figures.queries += 1
            if response.status_code >= 500:
                figures.server_errors.append(f"query: HTTP {response.status_code}")
                continue
            body = response.json()
            check_body(figures, body, "query")
            status = (body.get("data") or {}).get("executionStatus")
            if status and status["state"] == "COMPLETED":
                for artifact in status["artifacts"]:
                    file_id = artifact.get("fileId")
                    if file_id and file_id not in figures.file_ids:
                        figures.file_ids.append(file_id)
            await asyncio.sleep(0.05)

    async def subscriber(self, n: int) -> None:
        figures = self.figures
        while not self.stop.is_set():
            try:
                async with connect(
                    self.api.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10
                ) as socket:
                    payload = {"Authorization": self.headers["Authorization"]}
                    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
                    await asyncio.wait_for(socket.recv(), 10)
                    while not self.stop.is_set():
                        await self.follow_one(socket, n)
            except (ConnectionClosed, WebSocketException, OSError, TimeoutError) as exc:
                if not self.stop.is_set():
                    figures.server_errors.append(f"subscription socket: {exc!r}")
                    await asyncio.sleep(1)

    async def follow_one(self, socket: ClientConnection, n: int) -> None:
        figures = self.figures
        if not figures.accepted:
            await asyncio.sleep(0.5)
            return
        # Mostly recent executions, which are still running: that is where watchers work.
        execution_id = self.random.choice(list(figures.accepted.values())[-40:])
        op = uuid.uuid4().hex[:8]
        message = {"id": op, "type": "subscribe", "payload": {"query": WATCH}}
        message["payload"]["variables"] = {"id": execution_id}
        await socket.send(json.dumps(message))
        figures.subscriptions += 1
        while True:
            raw = await asyncio.wait_for(socket.recv(), 120)
            message = json.loads(raw)
            if message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))
                continue
            if message.get("id") != op:
                continue
            if message["type"] == "next":
                check_body(figures, message["payload"], "subscription")
                event = (message["payload"].get("data") or {}).get("executionStatus")
                if event:
                    figures.subscription_events += 1
                    figures.stale_events += bool(event["stale"])
                    if event["state"] == "FAILED":
                        figures.reported_failed.add(execution_id)
            elif message["type"] == "error":
                check_body(figures, {"errors": message["payload"]}, "subscription")
                await asyncio.sleep(1)
                return
            if message["type"] == "complete" or self.stop.is_set():
                return

    async def chaos(self, period: float) -> None:
        figures = self.figures
        step = 0
        while not self.stop.is_set():
            await self.sleep(period)
            step += 1
            if step % 4 == 0:
                figures.chaos.append("restart")
                # The Runtime's counters die with it: bank them first, with every call refused
                # (before it is handled) so that none slips in between.
                self.runtime.set_faults(error_rate=1.0)
                self.banked.append(self.runtime.stats())
                await asyncio.to_thread(self.runtime.stop)
                await self.sleep(2)
                await asyncio.to_thread(self.runtime.start)
                self.runtime.set_faults(phase_delay=0.3)
            elif step % 4 == 2:
                figures.chaos.append("flapping")
                for _ in range(5):
                    self.runtime.set_faults(error_rate=1.0, status_error_rate=1.0)
                    await self.sleep(0.6)
                    self.runtime.set_faults(**CALM)
                    await self.sleep(0.6)
            else:
                name, faults = CHAOS[(step // 2) % len(CHAOS)]
                figures.chaos.append(name)
                self.runtime.set_faults(**faults)
                await self.sleep(period)
            self.runtime.set_faults(**CALM)

    async def sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def resolve_all(self, deadline: float) -> list[str]:
        """Follow every accepted execution to a terminal status; the ones that never get there."""
        pending = set(self.figures.accepted.values())
        final: dict[str, str] = {}
        while pending and time.monotonic() < deadline:
            for execution_id in list(pending):
                response = await self.http.post(
                    self.api.graphql_url,
                    json={"query": STATUS, "variables": {"id": execution_id}},
                    headers=self.headers,
                )
                if response.status_code >= 500:
                    self.figures.server_errors.append(f"resolve: HTTP {response.status_code}")
                    continue
                status = (response.json().get("data") or {}).get("executionStatus")
                if status and status["isTerminal"]:
                    final[execution_id] = status["state"]
                    pending.discard(execution_id)
            if pending:
                await asyncio.sleep(0.5)
        self.final = final
        return sorted(pending)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def soak(args: argparse.Namespace) -> int:
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        # Keep-alives inside the stale promise (2 s), so that a quiet stream is not stale.
        runtime = RuntimeProcess(
            Path(tmp) / "runtime",
            require_session=True,
            env={"REFERENCE_RUNTIME_STREAM_PING_INTERVAL": "0.5"},
        )
        runtime.start()
        api = ApiProcess(runtime.url, Path(tmp) / "api", auth=True, env=API_ENV)
        api.start()
        try:
            runtime.set_faults(phase_delay=0.3)
            assert api.pid is not None
            load = Load(api, runtime, figures)
            for _ in range(3):  # warm up: sessions, pools, the code paths
                await load.mutate("upload")
            rss_before = rss_mib(api.pid)
            started = time.monotonic()
            tasks = [
                *(asyncio.create_task(load.mutators("upload", 0.5)) for _ in range(4)),
                *(asyncio.create_task(load.mutators("mash", 1.5)) for _ in range(2)),
                *(asyncio.create_task(load.queriers()) for _ in range(4)),
                *(asyncio.create_task(load.subscriber(n)) for n in range(args.subscriptions)),
                asyncio.create_task(load.chaos(args.chaos_period)),
            ]
            # Memory once every subscription is open: what is left over after the load is
            # measured against this, so that open connections are not mistaken for a leak.
            await asyncio.sleep(min(20.0, args.duration / 3))
            rss_loaded = rss_mib(api.pid)
            await asyncio.sleep(args.duration - min(20.0, args.duration / 3))
            load.stop.set()
            await asyncio.wait(tasks, timeout=30)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loaded = time.monotonic() - started
            if runtime.pid is None:
                runtime.start()
            runtime.set_faults(**CALM, phase_delay=0.0)
            unresolved = await load.resolve_all(time.monotonic() + 120)
            await asyncio.sleep(2)
            rss_after = rss_mib(api.pid)
            stats = runtime.stats()
            await load.http.aclose()
        finally:
            api.stop()
            runtime.stop()
        log = api.log_text()
        if args.keep_log:
            await asyncio.to_thread(Path(args.keep_log).write_text, log)

    every = [*load.banked, stats]

    def total(counter: str) -> int:
        return sum(sum(part[counter].values()) for part in every)

    created = total("executions_created")
    distinct = len(set(figures.accepted.values()))
    duplicates = max(0, created - distinct - figures.abandoned) + figures.split_actions
    false_failures = sorted(
        eid for eid in figures.reported_failed if load.final.get(eid) not in (None, "FAILED")
    )
    tracebacks = log.count("Traceback")
    growth = rss_after - rss_loaded
    print(f"soak: {loaded:.0f}s of load, {args.subscriptions} concurrent subscriptions")
    print(f"  chaos: {', '.join(figures.chaos)}")
    print(
        f"  user actions: {figures.actions} (accepted {len(figures.accepted)}, "
        f"given up with unknown outcome {figures.abandoned})"
    )
    print(
        f"  executions returned to clients: {distinct}; Runtime executions created: {created}; "
        f"Runtime submits: {total('submits')}, deduplicated by key: "
        f"{total('submits_deduplicated')}"
    )
    finals: dict[str, int] = {}
    for state in load.final.values():
        finals[state] = finals.get(state, 0) + 1
    print(f"  final states: {finals}")
    print(
        f"  queries: {figures.queries}; subscriptions: {figures.subscriptions}, events: "
        f"{figures.subscription_events} (stale: {figures.stale_events})"
    )
    print(f"  typed errors seen by clients: {dict(sorted(figures.typed_errors.items()))}")
    print(
        f"  API RSS: {rss_before:.1f} MiB idle, {rss_loaded:.1f} MiB under load, "
        f"{rss_after:.1f} MiB after (growth since under load {growth:+.1f} MiB)"
    )
    checks = {
        "executions returned to clients that never resolved": len(unresolved),
        "duplicate intents": duplicates,
        "server errors (HTTP 5xx, INTERNAL_SERVER_ERROR)": len(figures.server_errors),
        "false failures reported by subscriptions": len(false_failures),
        "tracebacks in the API log": tracebacks,
    }
    failed = False
    for name, value in checks.items():
        print(f"  {name}: {value}")
        failed |= value != 0
    if growth > args.max_rss_growth_mb:
        print(f"  FAIL: memory grew by more than {args.max_rss_growth_mb} MiB")
        failed = True
    for line in figures.server_errors[:10]:
        print(f"    server error: {line}")
    for execution_id in unresolved[:10]:
        print(f"    unresolved: {execution_id}")
    if tracebacks:
        start = log.index("Traceback")
        excerpt = log[max(0, log.rfind("\n", 0, start - 300)) : start + 2500]
        print("    first traceback in the API log:")
        print("\n".join("      " + line for line in excerpt.splitlines()))
    print("soak: FAILED" if failed else "soak: passed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--subscriptions", type=int, default=300)
    parser.add_argument("--chaos-period", type=float, default=6.0, help="seconds per phase")
    parser.add_argument("--max-rss-growth-mb", type=float, default=64.0)
    parser.add_argument("--keep-log", help="write the API's log to this file")
    return asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
