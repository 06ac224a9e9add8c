"""Subscription fan-out (issue 7, targets 3 and 5): shared subscriptions against Strawberry's path.

For each scale point S (E = S/10 executions, S/E subscribers each), a fresh API process in
polling mode (`EXPERIENCE_USE_RUNTIME_STREAM=false`, one poll interval P, no backoff) over one
reference Runtime whose executions advance a phase every D seconds (three changes, then done).
A load-generator process (`bench/subscription_load.py`) opens S `executionStatus` subscriptions
over graphql-transport-ws, 500 to a connection. Measured from `/proc` of the API process:

- setup: CPU and resident-memory growth from before the first subscribe to every subscription
  having had its first event ("ready"), per subscription;
- steady: CPU from "ready" until every subscription has completed, per event delivered;
- the Runtime's status reads (its `/_control/stats`) per execution per poll interval;
- change-to-client latency (client receive time minus the status's `updatedAt`).

Each point runs twice, with `EXPERIENCE_SUBSCRIPTION_SHARING` true and false (Strawberry's
per-subscriber path: the baseline, in the same run). A control run with one subscriber per
execution at the largest E gives the marginal CPU of one more delivered event.

    .venv/bin/python bench/subscriptions.py [--scales 100 1000 10000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

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
class Point:
    """One run: S subscriptions over E executions, sharing on or off."""

    sharing: bool
    subscriptions: int
    executions: int
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
    def kib_per_subscription(self) -> float:
        return self.rss_growth_bytes / 1024 / self.subscriptions

    @property
    def setup_us_per_subscription(self) -> float:
        return self.setup_cpu_s * 1e6 / self.subscriptions

    @property
    def us_per_event(self) -> float:
        return self.steady_cpu_s * 1e6 / max(self.events_after_ready, 1)


async def submit(url: str, count: int) -> list[str]:
    """`count` uploads straight to the Runtime (the API's CPU is not spent on them)."""
    async with RuntimeClient(url) as client:
        session = await client.create_session(TENANT, "bench-user")
        caller = RuntimeCaller(TENANT, "bench-user", session)
        gate = asyncio.Semaphore(16)

        async def one(index: int) -> str:
            async with gate:
                submitted = await client.upload_content(
                    caller, filename=f"c{index}.csv", mime_type="text/csv", content=CSV
                )
            assert submitted.execution_id is not None
            return submitted.execution_id

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def start_load(
    api: ApiProcess, executions: list[str], per_execution: int, first_only: bool
) -> subprocess.Popen[str]:
    config = {
        "url": api.ws_url,
        "token": api.token(TENANT),
        "query": QUERY,
        "executions": executions,
        "per_execution": per_execution,
        "per_connection": PER_CONNECTION,
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


def read_line(load: subprocess.Popen[str], key: str) -> dict[str, object]:
    assert load.stdout is not None
    for line in load.stdout:
        message: dict[str, object] = json.loads(line)
        if key in message:
            return message
    raise SystemExit(f"the load generator ended without {key!r} (exit {load.wait()})")


def status_reads(runtime: RuntimeProcess, executions: list[str]) -> int:
    reads = runtime.stats()["status_reads"]
    return sum(reads.get(e, 0) for e in executions)


def run_point(
    runtime: RuntimeProcess,
    logs: Path,
    subscriptions: int,
    per_execution: int,
    sharing: bool,
    poll: float,
    phase_delay: float,
) -> Point:
    executions = subscriptions // per_execution
    env = {
        "EXPERIENCE_USE_RUNTIME_STREAM": "false",
        "EXPERIENCE_POLL_INTERVAL_MIN": str(poll),
        "EXPERIENCE_POLL_INTERVAL_MAX": str(poll),
        "EXPERIENCE_SUBSCRIPTION_SHARING": str(sharing).lower(),
        "EXPERIENCE_MAX_SUBSCRIPTIONS_PER_CONNECTION": str(PER_CONNECTION),
        "EXPERIENCE_LOG_LEVEL": "warning",
    }
    with ApiProcess(
        runtime.url, logs / f"api-{subscriptions}-{sharing}", auth=True, env=env
    ) as api:
        assert api.pid is not None
        assert runtime.pid is not None
        print(f"S={subscriptions:,} sharing={sharing}: API pid {api.pid}", flush=True)
        meter, runtime_meter = ProcessMeter(api.pid), ProcessMeter(runtime.pid)
        runtime.set_faults(phase_delay=phase_delay)
        ids = asyncio.run(submit(runtime.url, executions))
        # Warm-up: one subscription loads the code paths, so memory growth is per subscription.
        warm = start_load(api, ids[:1], 1, first_only=True)
        read_line(warm, "ready")
        warm.wait(30)
        time.sleep(0.5)
        rss0, cpu0 = meter.rss_bytes(), meter.cpu_seconds()
        load = start_load(api, ids, per_execution, first_only=False)
        ready = read_line(load, "ready")
        cpu1, rss1, reads1 = meter.cpu_seconds(), meter.rss_bytes(), status_reads(runtime, ids)
        runtime_cpu1, wall1 = runtime_meter.cpu_seconds(), time.monotonic()
        done = read_line(load, "done")
        cpu2, reads2 = meter.cpu_seconds(), status_reads(runtime, ids)
        runtime_cores = (runtime_meter.cpu_seconds() - runtime_cpu1) / (time.monotonic() - wall1)
        load.wait(30)
    ready_at = float(ready["ready"])  # type: ignore[arg-type]
    ended: dict[str, float] = done["ended"]  # type: ignore[assignment]
    # Execution-seconds followed after "ready", in poll intervals: rounds each execution was due.
    rounds = sum(max(end - ready_at, 0.0) for end in ended.values()) / poll
    return Point(
        sharing=sharing,
        subscriptions=subscriptions,
        executions=executions,
        setup_cpu_s=cpu1 - cpu0,
        rss_growth_bytes=rss1 - rss0,
        steady_cpu_s=cpu2 - cpu1,
        events_after_ready=int(done["events_after_ready"]),  # type: ignore[call-overload]
        events=int(done["events"]),  # type: ignore[call-overload]
        errors=int(done["errors"]),  # type: ignore[call-overload]
        reads_per_round=(reads2 - reads1) / rounds if rounds else float("nan"),
        runtime_cores=runtime_cores,
        latency_p50_s=float(done["latency_p50"]),  # type: ignore[arg-type]
        latency_p99_s=float(done["latency_p99"]),  # type: ignore[arg-type]
    )


def phase_delay(subscriptions: int, sharing: bool, poll: float, quick: bool) -> float:
    """Seconds per phase: at least a poll interval, plus about the time it takes to open every
    subscription (measured here: Strawberry's path is the slower), so that most changes happen
    once every subscription is open and the steady window has events to count."""
    if quick:
        return 2.0
    return poll + subscriptions * (0.0008 if sharing else 0.002)


def mode(point: Point) -> str:
    return "shared" if point.sharing else "per-subscriber"


def report(points: list[Point], control: Point, poll: float) -> None:
    print_table(
        f"Scaling curve (polling mode, poll interval {poll:g} s, E = S/10)",
        [
            "mode", "S", "E", "setup CPU µs/sub", "RSS growth MiB", "KiB/sub",
            "steady CPU s", "events", "CPU µs/event", "reads/exec/round", "Runtime cores", "p50 ms",
            "p99 ms", "errors",
        ],
        [
            [
                mode(p), p.subscriptions, p.executions, p.setup_us_per_subscription,
                mib(p.rss_growth_bytes), p.kib_per_subscription, p.steady_cpu_s,
                p.events_after_ready, p.us_per_event, p.reads_per_round, p.runtime_cores,
                p.latency_p50_s * 1000, p.latency_p99_s * 1000, p.errors,
            ]
            for p in [*points, control]
        ],
    )  # fmt: skip
    by_scale: dict[int, dict[bool, Point]] = {}
    for p in points:
        by_scale.setdefault(p.subscriptions, {})[p.sharing] = p
    print_table(
        "Sharing against Strawberry's per-subscriber path (same run)",
        [
            "S", "CPU µs/event shared", "per-subscriber", "ratio", "setup µs/sub shared",
            "per-subscriber", "ratio", "KiB/sub shared", "per-subscriber", "ratio",
        ],
        [
            [
                s, pair[True].us_per_event, pair[False].us_per_event,
                f"{pair[False].us_per_event / pair[True].us_per_event:.2f}x",
                pair[True].setup_us_per_subscription, pair[False].setup_us_per_subscription,
                f"{pair[False].setup_cpu_s / pair[True].setup_cpu_s:.2f}x",
                pair[True].kib_per_subscription, pair[False].kib_per_subscription,
                f"{pair[False].rss_growth_bytes / max(pair[True].rss_growth_bytes, 1):.2f}x",
            ]
            for s, pair in sorted(by_scale.items())
            if len(pair) == 2
        ],
    )  # fmt: skip
    top = by_scale[max(by_scale)][True]
    marginal = (
        (top.steady_cpu_s - control.steady_cpu_s)
        * 1e6
        / max(top.events_after_ready - control.events_after_ready, 1)
    )
    latency_limit = poll + LATENCY_SLACK_S
    print_table(
        f"Targets at {top.subscriptions:,} subscriptions over {top.executions:,} executions "
        "(shared)",
        ["target", "measured", "limit", "verdict"],
        [
            ["Runtime status reads per execution per poll round", top.reads_per_round, "≤ 1",
             verdict(top.reads_per_round <= 1.0)],
            ["change-to-client latency p99 (s)", top.latency_p99_s, f"≤ {latency_limit:g}",
             verdict(top.latency_p99_s <= latency_limit)],
            ["RSS growth per open subscription (KiB)", top.kib_per_subscription,
             f"≤ {MEMORY_TARGET_KIB}", verdict(top.kib_per_subscription <= MEMORY_TARGET_KIB)],
            ["API CPU per delivered event, all in (µs)", top.us_per_event, f"≤ {CPU_TARGET_US}",
             verdict(top.us_per_event <= CPU_TARGET_US)],
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
    parser.add_argument("--quick", action="store_true", help="200 subscriptions only")
    args = parser.parse_args()
    if args.quick:
        args.scales, args.poll = [200], 1.0
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        runtime_env = {"REFERENCE_RUNTIME_LOG_LEVEL": "warning"}
        with RuntimeProcess(logs / "runtime", env=runtime_env) as runtime:
            points: list[Point] = []
            for scale in args.scales:
                for sharing in (True, False):
                    started = time.monotonic()
                    delay = phase_delay(scale, sharing, args.poll, args.quick)
                    point = run_point(
                        runtime, logs, scale, args.per_execution, sharing, args.poll, delay
                    )
                    points.append(point)
                    print(
                        f"S={scale:,} {mode(point)}: {time.monotonic() - started:.0f} s",
                        flush=True,
                    )
            top = max(args.scales)
            control = run_point(
                runtime, logs, top // args.per_execution, 1, True, args.poll,
                phase_delay(top, True, args.poll, args.quick),
            )  # fmt: skip
            report(points, control, args.poll)


if __name__ == "__main__":
    main()
