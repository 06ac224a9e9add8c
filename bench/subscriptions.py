"""Subscription fan-out (issue 7, targets 3 and 5): shared subscriptions, scale by scale.

For each scale point S (E = S/10 executions, S/E subscribers each), a fresh API process in
polling mode (`EXPERIENCE_TUNING__USE_RUNTIME_STREAM=false`, one poll interval P, no backoff)
over one reference Runtime whose executions advance a phase every D seconds (three changes, then
done); the executions are submitted evenly over P, so their changes are staggered, not one burst.
`--loaders` load-generator processes (`bench/subscription_load.py`) open S `executionStatus`
subscriptions over graphql-transport-ws, 500 to a connection. Measured from `/proc` of the API:
setup CPU and RSS growth until every subscription has had its first event ("ready"), per
subscription; steady CPU from "ready" until all have completed, per event delivered; the
Runtime's status reads per execution per poll interval; change-to-client latency p50/p99
(receive time minus the status's `updatedAt`). Baselines in the same run: one subscriber per
execution (the marginal cost of an event); the Runtime stream. Shared subscriptions and
permessage-deflate off are no longer switches (the comparisons that settled them, against
Strawberry's per-subscriber path and deflate on, are in docs/benchmarks.md).

    .venv/bin/python bench/subscriptions.py [--scales 100 1000 10000] [--loaders 2] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import ProcessMeter, mib, print_table, verdict
from tests.support.processes import ApiProcess, RuntimeProcess

from experience_plane.runtime import RuntimeCaller, RuntimeClient

HERE = Path(__file__).resolve().parent
CSV = b"customer_id,name,email\n1,Ada,ada@example.com\n2,Grace,grace@example.com\n"
TENANT = "bench"
PER_CONNECTION = 500
QUERY = (
    "subscription ($id: ID!) { executionStatus(executionId: $id) "
    "{ id state rawStatus progress { phase percent } updatedAt isTerminal stale } }"
)
MEMORY_TARGET_KIB = 40
CPU_TARGET_US = 60
LATENCY_SLACK_S = 0.25


@dataclass(frozen=True)
class Scenario:
    """What one run sets up: S subscriptions, S/E per execution, and the server's options."""

    label: str
    subscriptions: int
    per_execution: int
    stream: bool = False
    per_connection: int = PER_CONNECTION

    @property
    def executions(self) -> int:
        return self.subscriptions // self.per_execution

    @property
    def connections(self) -> int:
        return -(-self.subscriptions // self.per_connection)


@dataclass(frozen=True)
class Point:
    """One run's figures."""

    scenario: Scenario
    setup_cpu_s: float
    rss_growth_bytes: int
    steady_cpu_s: float
    events_after_ready: int
    events: int
    errors: int
    reads_per_round: float
    runtime_cores: float
    latency_p50_s: float
    latency_p99_s: float

    @property
    def subscriptions(self) -> int:
        return self.scenario.subscriptions

    @property
    def kib_per_subscription(self) -> float:
        return self.rss_growth_bytes / 1024 / self.subscriptions

    @property
    def kib_per_connection(self) -> float:
        return self.rss_growth_bytes / 1024 / self.scenario.connections

    @property
    def setup_us_per_subscription(self) -> float:
        return self.setup_cpu_s * 1e6 / self.subscriptions

    @property
    def us_per_event(self) -> float:
        return self.steady_cpu_s * 1e6 / max(self.events_after_ready, 1)


async def submit(url: str, count: int, spread: float) -> list[str]:
    """`count` uploads straight to the Runtime (the API's CPU is not spent on them), started
    evenly over `spread` seconds so their changes are staggered over a poll interval instead of
    arriving as one burst."""
    async with RuntimeClient(url) as client:
        session = await client.create_session(TENANT, "bench-user")
        caller = RuntimeCaller(TENANT, "bench-user", session)
        gate = asyncio.Semaphore(16)
        started = time.monotonic()

        async def one(index: int) -> str:
            await asyncio.sleep(max(0.0, started + index * spread / count - time.monotonic()))
            async with gate:
                submitted = await client.upload_content(
                    caller, filename=f"c{index}.csv", mime_type="text/csv", content=CSV
                )
            assert submitted.execution_id is not None
            return submitted.execution_id

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def start_load(
    api: ApiProcess, executions: list[str], scenario: Scenario, first_only: bool
) -> subprocess.Popen[str]:
    config = {
        "url": api.ws_url,
        "token": api.token(TENANT),
        "query": QUERY,
        "executions": executions,
        "per_execution": scenario.per_execution,
        "per_connection": scenario.per_connection,
        "first_only": first_only,
    }
    load = subprocess.Popen(
        [sys.executable, str(HERE / "subscription_load.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert load.stdin is not None
    load.stdin.write(json.dumps(config) + "\n")
    load.stdin.close()
    return load


def read_line(load: subprocess.Popen[str], key: str) -> dict[str, Any]:
    assert load.stdout is not None
    for line in load.stdout:
        message: dict[str, Any] = json.loads(line)
        if key in message:
            return message
    raise SystemExit(f"the load generator ended without {key!r} (exit {load.wait()})")


def status_reads(runtime: RuntimeProcess, executions: list[str]) -> int:
    reads = runtime.stats()["status_reads"]
    return sum(reads.get(e, 0) for e in executions)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_point(
    runtime: RuntimeProcess,
    logs: Path,
    scenario: Scenario,
    poll: float,
    phase_delay: float,
    loaders: int,
) -> Point:
    env = {
        "EXPERIENCE_TUNING__USE_RUNTIME_STREAM": str(scenario.stream).lower(),
        "EXPERIENCE_TUNING__POLL_INTERVAL_MIN": str(poll),
        "EXPERIENCE_TUNING__POLL_INTERVAL_MAX": str(poll),
        "EXPERIENCE_MAX_SUBSCRIPTIONS_PER_CONNECTION": str(scenario.per_connection),
        "EXPERIENCE_LOG_LEVEL": "warning",
    }
    name = f"api-{scenario.subscriptions}-{scenario.label.replace(' ', '-')}"
    with ApiProcess(runtime.url, logs / name, auth=True, env=env) as api:
        assert api.pid is not None
        assert runtime.pid is not None
        print(f"S={scenario.subscriptions:,} {scenario.label}: API pid {api.pid}", flush=True)
        meter, runtime_meter = ProcessMeter(api.pid), ProcessMeter(runtime.pid)
        runtime.set_faults(phase_delay=phase_delay)
        ids = asyncio.run(submit(runtime.url, scenario.executions, poll))
        # Warm-up: one subscription loads the code paths, so memory growth is per subscription.
        warm = start_load(api, ids[:1], replace(scenario, per_execution=1), first_only=True)
        read_line(warm, "ready")
        warm.wait(30)
        time.sleep(0.5)
        rss0, cpu0 = meter.rss_bytes(), meter.cpu_seconds()
        # Each load generator follows whole executions (and their connections) of its own.
        share = -(-len(ids) // loaders)
        loads = [
            start_load(api, ids[i : i + share], scenario, first_only=False)
            for i in range(0, len(ids), share)
        ]
        ready_at = max(float(read_line(load, "ready")["ready"]) for load in loads)
        cpu1, rss1, reads1 = meter.cpu_seconds(), meter.rss_bytes(), status_reads(runtime, ids)
        runtime_cpu1, wall1 = runtime_meter.cpu_seconds(), time.monotonic()
        dones = [read_line(load, "done") for load in loads]
        cpu2, reads2 = meter.cpu_seconds(), status_reads(runtime, ids)
        runtime_cores = (runtime_meter.cpu_seconds() - runtime_cpu1) / (time.monotonic() - wall1)
        for load in loads:
            load.wait(30)
    received = [t for done in dones for t in done["received"]]
    latencies = [t for done in dones for t in done["latencies"]]
    ended: dict[str, float] = {k: v for done in dones for k, v in done["ended"].items()}
    # The most reads one poller per execution can make after "ready": one every poll interval
    # (the watcher sleeps an interval after each read), plus the one the window opens on.
    rounds = sum(math.floor(max(end - ready_at, 0.0) / poll) + 1 for end in ended.values())
    return Point(
        scenario=scenario,
        setup_cpu_s=cpu1 - cpu0,
        rss_growth_bytes=rss1 - rss0,
        steady_cpu_s=cpu2 - cpu1,
        events_after_ready=sum(t >= ready_at for t in received),
        events=len(received),
        errors=sum(int(done["errors"]) for done in dones),
        reads_per_round=(reads2 - reads1) / rounds if rounds else float("nan"),
        runtime_cores=runtime_cores,
        latency_p50_s=percentile(latencies, 0.50),
        latency_p99_s=percentile(latencies, 0.99),
    )


def phase_delay(scenario: Scenario, poll: float, quick: bool) -> float:
    """Seconds per phase: the poll interval the submissions are spread over, plus about the time
    it takes to open every subscription, so that most changes happen once every subscription is
    open and the steady window has events."""
    if quick:
        return 0.5 + poll
    return poll + scenario.subscriptions * 0.0005


def scenarios(scales: list[int], per_execution: int) -> list[Scenario]:
    """The scaling curve; the control run (one subscriber per execution at the largest E); the
    Runtime stream instead of polling."""
    top = max(scales)
    small = min(max(scales), 1000)
    return [
        *(Scenario("shared", scale, per_execution) for scale in scales),
        Scenario("control", top // per_execution, 1),
        Scenario("shared, stream", small, per_execution, stream=True),
    ]


def report(points: list[Point], poll: float) -> None:
    print_table(
        f"Every run (poll interval {poll:g} s; stream: the Runtime's event stream, no polling)",
        [
            "mode", "S", "E", "conns", "setup CPU µs/sub", "RSS growth MiB", "KiB/sub",
            "KiB/conn", "steady CPU s", "events", "CPU µs/event", "reads/exec/round",
            "Runtime cores", "p50 ms", "p99 ms", "errors",
        ],
        [
            [
                p.scenario.label, p.subscriptions, p.scenario.executions, p.scenario.connections,
                p.setup_us_per_subscription, mib(p.rss_growth_bytes), p.kib_per_subscription,
                p.kib_per_connection, p.steady_cpu_s, p.events_after_ready, p.us_per_event,
                p.reads_per_round, p.runtime_cores, p.latency_p50_s * 1000,
                p.latency_p99_s * 1000, p.errors,
            ]
            for p in points
        ],
    )  # fmt: skip
    by_label: dict[str, dict[int, Point]] = {}
    for p in points:
        by_label.setdefault(p.scenario.label, {})[p.subscriptions] = p
    shared = by_label["shared"]
    top_scale = max(shared)
    top, control = shared[top_scale], next(iter(by_label["control"].values()))
    stream = next(iter(by_label["shared, stream"].values()))
    marginal = (
        (top.steady_cpu_s - control.steady_cpu_s)
        * 1e6
        / max(top.events_after_ready - control.events_after_ready, 1)
    )
    latency_limit = poll + LATENCY_SLACK_S
    print_table(
        f"Targets at {top.subscriptions:,} subscriptions over {top.scenario.executions:,} "
        "executions (shared)",
        ["target", "measured", "limit", "verdict"],
        [
            ["Runtime status reads per execution per poll round", top.reads_per_round, "≤ 1",
             verdict(top.reads_per_round <= 1.0)],
            ["change-to-client latency p99, polling (s)", top.latency_p99_s,
             f"≤ {latency_limit:g}", verdict(top.latency_p99_s <= latency_limit)],
            [f"change-to-client latency p99, stream, S={stream.subscriptions:,} (s)",
             stream.latency_p99_s,
             f"≤ {latency_limit:g}", verdict(stream.latency_p99_s <= latency_limit)],
            ["RSS growth per open subscription (KiB)", top.kib_per_subscription,
             f"≤ {MEMORY_TARGET_KIB}", verdict(top.kib_per_subscription <= MEMORY_TARGET_KIB)],
            ["API CPU per delivered event, all in, polling (µs)", top.us_per_event,
             f"≤ {CPU_TARGET_US}", verdict(top.us_per_event <= CPU_TARGET_US)],
            [f"API CPU per delivered event, all in, stream, S={stream.subscriptions:,} (µs)",
             stream.us_per_event,
             f"≤ {CPU_TARGET_US}", verdict(stream.us_per_event <= CPU_TARGET_US)],
            ["API CPU per delivered event, marginal (µs)", marginal, f"≤ {CPU_TARGET_US}",
             verdict(marginal <= CPU_TARGET_US)],
        ],
    )  # fmt: skip
    print(
        "\nmarginal: (steady CPU at S=10E - steady CPU of the control run with S=E, same E) / "
        "(events of one - events of the other): the cost of one more delivered event once the "
        "per-execution work (polling, one execution of the selection set) is paid."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="*", default=[100, 1000, 10_000])
    parser.add_argument("--per-execution", type=int, default=10)
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval, seconds")
    parser.add_argument(
        "--loaders", type=int, default=2, help="load-generator processes (one per core)"
    )
    parser.add_argument("--quick", action="store_true", help="200 subscriptions only")
    args = parser.parse_args()
    if args.quick:
        args.scales, args.poll = [200], 1.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        runtime_env = {"REFERENCE_RUNTIME_LOG_LEVEL": "warning"}
        with RuntimeProcess(logs / "runtime", env=runtime_env) as runtime:
            points: list[Point] = []
            for scenario in scenarios(args.scales, args.per_execution):
                begun = time.monotonic()
                delay = phase_delay(scenario, args.poll, args.quick)
                points.append(run_point(runtime, logs, scenario, args.poll, delay, args.loaders))
                print(
                    f"S={scenario.subscriptions:,} {scenario.label}: "
                    f"{time.monotonic() - begun:.0f} s",
                    flush=True,
                )
            report(points, args.poll)
    print(f"\nwall time: {time.monotonic() - started:.0f} s, {args.loaders} load generators")


if __name__ == "__main__":
    main()
