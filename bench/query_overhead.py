"""Query overhead (issue 17, target 1): `executionStatus` and REST status against the floor.

Every side is a real process on loopback, one uvicorn worker each, reading the same reference
Runtime (its phase delay is an hour, so every execution stays running and no terminal cache ever
answers):

- **floor**: `bench/baseline_app.py`, a plain FastAPI route whose one Runtime status read is a
  bare aiohttp session, answering the same fields as JSON. A second row makes the read through
  the Experience Plane's `RuntimeClient` instead.
- `executionStatus` over HTTP POST /graphql in **production mode with an HS256 bearer token**
  (the product's real path, as tests/e2e run it), and again in insecure development mode.
- REST `GET /v1/execution/{id}/status` in production mode with the token.
- **peer**: `bench/strawberry_peer.py`, a default Strawberry app on FastAPI doing the floor's
  read in its resolver.

Each request costs exactly one Runtime read: the requests go round-robin over `--executions`
distinct running executions, so no two requests in flight ask for the same one and nothing is
answered from a cache; the Runtime's own counters confirm it ("Runtime reads / req"). Two more
rows are printed apart and do not count toward the target, because they change the work:
the *same* execution asked 16 at a time (concurrent identical reads are coalesced into one), and
an execution that a subscription (SSE) is watching (answered from the tracker's fresh snapshot).

The load generator is `wrk` (a separate C process; a Lua script sets the method, body, headers and
round-robin path, and counts any answer that is not a 200 with the expected body), or, when wrk is
not installed, an aiohttp generator in a process of its own. Figures per side: requests/s (all
processes share two cores: noisy) and the server's CPU time per request from `/proc` — the
honest "one worker, one core" figure: at one core the throughput is 1e6 / CPU µs. Ratios are
against the floor measured in the same run. Targets: GraphQL (production, token) ≥ 0.85 of the
floor, REST ≥ 0.95.

    .venv/bin/python bench/query_overhead.py [--duration 3] [--rounds 2] [--concurrency 16]
        [--executions 64] [--quick] [--loadgen wrk|aiohttp]

`bench/callgrind_request.py` counts the instructions of N requests run in-process through the
ASGI app under callgrind, for A/B decisions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import ProcessMeter, print_table, submit_uploads, verdict
from tests.support.processes import ApiProcess, RuntimeProcess, ServiceProcess

from experience_plane.runtime import RuntimeClient

HERE = Path(__file__).resolve().parent
TENANT = "t1"  # the token's tenant
DEV_TENANT = "dev-tenant"  # the insecure-dev principal's tenant (Settings.dev_tenant_id)
GRAPHQL_TARGET = 0.85
REST_TARGET = 0.95
QUERY = (
    "query Status($id: ID!) { executionStatus(executionId: $id) "
    "{ id state rawStatus isTerminal progress { phase percent } updatedAt } }"
)
# Every good answer carries this: the execution is running.
EXPECTED = '"isTerminal":false'
REST_EXPECTED = '"is_terminal":false'


class BenchApp(ServiceProcess):
    """A bench app (`bench/<module>.py`, `create_app` factory) under uvicorn, one worker."""

    def __init__(self, module: str, runtime_url: str, log_dir: Path) -> None:
        super().__init__(log_dir, {"BENCH_RUNTIME_URL": runtime_url, "BENCH_TENANT": TENANT})
        self.module = module
        self.name = module

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), f"{self.module}:create_app",
            "--factory", "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One server under test and the requests that ask it for an execution's status: `path`
    and `body` have `{id}` replaced by each execution id in turn."""

    name: str
    pid: int
    base_url: str
    method: str
    path: str
    ids: tuple[str, ...]
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    counts: bool = True  # toward the target (False: a row that changes the work)
    expected: str = EXPECTED

    def requests(self) -> list[tuple[str, str]]:
        return [
            (self.path.replace("{id}", i), self.body.replace("{id}", i) if self.body else "")
            for i in self.ids
        ]


