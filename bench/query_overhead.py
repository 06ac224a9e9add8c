"""Query overhead (issue 7, target 1): `executionStatus` over HTTP against a plain FastAPI route.

Three real processes on loopback: the reference Runtime, the Experience Plane (`experience-plane
serve`, one uvicorn worker, insecure development mode so that both sides skip authentication),
and the baseline (`bench/baseline_app.py`, uvicorn, one worker), whose one route makes the same
`RuntimeClient.get_execution` call and returns the same fields as JSON.

The execution read is kept running (the Runtime's phase delay is an hour), so the tracker's
terminal cache never answers: each GraphQL query, like each baseline request, costs exactly one
Runtime status read, which the Runtime's own counters confirm (column "Runtime reads / req").

The same load generator (aiohttp, `--concurrency` requests in flight) drives each side in turn
for `--duration` seconds, rounds alternating. Two figures per side: requests/s (all processes
share two cores, so this one is noisy), and the server process's CPU time per request, from
`/proc` — the honest "one worker, one core" figure: at one core the throughput is 1e6 / CPU µs.
The target: GraphQL reaches ≥ 85 % of the baseline's one-core throughput.

    .venv/bin/python bench/query_overhead.py [--duration 10] [--rounds 3] [--concurrency 16]
        [--pin] [--profile FILE]

`--pin` puts each server on CPU 0 and the Runtime and the load generator on CPU 1.
`--profile FILE` runs the API under cProfile and writes its profile to FILE on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import ProcessMeter, print_table, verdict
from tests.support.processes import ApiProcess, RuntimeProcess, ServiceProcess

from experience_plane.runtime import RuntimeCaller, RuntimeClient

HERE = Path(__file__).resolve().parent
TENANT = "dev-tenant"  # the insecure-dev principal's tenant (Settings.dev_tenant_id)
TARGET_RATIO = 0.85
QUERY = (
    "query Status($id: ID!) { executionStatus(executionId: $id) "
    "{ id state rawStatus isTerminal progress { phase percent } updatedAt } }"
)


class BaselineProcess(ServiceProcess):
    """`bench/baseline_app.py` under uvicorn, one worker, pointed at the Runtime."""

    name = "baseline"

    def __init__(self, runtime_url: str, log_dir: Path) -> None:
        super().__init__(log_dir, {"BENCH_RUNTIME_URL": runtime_url})

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "baseline_app:create_app",
            "--factory", "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip


class ProfiledApiProcess(ApiProcess):
    """The API under cProfile; the profile is written when the server exits."""

    def __init__(self, runtime_url: str, log_dir: Path, profile: Path) -> None:
        super().__init__(runtime_url, log_dir)
        self.profile = profile

    def command(self) -> list[str]:
        command = super().command()
        return [command[0], "-m", "cProfile", "-o", str(self.profile), *command[1:]]


@dataclass(frozen=True)
class Side:
    """One server under test and the request that asks it for the execution's status."""

    name: str
    url: str
    body: bytes
    meter: ProcessMeter


@dataclass(frozen=True)
class Sample:
    requests: int
    requests_per_second: float
    cpu_us_per_request: float
    runtime_reads_per_request: float


async def running_execution(runtime_url: str) -> str:
    """The id of an upload execution that stays running for the whole benchmark."""
    async with RuntimeClient(runtime_url) as client:
        session = await client.create_session(TENANT, "bench-user")
        submitted = await client.upload_content(
            RuntimeCaller(TENANT, "bench-user", session),
            filename="customers.csv",
            mime_type="text/csv",
            content=b"customer_id,name\n1,Ada\n",
        )
        assert submitted.execution_id is not None
        status = await client.get_execution(TENANT, submitted.execution_id)
        assert not status.state.is_terminal, status
        return submitted.execution_id


