"""The app with `EXPERIENCE_REDIS_URL` set: ready without Redis (degraded), shared once it is up."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from experience_plane.settings import Settings, Tuning
from tests.experience_plane.support import running_app
from tests.support.processes import RuntimeProcess, free_port
from tests.support.redis import RedisServer


async def test_redis_missing_at_start_is_degraded_but_ready_then_recovers(
    runtime: RuntimeProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    settings = Settings(
        runtime_url=runtime.url,
        insecure_dev=True,
        redis_url=f"redis://:s3cret@127.0.0.1:{port}/0",
        tuning=Tuning(redis_timeout_seconds=0.5),
    )
    with caplog.at_level(logging.INFO, logger="experience_plane.cluster"):
        async with running_app(settings) as app:
            answer = await app.http.get("/readyz")
            assert answer.status_code == 200  # a replica alone still serves
            body = answer.json()
            assert body["status"] == "ready"
            assert body["redis"]["status"] == "degraded"
            # States only: no address (let alone its password), no error text.
            assert set(body["redis"]) == {"status", "effect", "replica_id"}
            assert "s3cret" not in answer.text
            assert str(port) not in answer.text
            # Requests keep working: a status query is answered (here: not found), no 500.
            query = '{ executionStatus(executionId: "nope") { __typename } }'
            assert (await app.http.post("/graphql", json={"query": query})).status_code == 200

            with RedisServer(tmp_path / "redis", port=port, password="s3cret"):
                for _ in range(100):
                    body = (await app.http.get("/readyz")).json()
                    if body["redis"]["status"] == "ok":
                        break
                    await asyncio.sleep(0.05)
                assert body["redis"]["status"] == "ok"
                assert app.services.cluster is not None
                assert app.services.cluster.watching.available
    messages = [record.getMessage() for record in caplog.records]
    assert sum("is unavailable" in message for message in messages) == 1
    assert sum("is available" in message for message in messages) == 1
    assert all("s3cret" not in message for message in messages)


async def test_without_a_redis_url_readyz_says_disabled(runtime: RuntimeProcess) -> None:
    async with running_app(Settings(runtime_url=runtime.url, insecure_dev=True)) as app:
        body = (await app.http.get("/readyz")).json()
    assert body["redis"] == {"status": "disabled"}
    assert app.services.cluster is None