@dataclass(frozen=True)
class Sample:
    requests: int
    requests_per_second: float
    cpu_us_per_request: float
    runtime_reads_per_request: float


# -- load generators ------------------------------------------------------------------------------

WRK_SCRIPT = """
local requests = {}
local index = 0
bad = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local path, body = line:match("^([^\\t]*)\\t(.*)$")
    if body == "" then body = nil end
    table.insert(requests, wrk.format(os.getenv("BENCH_METHOD"), path, nil, body))
  end
end
function request()
  index = index % #requests + 1
  return requests[index]
end
function response(status, headers, body)
  if status ~= 200 or not body:find(os.getenv("BENCH_EXPECTED"), 1, true)
     or body:find('"errors"', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("BENCH_RESULT %d %d %d\\n", summary.requests, total,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
"""


async def run_wrk(side: Side, concurrency: int, duration: float, work: Path) -> int:
    requests_file = work / "requests.tsv"
    requests_file.write_text("".join(f"{path}\t{body}\n" for path, body in side.requests()))
    script = work / "bench.lua"
    headers = [
        "Content-Type: application/json",
        "Accept: application/json",
        *(f"{k}: {v}" for k, v in side.headers),
    ]
    # wrk.format's headers argument cannot be built per side from Lua env easily: pass -H.
    script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "-s", str(script)]
    for header in headers:
        command += ["-H", header]
    env = {
        **os.environ,
        "BENCH_REQUESTS": str(requests_file),
        "BENCH_METHOD": side.method,
        "BENCH_EXPECTED": side.expected,
    }
    process = await asyncio.create_subprocess_exec(
        *command, side.base_url, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    text = out.decode()
    result = [line for line in text.splitlines() if line.startswith("BENCH_RESULT")]
    if process.returncode != 0 or not result:
        raise SystemExit(f"{side.name}: wrk failed: {text}")
    answered, bad, errors = (int(x) for x in result[0].split()[1:])
    if bad or errors:
        raise SystemExit(f"{side.name}: {bad} unexpected answers, {errors} socket errors")
    return answered


AIOHTTP_GENERATOR = """
import asyncio, json, sys, time
import aiohttp

async def main(spec):
    headers = dict(spec["headers"])
    requests = spec["requests"]
    deadline = time.monotonic() + spec["duration"]
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=spec["concurrency"]), headers=headers
    ) as http:
        async def client(offset):
            done = 0
            while time.monotonic() < deadline:
                path, body = requests[(offset + done * spec["concurrency"]) % len(requests)]
                async with http.request(
                    spec["method"], spec["base_url"] + path, data=body or None
                ) as response:
                    answer = await response.text()
                if response.status != 200 or spec["expected"] not in answer or '"errors"' in answer:
                    raise SystemExit(f"unexpected answer {response.status} {answer!r}")
                done += 1
            return done
        counts = await asyncio.gather(*(client(i) for i in range(spec["concurrency"])))
    print("BENCH_RESULT", sum(counts))

asyncio.run(main(json.loads(sys.argv[1])))
"""


async def run_aiohttp(side: Side, concurrency: int, duration: float) -> int:
    spec = {
        "headers": [
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            *side.headers,
        ],
        "requests": side.requests(),
        "duration": duration,
        "concurrency": concurrency,
        "method": side.method,
        "base_url": side.base_url,
        "expected": side.expected,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", AIOHTTP_GENERATOR, json.dumps(spec), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    lines = [line for line in out.decode().splitlines() if line.startswith("BENCH_RESULT")]
    if process.returncode != 0 or not lines:
        raise SystemExit(f"{side.name}: the aiohttp load generator failed")
    return int(lines[0].split()[1])


# -- the run --------------------------------------------------------------------------------------


async def running_executions(runtime_url: str, tenant: str, count: int) -> tuple[str, ...]:
    """`count` upload executions of `tenant` that stay running for the whole benchmark."""
    ids = await submit_uploads(runtime_url, tenant, "u1", count)
    async with RuntimeClient(runtime_url) as client:
        status = await client.get_execution(tenant, ids[0])
        assert not status.state.is_terminal, status
    return tuple(ids)


class Bench:
    def __init__(self, args: argparse.Namespace, runtime: RuntimeProcess, work: Path) -> None:
        self.args = args
        self.runtime = runtime
        self.work = work

    async def drive(self, side: Side, duration: float) -> int:
        if self.args.loadgen == "wrk":
            return await run_wrk(side, self.args.concurrency, duration, self.work)
        return await run_aiohttp(side, self.args.concurrency, duration)

    async def measure(self, side: Side) -> Sample:
        await self.drive(side, 1.0)  # warm up the pools and caches
        await asyncio.to_thread(self.runtime.reset_stats)
        meter = ProcessMeter(side.pid)
        cpu, wall = meter.cpu_seconds(), time.perf_counter()
        requests = await self.drive(side, self.args.duration)
        elapsed, cpu = time.perf_counter() - wall, meter.cpu_seconds() - cpu
        stats = await asyncio.to_thread(self.runtime.stats)
        reads = sum(stats["status_reads"].get(i, 0) for i in side.ids)
        return Sample(requests, requests / elapsed, cpu / requests * 1e6, reads / requests)


async def watch(url: str, headers: dict[str, str], opened: asyncio.Event) -> None:
    """Hold a subscription (SSE) open on an execution until cancelled."""
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response,
    ):
        if response.status != 200:
            raise SystemExit(f"watching {url}: {response.status}")
        async for _ in response.content:
            opened.set()


async def run(
    args: argparse.Namespace, data_dir: Path
) -> tuple[list[Side], dict[str, list[Sample]]]:
    runtime_env = {
        "REFERENCE_RUNTIME_PHASE_DELAY": "3600",
        "REFERENCE_RUNTIME_LOG_LEVEL": "warning",
    }
    with (
        RuntimeProcess(data_dir / "runtime", env=runtime_env) as runtime,
        ApiProcess(runtime.url, data_dir / "api", auth=True) as api,
        ApiProcess(runtime.url, data_dir / "api-dev") as dev_api,
        BenchApp("baseline_app", runtime.url, data_dir / "floor") as floor,
        BenchApp("strawberry_peer", runtime.url, data_dir / "peer") as peer,
    ):
        ids = await running_executions(runtime.url, TENANT, args.executions + 2)
        ids, lone, watched = ids[:-2], ids[-2:-1], ids[-1:]
        dev_ids = await running_executions(runtime.url, DEV_TENANT, args.executions)
        token = api.token(TENANT, "u1")
        auth = (("Authorization", f"Bearer {token}"),)
        graphql = json.dumps({"query": QUERY, "variables": {"id": "ID"}}).replace('"ID"', '"{id}"')
        pids = (api.pid, dev_api.pid, floor.pid, peer.pid)
        if None in pids:
            raise SystemExit("a server did not start")
        assert api.pid is not None
        assert dev_api.pid is not None
        assert floor.pid is not None
        assert peer.pid is not None
        rest = "/v1/execution/{id}/status"
        sides = [
            Side("floor: plain FastAPI route + bare aiohttp", floor.pid, floor.url, "GET",
                 "/status/{id}", ids),
            Side("floor with our RuntimeClient", floor.pid, floor.url, "GET", "/client/{id}", ids),
            Side("executionStatus, production, HS256 token", api.pid, api.url, "POST",
                 "/graphql", ids, graphql, auth),
            Side("executionStatus, insecure dev", dev_api.pid, dev_api.url, "POST", "/graphql",
                 dev_ids, graphql),
            Side("REST status, production, HS256 token", api.pid, api.url, "GET", rest, ids,
                 "", auth, expected=REST_EXPECTED),
            Side("peer: default Strawberry on FastAPI", peer.pid, peer.url, "POST", "/graphql",
                 ids, graphql),
            Side("REST status, one execution, 16 in flight (coalesced)", api.pid, api.url, "GET",
                 rest, lone, "", auth, counts=False, expected=REST_EXPECTED),
            Side("REST status, a watched execution (tracker snapshot)", api.pid, api.url, "GET",
                 rest, watched, "", auth, counts=False,
                 expected=REST_EXPECTED),
        ]  # fmt: skip
        bench = Bench(args, runtime, data_dir)
        samples: dict[str, list[Sample]] = {side.name: [] for side in sides}
        opened = asyncio.Event()
        watcher = asyncio.create_task(
            watch(f"{api.url}/v1/execution/{watched[0]}/events", dict(auth), opened)
        )
        try:
            await asyncio.wait_for(opened.wait(), 10)
            for _ in range(args.rounds):
                for side in sides:
                    samples[side.name].append(await bench.measure(side))
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    return sides, samples


def report(args: argparse.Namespace, sides: list[Side], samples: dict[str, list[Sample]]) -> None:
    def median(name: str) -> Sample:
        runs = samples[name]
        return Sample(
            sum(s.requests for s in runs),
            statistics.median(s.requests_per_second for s in runs),
            statistics.median(s.cpu_us_per_request for s in runs),
            statistics.median(s.runtime_reads_per_request for s in runs),
        )

    base = median(sides[0].name)
    medians = {side.name: median(side.name) for side in sides}

    def rows(counting: bool) -> list[list[object]]:
        return [
            [
                side.name,
                sample.requests,
                sample.runtime_reads_per_request,
                sample.requests_per_second,
                sample.requests_per_second / base.requests_per_second,
                sample.cpu_us_per_request,
                base.cpu_us_per_request / sample.cpu_us_per_request,
            ]
            for side in sides
            if side.counts is counting
            for sample in [medians[side.name]]
        ]

    headers = [
        "side",
        "requests",
        "Runtime reads / req",
        "req/s (2 shared cores)",
        "÷ floor",
        "server CPU µs / req",
        "one-core ÷ floor",
    ]
    print_table(
        f"Query overhead ({args.loadgen}): median of {args.rounds} rounds of {args.duration:g} s, "
        f"{args.concurrency} in flight, round-robin over {args.executions} running executions",
        headers,
        rows(True),
    )
    print_table("Rows that change the work (not counted toward the target)", headers, rows(False))

    def ratio(index: int) -> float:
        return base.cpu_us_per_request / medians[sides[index].name].cpu_us_per_request

    graphql, rest, peer = ratio(2), ratio(4), ratio(5)
    print(
        f"\nexecutionStatus, production + token, at one core: {graphql:.2f} of the floor "
        f"(target ≥ {GRAPHQL_TARGET}): {verdict(graphql >= GRAPHQL_TARGET)}"
    )
    print(
        f"REST status, production + token, at one core: {rest:.2f} of the floor "
        f"(target ≥ {REST_TARGET}): {verdict(rest >= REST_TARGET)}"
    )
    print(f"peer (default Strawberry) at one core: {peer:.2f} of the floor")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per side per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--executions", type=int, default=64, help="distinct executions")
    parser.add_argument("--loadgen", choices=["wrk", "aiohttp"], default=None)
    parser.add_argument("--quick", action="store_true", help="2 s per side, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds = 2.0, 1
    if args.loadgen is None:
        args.loadgen = "wrk" if shutil.which("wrk") else "aiohttp"
        if args.loadgen == "aiohttp":
            print("wrk is not installed (apt-get install wrk): using the aiohttp load generator")
    with tempfile.TemporaryDirectory() as data_dir:
        sides, samples = asyncio.run(run(args, Path(data_dir)))
    report(args, sides, samples)
    # A missed target is a figure to report, not a failure of the benchmark.
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
