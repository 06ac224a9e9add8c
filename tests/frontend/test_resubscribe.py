"""graphql-ws's and graphql-sse's own clients across a rolling restart: a client subscribed
through replica A, which is SIGTERMed mid-execution, reconnects (its URL function now names
replica B, as a load balancer would route it), subscribes again and follows the execution to
COMPLETED. Two real API replicas on a real Redis, a real Runtime, and Node running the clients'
own npm packages (`tests/frontend/resubscribe`, pinned by its lockfile).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.raw import result, upload
from tests.support.frontend import NodeTools
from tests.support.node import npm_project
from tests.support.processes import ApiProcess, RuntimeProcess, started_together
from tests.support.redis import RedisServer

PACKAGE = Path(__file__).parent / "resubscribe"
PHASE_DELAY = 1.5  # the execution runs for several seconds: long enough to restart A mid-way


@pytest.fixture(scope="module")
def node(node_tools: NodeTools) -> str:
    """Node, with the clients' packages installed from their lockfile."""
    npm_project(PACKAGE)
    return node_tools.node


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    with RuntimeProcess(tmp_path_factory.mktemp("resubscribe") / "runtime") as process:
        process.set_faults(phase_delay=PHASE_DELAY)
        yield process


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def replicas(
    runtime: RuntimeProcess, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[ApiProcess, ApiProcess]]:
    """Replica A (the test SIGTERMs it) and replica B, sharing Redis and a secret."""
    env = {
        "EXPERIENCE_AUTH_HS256_SECRET": secrets.token_urlsafe(32),
        "EXPERIENCE_REDIS_URL": redis_server.url,
        "EXPERIENCE_TUNING__REDIS_LEASE_SECONDS": "2",
        "EXPERIENCE_TUNING__REDIS_TIMEOUT_SECONDS": "0.5",
        "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0",
    }
    a = ApiProcess(runtime.url, tmp_path / "api-a", auth=True, env=env)
    b = ApiProcess(runtime.url, tmp_path / "api-b", auth=True, env=env)
    with started_together(a, b):
        yield a, b


async def follow_with_node(
    node: str, transport: str, tenant: str, execution_id: str, a: ApiProcess, b: ApiProcess
) -> tuple[list[dict[str, Any]], int]:
    """Run the client; SIGTERM `a` once it has had its first event there. Its printed events
    and exit code."""
    token = a.token(tenant)
    urls = (
        (a.ws_url, b.ws_url)
        if transport == "ws"
        else (a.url + "/graphql/stream", b.url + "/graphql/stream")
    )
    process = await asyncio.create_subprocess_exec(
        node, str(PACKAGE / "resubscribe.mjs"), transport, execution_id, token, *urls,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(90):
            restarted = False
            while line := await process.stdout.readline():
                try:
                    seen.append(json.loads(line))
                except ValueError:
                    seen.append({"event": "output", "text": line.decode(errors="replace")})
                    continue
                if seen[-1]["event"] == "next" and not restarted:
                    restarted = True
                    code = await asyncio.to_thread(a.stop, signal.SIGTERM, 20)
                    assert code == 0, a.log_text()
            return seen, await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_the_standard_client_resubscribes_on_another_replica_and_sees_the_end(
    node: str, replicas: tuple[ApiProcess, ApiProcess], transport: str
) -> None:
    a, b = replicas
    tenant = "tenant-" + uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=30) as http:
        accepted = result(await upload(http, a, tenant=tenant), "uploadContent")
    execution_id = accepted["execution"]["id"]
    seen, exit_code = await follow_with_node(node, transport, tenant, execution_id, a, b)
    assert exit_code == 0, seen
    states = [event["state"] for event in seen if event["event"] == "next"]
    assert "errors" not in json.dumps(seen), seen
    assert states[0] != "COMPLETED", seen  # it was followed through the restart
    assert states[-1] == "COMPLETED", seen
    assert seen[-1] == {"event": "complete"}, seen
    closes = [event for event in seen if event["event"] == "closed"]
    assert closes, seen  # the restart was a lost connection to the client, not a completion
    if transport == "ws":
        assert closes[0]["code"] == 1012, closes
    connected = [event["url"] for event in seen if event["event"] == "connected"]
    assert any(
        url.startswith(b.url.replace("http", "ws")) or url.startswith(b.url) for url in connected
    ), seen
