"""Runtime requests per execution with 1 and 3 replicas sharing Redis, against 3 without it.

Starts a reference Runtime, a `redis-server` of its own and the API replicas as real processes
on loopback. For each setup it submits E uploads and follows each with S WebSocket subscribers
spread round-robin over the replicas, until every subscriber has seen the terminal status; then it
reads the Runtime's own counters (`/_control/stats`: status reads and stream connections per
execution) and the replicas' CPU time from /proc. The baseline is 3 replicas without Redis, where
every replica with a subscriber runs its own watcher.

    .venv/bin/python bench/replicas.py [--executions 20] [--subscribers 12] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tests.e2e.client import request, ws_client
from tests.e2e.raw import result, upload
from tests.support.processes import ApiProcess, RuntimeProcess
from tests.support.redis import RedisServer

from harness import ProcessMeter, print_table, verdict

WATCH = """subscription ($id: ID!) { executionStatus(executionId: $id) { rawStatus } }"""
TENANT = "bench"


@dataclass(frozen=True)
class Outcome:
    setup: str
    replicas: int
    requests_per_execution: float
    streams_per_execution: float
    reads_per_execution: float
    events: int
    complete: bool
    cpu_seconds: float


async def follow(api: ApiProcess, execution_id: str) -> list[str]:
    seen: list[str] = []
    async with ws_client(api, tenant=TENANT) as session:
        async for event in session.subscribe(request(WATCH, id=execution_id)):
            seen.append(event["executionStatus"]["rawStatus"])
    return seen


async def drive(apis: list[ApiProcess], executions: int, subscribers: int) -> list[list[str]]:
    async with httpx.AsyncClient(timeout=60) as http:
        answers = await asyncio.gather(
            *(upload(http, apis[i % len(apis)], tenant=TENANT) for i in range(executions))
        )
    ids = [result(answer, "uploadContent")["execution"]["id"] for answer in answers]
    followers = [
        follow(apis[(e + s) % len(apis)], execution_id)
        for e, execution_id in enumerate(ids)
        for s in range(subscribers)
    ]
    return list(await asyncio.gather(*followers))


def run_setup(
    setup: str,
    runtime: RuntimeProcess,
    redis_url: str | None,
    replicas: int,
    args: argparse.Namespace,
    logs: Path,
) -> Outcome:
    env = {"EXPERIENCE_AUTH_HS256_SECRET": secrets.token_urlsafe(32)}
    if redis_url:
        env["EXPERIENCE_REDIS_URL"] = redis_url
    with ExitStack() as stack:
        apis = [
            stack.enter_context(ApiProcess(runtime.url, logs / f"{setup}-{i}", auth=True, env=env))
            for i in range(replicas)
        ]
        meters = [ProcessMeter(api.pid) for api in apis if api.pid is not None]
        cpu_before = sum(meter.cpu_seconds() for meter in meters)
        runtime.reset_stats()
        views = asyncio.run(drive(apis, args.executions, args.subscribers))
        cpu = sum(meter.cpu_seconds() for meter in meters) - cpu_before
    stats = runtime.stats()
    streams = sum(stats["stream_connections"].values())
    reads = sum(stats["status_reads"].values())
    return Outcome(
        setup=setup,
        replicas=replicas,
        requests_per_execution=(streams + reads) / args.executions,
        streams_per_execution=streams / args.executions,
        reads_per_execution=reads / args.executions,
        events=sum(len(view) for view in views),
        complete=all(view[-1:] == ["completed"] for view in views),
        cpu_seconds=cpu,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=12, help="per execution")
    parser.add_argument("--phase-delay", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="5 executions x 6 subscribers")
    args = parser.parse_args()
    if args.quick:
        args.executions, args.subscribers = 5, 6
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        root = Path(tmp)
        with (
            RuntimeProcess(root / "runtime") as runtime,
            RedisServer(root / "redis") as redis_server,
        ):
            runtime.set_faults(phase_delay=args.phase_delay)
            outcomes = [
                run_setup("3 replicas, no Redis (baseline)", runtime, None, 3, args, root),
                run_setup("1 replica, Redis", runtime, redis_server.url, 1, args, root),
                run_setup("3 replicas, Redis", runtime, redis_server.url, 3, args, root),
            ]
    baseline = outcomes[0].requests_per_execution
    print(
        f"\n{args.executions} executions x {args.subscribers} WebSocket subscribers each, "
        f"round-robin over the replicas; Runtime phase delay {args.phase_delay} s"
    )
    print_table(
        "Runtime requests per execution",
        [
            "setup",
            "Runtime requests / execution",
            "streams",
            "status reads",
            "vs baseline",
            "events delivered",
            "all saw the end",
            "replicas' CPU s",
        ],
        [
            (
                o.setup,
                o.requests_per_execution,
                o.streams_per_execution,
                o.reads_per_execution,
                f"{o.requests_per_execution / baseline:.2f}x",
                o.events,
                o.complete,
                o.cpu_seconds,
            )
            for o in outcomes
        ],
    )
    one, three = outcomes[1], outcomes[2]
    print_table(
        "Targets (issue 8)",
        ["target", "measured", "verdict"],
        [
            (
                "3 replicas cost the Runtime what 1 does (one watcher per execution)",
                f"{three.requests_per_execution:.2f} vs {one.requests_per_execution:.2f}",
                verdict(three.requests_per_execution <= one.requests_per_execution + 0.5),
            ),
            (
                "every subscriber saw the terminal status",
                f"{sum(o.complete for o in outcomes)}/3 setups",
                verdict(all(o.complete for o in outcomes)),
            ),
        ],
    )


if __name__ == "__main__":
    main()
