"""Client CPU per status read (issue 7, target 2): the aiohttp carrier against httpx's own.

Starts a reference Runtime as a real process, creates one completed execution, then times
`RuntimeClient.get_execution` as shipped (aiohttp directly) and with httpx's own transport injected
(`RuntimeClient(transport=httpx.AsyncHTTPTransport(...))`, the baseline; httpx over aiohttp, the
other former carrier, is no longer a dependency), N sequential reads and N reads issued C at a
time. `time.process_time()` counts this process only (the Runtime is another process), so the figure
is what the Experience Plane pays per poll. Rounds alternate the transports and the median is
reported. A last row per mode is the floor: the same GET through a bare aiohttp `ClientSession`
(read, not parsed; no breaker, retries or typed errors), i.e. what aiohttp alone costs here.

    .venv/bin/python bench/runtime_client.py [--requests 2000] [--concurrency 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import print_table, verdict
from tests.support.processes import RuntimeProcess

from experience_plane.runtime import RuntimeCaller, RuntimeClient
from experience_plane.runtime.transport import DEFAULT_LIMITS

TARGET_US = 200  # issue 7, target 2: client CPU per Runtime request

BASELINE = "httpx"
DEFAULT = "aiohttp"
CARRIERS = (BASELINE, DEFAULT)

CSV = b"customer_id,name,email\n1,Ada,ada@example.com\n2,Grace,grace@example.com\n"


@dataclass(frozen=True)
class Sample:
    cpu_us_per_request: float
    requests_per_second: float


async def completed_execution(url: str) -> tuple[str, str]:
    """A tenant and the id of one completed upload execution to read over and over."""
    async with RuntimeClient(url) as client:
        session = await client.create_session("bench", "bench-user")
        caller = RuntimeCaller("bench", "bench-user", session)
        submitted = await client.upload_content(
            caller, filename="customers.csv", mime_type="text/csv", content=CSV
        )
        assert submitted.execution_id is not None
        status = await client.get_execution("bench", submitted.execution_id)
        while not status.state.is_terminal:
            await asyncio.sleep(0.01)
            status = await client.get_execution("bench", submitted.execution_id)
        return "bench", submitted.execution_id


async def measure(
    url: str, carrier: str, tenant: str, execution: str, n: int, concurrency: int
) -> tuple[Sample, Sample]:
    transport = (
        httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS, retries=0, trust_env=False)
        if carrier == BASELINE
        else None
    )
    async with RuntimeClient(url, transport=transport) as client:
        for _ in range(50):  # warm the pool and the code paths
            await client.get_execution(tenant, execution)

        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await client.get_execution(tenant, execution)
        sequential = Sample((time.process_time() - cpu) / n * 1e6, n / (time.perf_counter() - wall))

        async def worker(count: int) -> None:
            for _ in range(count):
                await client.get_execution(tenant, execution)

        shares = [n // concurrency + (i < n % concurrency) for i in range(concurrency)]
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(share) for share in shares))
        concurrent = Sample((time.process_time() - cpu) / n * 1e6, n / (time.perf_counter() - wall))
    return sequential, concurrent


async def measure_floor(
    url: str, tenant: str, execution: str, n: int, concurrency: int
) -> tuple[Sample, Sample]:
    """The same reads through a bare aiohttp session: the floor under any client."""
    target = f"{url}/api/execution/{execution}/status?tenant_id={tenant}"
    async with aiohttp.ClientSession() as session:

        async def read() -> None:
            async with session.get(target) as response:
                await response.read()

        for _ in range(50):
            await read()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await read()
        sequential = Sample((time.process_time() - cpu) / n * 1e6, n / (time.perf_counter() - wall))

        async def worker(count: int) -> None:
            for _ in range(count):
                await read()

        shares = [n // concurrency + (i < n % concurrency) for i in range(concurrency)]
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(share) for share in shares))
        concurrent = Sample((time.process_time() - cpu) / n * 1e6, n / (time.perf_counter() - wall))
    return sequential, concurrent


async def run(url: str, n: int, concurrency: int, rounds: int) -> None:
    tenant, execution = await completed_execution(url)
    results: dict[tuple[str, str], list[Sample]] = {}
    floors: dict[str, list[Sample]] = {}
    for _ in range(rounds):
        for kind in CARRIERS:
            sequential, concurrent = await measure(url, kind, tenant, execution, n, concurrency)
            results.setdefault((kind, "sequential"), []).append(sequential)
            results.setdefault((kind, f"concurrent x{concurrency}"), []).append(concurrent)
        sequential, concurrent = await measure_floor(url, tenant, execution, n, concurrency)
        floors.setdefault("sequential", []).append(sequential)
        floors.setdefault(f"concurrent x{concurrency}", []).append(concurrent)

    def median(kind: str | None, mode: str) -> Sample:
        samples = floors[mode] if kind is None else results[(kind, mode)]
        return Sample(
            statistics.median(s.cpu_us_per_request for s in samples),
            statistics.median(s.requests_per_second for s in samples),
        )

    rows: list[list[object]] = []
    met = True
    for mode in ("sequential", f"concurrent x{concurrency}"):
        baseline = median(BASELINE, mode)
        for kind in CARRIERS:
            sample = median(kind, mode)
            label = f"{kind} (baseline)" if kind == BASELINE else kind
            if kind == DEFAULT:
                label += " (default)"
                met = met and sample.cpu_us_per_request <= TARGET_US
            rows.append(
                [
                    mode,
                    label,
                    sample.cpu_us_per_request,
                    baseline.cpu_us_per_request / sample.cpu_us_per_request,
                    sample.requests_per_second,
                ]
            )
        floor = median(None, mode)
        rows.append(
            [
                mode,
                "bare aiohttp session (floor: no client, no parsing)",
                floor.cpu_us_per_request,
                baseline.cpu_us_per_request / floor.cpu_us_per_request,
                floor.requests_per_second,
            ]
        )
    print_table(
        f"RuntimeClient.get_execution, {n} requests per run, median of {rounds} rounds",
        ["mode", "transport", "client CPU µs / req", "baseline ÷ this", "req/s"],
        rows,
    )
    print(
        f"\nDefault transport ({DEFAULT}) at ≤ {TARGET_US} µs client CPU per "
        f"request in both modes: {verdict(met)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 requests, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 200, 1
    with (
        tempfile.TemporaryDirectory() as data_dir,
        RuntimeProcess(
            Path(data_dir) / "runtime", env={"REFERENCE_RUNTIME_LOG_LEVEL": "warning"}
        ) as runtime,
    ):
        asyncio.run(run(runtime.url, args.requests, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
