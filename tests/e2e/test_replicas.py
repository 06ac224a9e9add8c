"""Three API replicas over one Runtime and one real Redis: shared watching, keys and limits.

Every replica is a real `experience-plane serve` process with authentication on and the same
secret; Redis is a real `redis-server` of the test's own. Tenants are fresh per test, so the
module's shared processes never mix tests' executions, budgets or keys.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.client import request as gql_request
from tests.e2e.client import ws_client
from tests.e2e.raw import MASH, post, result, upload
from tests.support.processes import ApiProcess, RuntimeProcess, started_together
from tests.support.redis import RedisServer

REPLICAS = 3
LEASE_SECONDS = 2.0
RATE_BURST = 6  # the idempotency test makes five mutations in one tenant
PHASE_DELAY = 0.6
WATCH = """subscription ($id: ID!) { executionStatus(executionId: $id) { rawStatus isTerminal } }"""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    with RuntimeProcess(tmp_path_factory.mktemp("replicas") / "runtime") as process:
        process.set_faults(phase_delay=PHASE_DELAY)
        yield process


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def replicas(
    runtime: RuntimeProcess,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[ApiProcess]]:
    env = {
        "EXPERIENCE_AUTH_HS256_SECRET": secrets.token_urlsafe(32),
        "EXPERIENCE_REDIS_URL": redis_server.url,
        "EXPERIENCE_TUNING__REDIS_LEASE_SECONDS": str(LEASE_SECONDS),
        "EXPERIENCE_TUNING__REDIS_TIMEOUT_SECONDS": "0.5",
        "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0.01",
        "EXPERIENCE_RATE_LIMIT_BURST": str(RATE_BURST),
    }
    apis = [
        ApiProcess(runtime.url, tmp_path_factory.mktemp(f"api-{i}"), auth=True, env=env)
        for i in range(REPLICAS)
    ]
    with started_together(*apis):
        yield apis


def fresh_tenant() -> str:
    return "tenant-" + uuid.uuid4().hex[:12]


def readyz(api: ApiProcess) -> dict[str, Any]:
    answer = httpx.get(api.url + "/readyz", timeout=5)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def lease_holder(redis_server: RedisServer, tenant: str, execution_id: str) -> str | None:
    """The replica id holding the execution's lease, read with a raw RESP GET."""
    import socket

    key = f"experience:exec:{len(tenant)}:{tenant}:{execution_id}:lease".encode()
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=2) as sock:
        sock.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
        reply = sock.recv(256)
    if reply.startswith(b"$-1"):
        return None
    return reply.split(b"\r\n")[1].decode()


async def submit(api: ApiProcess, tenant: str, key: str | None = None) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        accepted = result(await upload(http, api, tenant=tenant, key=key), "uploadContent")
    assert accepted["__typename"] == "ExecutionAccepted", accepted
    execution_id: str = accepted["execution"]["executionId"]
    return execution_id


async def follow(api: ApiProcess, tenant: str, execution_id: str) -> list[str]:
    """The raw statuses a WebSocket subscriber on `api` sees, until the subscription ends."""
    seen: list[str] = []
    async with ws_client(api, tenant=tenant) as session:
        async for event in session.subscribe(gql_request(WATCH, id=execution_id)):
            seen.append(event["executionStatus"]["rawStatus"])
    return seen


def assert_consistent(views: list[list[str]]) -> None:
    """Everyone ends at the terminal status, sees no change twice, and the same order."""
    longest = max(views, key=len)
    for seen in views:
        assert seen[-1:] == ["completed"], views
        assert len(set(seen)) == len(seen), views
        assert longest[len(longest) - len(seen) :] == seen, views


async def test_subscribers_on_every_replica_see_every_change_from_one_watcher(
    replicas: list[ApiProcess], runtime: RuntimeProcess
) -> None:
    tenant = fresh_tenant()
    execution_id = await submit(replicas[0], tenant)
    views = await asyncio.gather(
        *(follow(api, tenant, execution_id) for api in replicas for _ in range(2))
    )
    assert_consistent(list(views))
    assert all(len(seen) > 1 for seen in views), views  # they joined while it ran
    stats = runtime.stats()
    # One watcher cluster-wide: one stream (and a first read), not one per replica.
    assert stats["stream_connections"].get(execution_id, 0) == 1, stats
    assert stats["status_reads"].get(execution_id, 0) <= 3, stats
    # A late subscriber anywhere gets the cached terminal status at once.
    assert await follow(replicas[2], tenant, execution_id) == ["completed"]


