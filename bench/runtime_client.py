"""Client CPU per status read: httpx's own transport against aiohttp's (httpx-aiohttp).

Starts a reference Runtime as a real process, creates one completed execution, then times
`RuntimeClient.get_execution` with each transport, N sequential reads and N reads issued C at a
time. `time.process_time()` counts this process only (the Runtime is another process), so the
figure is what the Experience Plane pays per poll. Rounds alternate the transports and the median
is reported.

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import RuntimeProcess

from experience_plane.runtime import RuntimeCaller, RuntimeClient
from experience_plane.runtime.transport import DEFAULT_LIMITS, TransportKind, make_transport

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
    url: str, kind: TransportKind, tenant: str, execution: str, n: int, concurrency: int
) -> tuple[Sample, Sample]:
    async with RuntimeClient(url, transport=make_transport(kind, DEFAULT_LIMITS)) as client:
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


async def run(url: str, n: int, concurrency: int, rounds: int) -> None:
    tenant, execution = await completed_execution(url)
    results: dict[tuple[TransportKind, str], list[Sample]] = {}
    for _ in range(rounds):
        for kind in TransportKind:
            sequential, concurrent = await measure(url, kind, tenant, execution, n, concurrency)
            results.setdefault((kind, "sequential"), []).append(sequential)
            results.setdefault((kind, f"concurrent x{concurrency}"), []).append(concurrent)

    def median(kind: TransportKind, mode: str) -> Sample:
        samples = results[(kind, mode)]
        return Sample(
            statistics.median(s.cpu_us_per_request for s in samples),
            statistics.median(s.requests_per_second for s in samples),
        )

    print(f"get_execution, {n} requests per run, median of {rounds} rounds")
    print(f"{'mode':<16} {'transport':<9} {'CPU µs/req':>11} {'req/s':>8}")
    modes = ["sequential", f"concurrent x{concurrency}"]
    for mode in modes:
        for kind in TransportKind:
            sample = median(kind, mode)
            print(
                f"{mode:<16} {kind.value:<9} {sample.cpu_us_per_request:>11.0f} "
                f"{sample.requests_per_second:>8.0f}"
            )
        ratio = (
            median(TransportKind.HTTPX, mode).cpu_us_per_request
            / median(TransportKind.AIOHTTP, mode).cpu_us_per_request
        )
        print(f"{mode:<16} {'ratio':<9} {ratio:>10.2f}x  (httpx CPU / aiohttp CPU)")


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