async def drive(side: Side, concurrency: int, duration: float) -> int:
    """`concurrency` clients sending the side's request back to back for `duration` seconds;
    every answer must be a 200 without errors. Returns the number of requests answered."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    deadline = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def client() -> int:
            done = 0
            while time.monotonic() < deadline:
                async with http.post(side.url, data=side.body) as response:
                    answer = await response.read()
                if (
                    response.status != 200
                    or b'"errors"' in answer
                    or b'"isTerminal":false' not in answer
                ):
                    raise SystemExit(f"{side.name}: unexpected answer {response.status} {answer!r}")
                done += 1
            return done

        counts = await asyncio.gather(*(client() for _ in range(concurrency)))
    return sum(counts)


def measure(
    side: Side, runtime: RuntimeProcess, execution: str, concurrency: int, duration: float
) -> Sample:
    asyncio.run(drive(side, concurrency, min(1.0, duration)))  # warm up the pools and caches
    runtime.reset_stats()
    cpu, wall = side.meter.cpu_seconds(), time.perf_counter()
    requests = asyncio.run(drive(side, concurrency, duration))
    elapsed, cpu = time.perf_counter() - wall, side.meter.cpu_seconds() - cpu
    reads = runtime.stats()["status_reads"].get(execution, 0)
    return Sample(requests, requests / elapsed, cpu / requests * 1e6, reads / requests)


def pin(pid: int | None, cpu: int) -> None:
    assert pid is not None
    os.sched_setaffinity(pid, {cpu % (os.cpu_count() or 1)})


def run(args: argparse.Namespace, data_dir: Path) -> bool:
    runtime_env = {
        "REFERENCE_RUNTIME_PHASE_DELAY": "3600",
        "REFERENCE_RUNTIME_LOG_LEVEL": "warning",
    }
    with RuntimeProcess(data_dir / "runtime", env=runtime_env) as runtime:
        if args.profile:
            api: ApiProcess = ProfiledApiProcess(runtime.url, data_dir / "api", args.profile)
        else:
            api = ApiProcess(runtime.url, data_dir / "api")
        with api, BaselineProcess(runtime.url, data_dir / "baseline") as baseline:
            if args.pin:
                pin(api.pid, 0)
                pin(baseline.pid, 0)
                pin(runtime.pid, 1)
                pin(os.getpid(), 1)
            execution = asyncio.run(running_execution(runtime.url))
            graphql_body = {"query": QUERY, "variables": {"id": execution}}
            baseline_body = {"tenant_id": TENANT, "execution_id": execution}
            assert baseline.pid is not None
            assert api.pid is not None
            sides = [
                Side(
                    "plain FastAPI route (baseline)",
                    baseline.url + "/status",
                    json.dumps(baseline_body).encode(),
                    ProcessMeter(baseline.pid),
                ),
                Side(
                    "GraphQL executionStatus",
                    api.graphql_url,
                    json.dumps(graphql_body).encode(),
                    ProcessMeter(api.pid),
                ),
            ]
            samples: dict[str, list[Sample]] = {side.name: [] for side in sides}
            for _ in range(args.rounds):
                for side in sides:
                    sample = measure(side, runtime, execution, args.concurrency, args.duration)
                    samples[side.name].append(sample)
    return report(args, sides, samples)


def report(args: argparse.Namespace, sides: list[Side], samples: dict[str, list[Sample]]) -> bool:
    def median(name: str) -> Sample:
        runs = samples[name]
        return Sample(
            sum(s.requests for s in runs),
            statistics.median(s.requests_per_second for s in runs),
            statistics.median(s.cpu_us_per_request for s in runs),
            statistics.median(s.runtime_reads_per_request for s in runs),
        )

    base, graphql = median(sides[0].name), median(sides[1].name)
    rows = []
    for side, sample in zip(sides, (base, graphql), strict=True):
        rows.append(
            [
                side.name,
                sample.requests,
                sample.runtime_reads_per_request,
                sample.requests_per_second,
                sample.requests_per_second / base.requests_per_second,
                sample.cpu_us_per_request,
                1e6 / sample.cpu_us_per_request,
                base.cpu_us_per_request / sample.cpu_us_per_request,
            ]
        )
    ratio = base.cpu_us_per_request / graphql.cpu_us_per_request
    met = ratio >= TARGET_RATIO
    overhead = graphql.cpu_us_per_request - base.cpu_us_per_request
    print_table(
        f"Query overhead: median of {args.rounds} rounds of {args.duration:g} s, "
        f"{args.concurrency} requests in flight{', pinned' if args.pin else ''}",
        [
            "server",
            "requests",
            "Runtime reads / req",
            "req/s (2 shared cores)",
            "÷ baseline",
            "server CPU µs / req",
            "one-core req/s",
            "one-core ÷ baseline",
        ],
        rows,
    )
    print(
        f"\nGraphQL at one core: {ratio:.0%} of the baseline (target ≥ {TARGET_RATIO:.0%}): "
        f"{verdict(met)}; GraphQL costs {overhead:.0f} µs more server CPU per request"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pin", action="store_true", help="servers on CPU 0, the rest on CPU 1")
    parser.add_argument("--profile", type=Path, help="cProfile the API into this file")
    parser.add_argument("--quick", action="store_true", help="3 s per side, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds = 3.0, 1
    with tempfile.TemporaryDirectory() as data_dir:
        run(args, Path(data_dir))
    # A missed target is a figure to report, not a failure of the benchmark.
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
