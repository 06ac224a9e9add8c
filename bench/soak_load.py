"""The soak's clients: users uploading and mashing (each action one idempotency key, retried with
it until accepted, on another replica when theirs goes away), queries, WebSocket subscribers,
and the final check that every execution ever accepted ended and is visible to its owner.

Every user belongs to one of `OWNERS` (a tenant each), so "visible to its owner" means the
owner's own token reads it, on every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from tests.support.processes import ApiProcess
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from soak_cluster import Cluster

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
OWNERS = ("soak-a", "soak-b", "soak-c", "soak-d")


@dataclass(frozen=True)
class Accepted:
    """An execution a user was told was accepted."""

    execution_id: str
    owner: str


@dataclass
class Figures:
    """What the clients saw, over every phase."""

    actions: int = 0
    accepted: dict[str, Accepted] = field(default_factory=dict)  # idempotency key -> execution
    split_actions: int = 0  # a key answered with two different executions
    abandoned: int = 0  # actions given up with an unknown outcome
    typed_errors: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)  # 5xx, INTERNAL_SERVER_ERROR
    dropped: list[str] = field(default_factory=list)  # connections lost with no replica away
    failovers: int = 0  # requests moved to another replica while one restarted
    queries: int = 0
    subscriptions: int = 0
    subscription_events: int = 0
    stale_events: int = 0
    reported_failed: set[str] = field(default_factory=set)
    file_ids: dict[str, list[str]] = field(default_factory=dict)  # owner -> completed files

    def typed(self, code: str) -> None:
        self.typed_errors[code] = self.typed_errors.get(code, 0) + 1

    def check_body(self, body: Any, where: str) -> None:
        """Count the errors of a GraphQL answer: typed ones, and masked (server) errors."""
        for error in (body or {}).get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            if code == "INTERNAL_SERVER_ERROR":
                self.server_errors.append(f"{where}: {error.get('message')}")
            elif code:
                self.typed(code)


class Load:
    """The users, on the replicas of `cluster`; `failover` while a replica may be away."""

    def __init__(self, cluster: Cluster, figures: Figures) -> None:
        self.cluster = cluster
        self.figures = figures
        self.stop = asyncio.Event()
        self.failover = False
        self.http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=60))
        self.random = random.Random(7)  # noqa: S311 - load shaping, not cryptography
        self.final: dict[str, str] = {}
        # The Runtime's counters die with it: read before each restart.
        self.banked: list[dict[str, dict[str, int]]] = []

    def token(self, owner: str) -> str:
        return self.cluster.apis[0].token(owner, f"user-{owner}", ttl=timedelta(hours=3))

    def headers(self, owner: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(owner)}", "GraphQL-Preflight": "1"}

    async def post(self, api: ApiProcess, owner: str, **request: Any) -> httpx.Response:
        return await self.http.post(api.graphql_url, headers=self.headers(owner), **request)

    async def mutate(self, kind: str, owner: str | None = None) -> Accepted | None:
        """One user action: a fresh key, retried with it until accepted (or given up)."""
        figures = self.figures
        owner = owner or self.random.choice(OWNERS)
        key = str(uuid.uuid4())
        figures.actions += 1
        content = f"id,name,amount\n{figures.actions},n{key[:8]},{self.random.randint(1, 99)}\n"
        files = figures.file_ids.get(owner, [])
        refs = self.random.sample(files, k=min(2, len(files)))
        field_name = "uploadContent" if kind == "upload" else "createDataMash"
        for attempt in range(40):
            api = self.cluster.pick()
            try:
                if kind == "upload":
                    ops = json.dumps({"query": UPLOAD, "variables": {"file": None, "key": key}})
                    response = await self.post(
                        api,
                        owner,
                        data={"operations": ops, "map": json.dumps({"0": ["variables.file"]})},
                        files={"0": ("soak.csv", content.encode(), "text/csv")},
                    )
                else:
                    body = {"query": MASH, "variables": {"refs": refs, "key": key}}
                    response = await self.post(api, owner, json=body)
            except httpx.TransportError as exc:
                if not self.failover:
                    figures.dropped.append(f"{kind}: {exc!r}")
                    figures.abandoned += 1
                    return None
                # The replica went away mid-request: the same key, on whichever one is up.
                figures.failovers += 1
                await asyncio.sleep(0.2)
                continue
            if response.status_code >= 500:
                figures.server_errors.append(f"{kind}: HTTP {response.status_code}")
                figures.abandoned += 1
                return None
            body = response.json()
            figures.check_body(body, kind)
            result = (body.get("data") or {}).get(field_name)
            if result and result["__typename"] == "ExecutionAccepted":
                accepted = Accepted(result["execution"]["id"], owner)
                previous = figures.accepted.setdefault(key, accepted)
                if previous != accepted:
                    figures.split_actions += 1
                return accepted
            code = (result or {}).get("code")
            if code:
                figures.typed(code)
            if code not in RETRYABLE:
                return None  # refused for good (e.g. a mash of files the Runtime lost)
            # Kept: the same key on every retry, so the Runtime starts one execution at most.
            await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt, 5)) * self.random.random())
        figures.abandoned += 1
        return None

    async def mutators(self, kind: str, pause: float) -> None:
        while not self.stop.is_set():
            owner = self.random.choice(OWNERS)
            if kind == "mash" and len(self.figures.file_ids.get(owner, [])) < 2:
                await self.sleep(0.5)
                continue
            await self.mutate(kind, owner)
            await self.sleep(pause * self.random.random())

    async def status(self, api: ApiProcess, accepted: Accepted) -> dict[str, Any] | None:
        """`executionStatus` as the owner reads it on `api`; None when not visible."""
        body = {"query": STATUS, "variables": {"id": accepted.execution_id}}
        response = await self.post(api, accepted.owner, json=body)
        self.figures.queries += 1
        if response.status_code >= 500:
            self.figures.server_errors.append(f"query: HTTP {response.status_code}")
            return None
        answer = response.json()
        self.figures.check_body(answer, "query")
        status: dict[str, Any] | None = (answer.get("data") or {}).get("executionStatus")
        return status

    async def queriers(self) -> None:
        figures = self.figures
        while not self.stop.is_set():
            if not figures.accepted:
                await self.sleep(0.2)
                continue
            accepted = self.random.choice(list(figures.accepted.values()))
            try:
                status = await self.status(self.cluster.pick(), accepted)
            except httpx.TransportError as exc:
                if self.failover:
                    figures.failovers += 1
                else:
                    figures.dropped.append(f"query: {exc!r}")
                continue
            if status and status["state"] == "COMPLETED":
                files = figures.file_ids.setdefault(accepted.owner, [])
                for artifact in status["artifacts"]:
                    file_id = artifact.get("fileId")
                    if file_id and file_id not in files:
                        files.append(file_id)
            await self.sleep(0.05)

    async def subscriber(self, n: int) -> None:
        """A WebSocket client following one recent execution after another."""
        figures = self.figures
        owner = OWNERS[n % len(OWNERS)]
        api = self.cluster.apis[n % len(self.cluster.apis)]
        while not self.stop.is_set():
            try:
                async with connect(
                    api.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10
                ) as socket:
                    payload = {"Authorization": f"Bearer {self.token(owner)}"}
                    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
                    await asyncio.wait_for(socket.recv(), 10)
                    while not self.stop.is_set():
                        await self.follow_one(socket, owner)
            except (ConnectionClosed, WebSocketException, OSError, TimeoutError) as exc:
                if not self.stop.is_set():
                    figures.dropped.append(f"subscription socket: {exc!r}")
                    await self.sleep(1)

    async def follow_one(self, socket: ClientConnection, owner: str) -> None:
        figures = self.figures
        mine = [a.execution_id for a in figures.accepted.values() if a.owner == owner][-40:]
        if not mine:
            await self.sleep(0.5)
            return
        # Mostly recent executions, which are still running: that is where watchers work.
        execution_id = self.random.choice(mine)
        op = uuid.uuid4().hex[:8]
        payload = {"query": WATCH, "variables": {"id": execution_id}}
        await socket.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        figures.subscriptions += 1
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 120))
            if message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))
                continue
            if message.get("id") != op:
                continue
            if message["type"] == "next":
                figures.check_body(message["payload"], "subscription")
                event = (message["payload"].get("data") or {}).get("executionStatus")
                if event:
                    figures.subscription_events += 1
                    figures.stale_events += bool(event["stale"])
                    if event["state"] == "FAILED":
                        figures.reported_failed.add(execution_id)
            elif message["type"] == "error":
                figures.check_body({"errors": message["payload"]}, "subscription")
                await self.sleep(1)
                return
            if message["type"] == "complete" or self.stop.is_set():
                return

    async def sleep(self, seconds: float) -> None:
        """Sleep, cut short when the load stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def resolve_all(self, within: float) -> tuple[list[str], list[str]]:
        """Follow every accepted execution to a terminal status, as its owner reads it on
        every replica; the ones that never got there, and the ones some replica did not show
        its owner."""
        pending = {a.execution_id: a for a in self.figures.accepted.values()}
        invisible: set[str] = set()
        deadline = time.monotonic() + within
        while pending and time.monotonic() < deadline:
            for execution_id, accepted in list(pending.items()):
                statuses = [await self.status(api, accepted) for api in self.cluster.up()]
                if any(status is None for status in statuses):
                    invisible.add(execution_id)
                    continue
                invisible.discard(execution_id)
                if all(status and status["isTerminal"] for status in statuses):
                    self.final[execution_id] = statuses[0]["state"] if statuses[0] else "?"
                    del pending[execution_id]
            if pending:
                await asyncio.sleep(0.5)
        return sorted(pending), sorted(invisible)