async def test_killing_the_lease_holder_moves_the_lease_and_nobody_misses_the_end(
    replicas: list[ApiProcess], runtime: RuntimeProcess, redis_server: RedisServer
) -> None:
    tenant = fresh_tenant()
    runtime.set_faults(phase_delay=2.0)  # long enough to kill the holder mid-way
    try:
        execution_id = await submit(replicas[0], tenant)
        tasks = [
            asyncio.create_task(follow(api, tenant, execution_id))
            for api in replicas
            for _ in range(2)
        ]
        holder = None
        deadline = time.monotonic() + 10
        while holder is None and time.monotonic() < deadline:
            holder = lease_holder(redis_server, tenant, execution_id)
            await asyncio.sleep(0.05)
        ids = {readyz(api)["redis"]["replica_id"]: index for index, api in enumerate(replicas)}
        assert holder in ids
        victim = ids[holder]
        replicas[victim].kill()

        successor = holder
        deadline = time.monotonic() + LEASE_SECONDS * 3
        while successor in (holder, None) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            successor = lease_holder(redis_server, tenant, execution_id)
        assert successor in ids, (holder, successor)
        assert successor != holder

        views = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        runtime.set_faults(phase_delay=PHASE_DELAY)
        replicas[victim].start()  # the module's other tests need all three

    survivors = [view for index, view in enumerate(views) if index // 2 != victim]
    assert all(isinstance(view, list) for view in survivors), survivors
    seen = [view for view in survivors if isinstance(view, list)]
    assert_consistent(seen)
    assert all(len(view) > 1 for view in seen)
    # The successor re-read the Runtime and streamed on: two watchers in all, never three.
    assert runtime.stats()["stream_connections"].get(execution_id, 0) == 2


async def test_a_retried_mutation_on_another_replica_returns_the_same_execution(
    replicas: list[ApiProcess], runtime: RuntimeProcess
) -> None:
    tenant, key = fresh_tenant(), str(uuid.uuid4())
    before = runtime.stats()["executions_created"].get("content.upload", 0)
    first = await submit(replicas[0], tenant, key)
    again = await submit(replicas[1], tenant, key)
    assert again == first
    # Concurrent repeats on every replica while the first is in flight share one execution.
    other = str(uuid.uuid4())
    runtime.set_faults(latency=0.5)
    try:
        ids = await asyncio.gather(*(submit(api, tenant, other) for api in replicas))
    finally:
        runtime.set_faults(latency=0)
    assert len(set(ids)) == 1
    assert ids[0] != first
    assert runtime.stats()["executions_created"]["content.upload"] == before + 2


async def test_the_rate_limit_is_shared_by_the_replicas(replicas: list[ApiProcess]) -> None:
    tenant = fresh_tenant()
    kinds = []
    async with httpx.AsyncClient(timeout=30) as http:
        for attempt in range(RATE_BURST + 2):
            api = replicas[attempt % REPLICAS]
            answer = result(await post(http, api, MASH, tenant=tenant, refs=[]), "createDataMash")
            kinds.append(answer["__typename"])
    # One budget of RATE_BURST for the tenant, not one per replica.
    assert kinds == ["InvalidInputError"] * RATE_BURST + ["RateLimitedError"] * 2


async def test_redis_down_degrades_every_replica_and_they_recover(
    replicas: list[ApiProcess], redis_server: RedisServer, runtime: RuntimeProcess
) -> None:
    redis_server.stop()
    try:
        for api in replicas:
            body = readyz(api)  # still ready: each replica serves alone
            assert body["status"] == "ready"
            assert body["redis"]["status"] == "degraded", body
        tenant = fresh_tenant()
        execution_id = await submit(replicas[0], tenant)
        views = await asyncio.gather(*(follow(api, tenant, execution_id) for api in replicas))
        assert_consistent(list(views))
    finally:
        redis_server.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(readyz(api)["redis"]["status"] == "ok" for api in replicas):
            break
        await asyncio.sleep(0.1)
    assert all(readyz(api)["redis"]["status"] == "ok" for api in replicas), [
        (readyz(api), api.log_text()[-3000:]) for api in replicas
    ]
    for api in replicas:
        assert "Redis at" in api.log_text()
        assert "is unavailable" in api.log_text()
        assert api.log_text().count("is unavailable") <= 3  # per transition, not per request

    # Shared again: one watcher for subscribers on every replica.
    tenant = fresh_tenant()
    execution_id = await submit(replicas[1], tenant)
    views = await asyncio.gather(*(follow(api, tenant, execution_id) for api in replicas))
    assert_consistent(list(views))
    assert runtime.stats()["stream_connections"].get(execution_id, 0) == 1
