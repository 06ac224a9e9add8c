"""Client CPU per status read (issue 7 target 2, issue 17 target 3): our client and bare HTTP
clients, against a bare aiohttp session measured in the same run.

Starts a reference Runtime as a real process, creates one completed execution, then times N
sequential reads of its status and N reads issued C at a time, for each row:

- `bare aiohttp` (the floor): the same GET through a bare aiohttp `ClientSession` (read, not
  parsed; no breaker, retries or typed errors), i.e. what aiohttp alone costs here;
- `bare pyreqwest`, `bare rnet`: the same bare GET through the two Rust-based clients on PyPI;
- `RuntimeClient (aiohttp)`: `RuntimeClient.get_execution` as shipped;
- `RuntimeClient (pyreqwest)`: the same client with its requests carried by pyreqwest (a
  `Carrier` defined here and put in with `RuntimeClient(instrument=...)`).

`time.process_time()` counts every thread of this process only (pyreqwest and rnet do their I/O
on Rust threads, which it counts too; the Runtime is another process), so the figure is what the
Experience Plane pays per poll. Rounds alternate the rows and the median is reported, with its
ratio to the same run's floor.

    .venv/bin/python bench/runtime_client.py [--requests 600] [--concurrency 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import rnet
from pyreqwest.client import Client, ClientBuilder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import print_table, verdict
from tests.support.processes import RuntimeProcess

from experience_plane.runtime import RuntimeCaller, RuntimeClient
from experience_plane.runtime.transport import Answer, Body, Carrier

TARGET_US = 200  # issue 17, target 3: client CPU per Runtime status read

FLOOR = "bare aiohttp (floor)"
DEFAULT = "RuntimeClient (aiohttp, default)"
ROWS = (FLOOR, "bare pyreqwest", "bare rnet", DEFAULT, "RuntimeClient (pyreqwest)")

CSV = b"customer_id,name,email\n1,Ada,ada@example.com\n2,Grace,grace@example.com\n"

Read = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Sample:
    cpu_us_per_request: float
    requests_per_second: float


class PyreqwestCarrier:
    """`RuntimeClient`'s requests carried by one pyreqwest `Client` (the candidate carrier):
    whole bodies only, enough for status reads."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._client: Client = ClientBuilder().max_connections(100).build()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        url = self._base_url + path + ("?" + urlencode(params) if params else "")
        builder = self._client.request(method, url)
        if headers:
            builder = builder.headers(dict(headers))
        if isinstance(content, bytes):
            builder = builder.body_bytes(content)
        response = await builder.build().send()
        body = bytes(await response.bytes())
        return Answer(method, path, url, response.status, dict(response.headers.items()), body)

    async def aclose(self) -> None:
        await self._client.close()


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


async def timed(read: Read, n: int, concurrency: int) -> tuple[Sample, Sample]:
    """N sequential reads, then N reads C at a time, after a warm-up."""
    for _ in range(50):  # warm the pool and the code paths
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


async def measure(
    row: str, url: str, tenant: str, execution: str, n: int, concurrency: int
) -> tuple[Sample, Sample]:
    target = f"{url}/api/execution/{execution}/status?tenant_id={tenant}"
    if row == FLOOR:
        async with aiohttp.ClientSession() as session:

            async def aiohttp_read() -> None:
                async with session.get(target) as response:
                    await response.read()

            return await timed(aiohttp_read, n, concurrency)
    if row == "bare pyreqwest":
        async with ClientBuilder().max_connections(100).build() as pyreqwest_client:

            async def pyreqwest_read() -> None:
                response = await pyreqwest_client.get(target).build().send()
                await response.bytes()

            return await timed(pyreqwest_read, n, concurrency)
    if row == "bare rnet":
        rnet_client = rnet.Client()

        async def rnet_read() -> None:
            response = await rnet_client.get(target)
            await response.bytes()

        return await timed(rnet_read, n, concurrency)

    def carried_by_pyreqwest(_: Carrier) -> Carrier:
        return PyreqwestCarrier(url)

    instrument = carried_by_pyreqwest if row.endswith("(pyreqwest)") else None
    async with RuntimeClient(url, instrument=instrument) as client:

        async def client_read() -> None:
            await client.get_execution(tenant, execution)

        return await timed(client_read, n, concurrency)


async def run(url: str, n: int, concurrency: int, rounds: int) -> None:
    tenant, execution = await completed_execution(url)
    modes = ("sequential", f"concurrent x{concurrency}")
    results: dict[tuple[str, str], list[Sample]] = {}
    for _ in range(rounds):
        for row in ROWS:
            samples = await measure(row, url, tenant, execution, n, concurrency)
            for mode, sample in zip(modes, samples, strict=True):
                results.setdefault((row, mode), []).append(sample)

    def median(row: str, mode: str) -> Sample:
        samples = results[(row, mode)]
        return Sample(
            statistics.median(s.cpu_us_per_request for s in samples),
            statistics.median(s.requests_per_second for s in samples),
        )

    table: list[list[object]] = []
    met = True
    for mode in modes:
        floor = median(FLOOR, mode)
        for row in ROWS:
            sample = median(row, mode)
            if row == DEFAULT:
                met = met and sample.cpu_us_per_request <= TARGET_US
            table.append(
                [
                    mode,
                    row,
                    sample.cpu_us_per_request,
                    sample.cpu_us_per_request / floor.cpu_us_per_request,
                    sample.requests_per_second,
                ]
            )
    print_table(
        f"Runtime status read, {n} requests per run, median of {rounds} rounds",
        ["mode", "row", "client CPU µs / read", "÷ floor", "reads/s"],
        table,
    )
    print(
        f"\n{DEFAULT} at ≤ {TARGET_US} µs client CPU per status read in both modes: {verdict(met)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
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
