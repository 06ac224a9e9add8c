"""ASGI server (issue 17): granian against uvicorn, server CPU per request and per WebSocket event.

Real processes on loopback: one reference Runtime (its phase delay an hour for the HTTP rows, so
every status read costs one Runtime read), and, side by side, each app under each server:

- the plain FastAPI route of `bench/baseline_app.py` (`POST /status`, one Runtime status read):
  uvicorn (one worker, its defaults: httptools, uvloop) against granian;
- the Experience Plane: `experience-plane serve --insecure-dev` (uvicorn as `cli.serve`
  configures it: one worker, the h11 protocol with the request-header timeout, no
  permessage-deflate) against the same app under granian; POST /graphql `executionStatus` and
  REST `GET /v1/execution/{id}/status`;
- WebSocket events: `--subscriptions` graphql-transport-ws `executionStatus` subscriptions on
  one connection, over executions whose phases change every `--phase-delay` seconds until done;
  server CPU from the first subscribe until every subscription has completed, per event.

Granian runs one worker, ASGI interface, HTTP/1, its default loop (uvloop here, as uvicorn's),
started by this script (`--serve-granian api|baseline`): granian's main process spawns the worker,
so the CPU measured is the worker's plus the main process's. This script is the load generator
(aiohttp, `--concurrency` requests in flight); each figure is the server's CPU time from
`/proc`, the honest one-worker-one-core figure, and the ratio against uvicorn on the same row,
same run (rounds alternate the servers).

    .venv/bin/pip install granian==2.8.9  # not a dependency: granian lost (docs/benchmarks.md)
    .venv/bin/python bench/asgi_servers.py [--duration 1.5] [--rounds 2] [--concurrency 16]
        [--subscriptions 200]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import CLOCK_TICKS, print_table, submit_uploads
from tests.support.processes import ApiProcess, RuntimeProcess, ServiceProcess

GRANIAN_VERSION = "2.8.9"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TENANT = "dev-tenant"  # the insecure-dev principal's tenant (Settings.dev_tenant_id)
STATUS_QUERY = (
    "query Status($id: ID!) { executionStatus(executionId: $id) "
    "{ id state rawStatus isTerminal progress { phase percent } updatedAt } }"
)
SUBSCRIPTION = (
    "subscription ($id: ID!) { executionStatus(executionId: $id) "
    "{ id state rawStatus progress { phase percent } updatedAt isTerminal stale } }"
)


# --- the servers -------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and of its live children (granian's worker), from `/proc`."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


class UvicornBaseline(ServiceProcess):
    """`bench/baseline_app.py` under uvicorn's command line, one worker, its defaults."""

    name = "baseline-uvicorn"
    health_path = "/health"

    def __init__(self, runtime_url: str, log_dir: Path) -> None:
        super().__init__(log_dir, {"BENCH_RUNTIME_URL": runtime_url})

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "baseline_app:create_app",
            "--factory", "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip


class GranianBaseline(UvicornBaseline):
    """The same app under granian (this script's `--serve-granian baseline`)."""

    name = "baseline-granian"

    def command(self) -> list[str]:
        return granian_command("baseline", self.port)


class GranianApi(ApiProcess):
    """The Experience Plane under granian, in insecure development mode like `ApiProcess()`."""

    name = "experience-plane-granian"

    def command(self) -> list[str]:
        command = granian_command("api", self.port)
        return command if self.auth else [*command, "--insecure-dev"]


def granian_command(app: str, port: int) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-granian",
        app,
        "--port",
        str(port),
    ]


def baseline_app() -> Any:
    """granian's factory for the baseline app (imported in granian's worker)."""
    sys.path.insert(0, str(HERE))
    from baseline_app import create_app

    return create_app()


def api_app() -> Any:
    """granian's factory for the Experience Plane, set up as `cli.serve` sets it up."""
    from experience_plane.app import create_app
    from experience_plane.cli import tune_garbage_collector
    from experience_plane.settings import Settings

    app = create_app(Settings())
    tune_garbage_collector()
    return app


def serve_granian(app: str, port: int, *, insecure_dev: bool) -> None:
    """Run `app` (`api` or `baseline`) under granian: one worker, ASGI, HTTP/1, default loop."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    if insecure_dev:
        os.environ["EXPERIENCE_INSECURE_DEV"] = "true"
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    header_timeout_ms = 10_000
    if app == "api":
        from experience_plane.settings import Settings

        header_timeout_ms = round(Settings().request_header_timeout_seconds * 1000)
    Server(
        f"bench.asgi_servers:{app}_app",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        http=HTTPModes.http1,
        websockets=True,
        http1_settings=HTTP1Settings(header_read_timeout=header_timeout_ms),
        log_access=False,
        factory=True,
        working_dir=ROOT,
    ).serve()


# --- HTTP load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What one HTTP row sends: method, path and body; `check` accepts an answer."""

    method: str
    path: str
    body: bytes | None
    check: Callable[[int, bytes], bool]


async def drive(url: str, request: Request, concurrency: int, duration: float) -> int:
    """`concurrency` clients sending `request` back to back for `duration` seconds."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    deadline = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def client() -> int:
            done = 0
            while time.monotonic() < deadline:
                async with http.request(request.method, url, data=request.body) as response:
                    answer = await response.read()
                if not request.check(response.status, answer):
                    raise SystemExit(f"{url}: unexpected answer {response.status} {answer!r}")
                done += 1
            return done

        counts = await asyncio.gather(*(client() for _ in range(concurrency)))
    return sum(counts)


def cpu_us_per_request(
    process: ServiceProcess, request: Request, concurrency: int, duration: float
) -> float:
    assert process.pid is not None
    url = process.url + request.path
    asyncio.run(drive(url, request, concurrency, min(0.5, duration)))  # warm up
    cpu = process_cpu_seconds(process.pid)
    done = asyncio.run(drive(url, request, concurrency, duration))
    return (process_cpu_seconds(process.pid) - cpu) / done * 1e6


def running(status: int, answer: bytes) -> bool:
    return status == 200 and b'"errors"' not in answer and b'"isTerminal":false' in answer


def rest_running(status: int, answer: bytes) -> bool:
    return status == 200 and b'"state":"' in answer


async def submit(runtime_url: str, count: int) -> list[str]:
    """`count` upload executions, submitted to the Runtime as the dev tenant."""
    return await submit_uploads(runtime_url, TENANT, "bench-user", count)


# --- WebSocket load ----------------------------------------------------------------------------


async def subscribe_all(ws_url: str, executions: list[str], per_execution: int) -> int:
    """Subscribe `per_execution` times to each execution over one graphql-transport-ws
    connection; returns the events received once every subscription has completed."""
    events = 0
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url, protocols=("graphql-transport-ws",), max_msg_size=0) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        ack = await ws.receive_json(timeout=10)
        assert ack["type"] == "connection_ack", ack
        open_ids = set()
        for index, execution in enumerate(executions * per_execution):
            await ws.send_json(
                {
                    "id": str(index),
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"id": execution}},
                }
            )
            open_ids.add(str(index))
        while open_ids:
            message = await ws.receive_json(timeout=60)
            if message["type"] == "next":
                if "errors" in message["payload"]:
                    raise SystemExit(f"subscription error: {message}")
                events += 1
            elif message["type"] == "complete":
                open_ids.discard(message["id"])
            elif message["type"] == "error":
                raise SystemExit(f"subscription error: {message}")
    return events


def cpu_us_per_event(
    api: ApiProcess, runtime_url: str, subscriptions: int, per_execution: int
) -> float:
    assert api.pid is not None
    executions = asyncio.run(submit(runtime_url, subscriptions // per_execution))
    cpu = process_cpu_seconds(api.pid)
    events = asyncio.run(subscribe_all(api.ws_url, executions, per_execution))
    return (process_cpu_seconds(api.pid) - cpu) / events * 1e6


# --- the run -----------------------------------------------------------------------------------


def http_rows(args: argparse.Namespace, data_dir: Path) -> dict[str, dict[str, list[float]]]:
    runtime_env = {
        "REFERENCE_RUNTIME_PHASE_DELAY": "3600",
        "REFERENCE_RUNTIME_LOG_LEVEL": "warning",
    }
    figures: dict[str, dict[str, list[float]]] = {}
    with RuntimeProcess(data_dir / "runtime", env=runtime_env) as runtime:
        (execution,) = asyncio.run(submit(runtime.url, 1))
        graphql_body = json.dumps({"query": STATUS_QUERY, "variables": {"id": execution}})
        plain = Request(
            "POST",
            "/status",
            json.dumps({"tenant_id": TENANT, "execution_id": execution}).encode(),
            running,
        )
        graphql = Request("POST", "/graphql", graphql_body.encode(), running)
        rest = Request("GET", f"/v1/execution/{execution}/status", None, rest_running)
        pairs: list[tuple[dict[str, Request], ServiceProcess, ServiceProcess]] = [
            (
                {"plain FastAPI route POST /status": plain},
                UvicornBaseline(runtime.url, data_dir / "bu"),
                GranianBaseline(runtime.url, data_dir / "bg"),
            ),
            (
                {"POST /graphql executionStatus": graphql, "GET /v1/execution/{id}/status": rest},
                ApiProcess(runtime.url, data_dir / "au"),
                GranianApi(runtime.url, data_dir / "ag"),
            ),
        ]
        for requests, uvicorn_side, granian_side in pairs:
            with uvicorn_side, granian_side:
                for row, request in requests.items():
                    figures[row] = {"uvicorn": [], "granian": []}
                    for _ in range(args.rounds):
                        for server, side in (("uvicorn", uvicorn_side), ("granian", granian_side)):
                            figures[row][server].append(
                                cpu_us_per_request(side, request, args.concurrency, args.duration)
                            )
    return figures


def ws_row(args: argparse.Namespace, data_dir: Path) -> dict[str, list[float]]:
    runtime_env = {
        "REFERENCE_RUNTIME_PHASE_DELAY": str(args.phase_delay),
        "REFERENCE_RUNTIME_LOG_LEVEL": "warning",
    }
    figures: dict[str, list[float]] = {"uvicorn": [], "granian": []}
    per_execution = 10
    # All subscriptions on one connection.
    limit = {"EXPERIENCE_MAX_SUBSCRIPTIONS_PER_CONNECTION": str(args.subscriptions)}
    with (
        RuntimeProcess(data_dir / "ws-runtime", env=runtime_env) as runtime,
        ApiProcess(runtime.url, data_dir / "wu", env=limit) as uvicorn_api,
        GranianApi(runtime.url, data_dir / "wg", env=limit) as granian_api,
    ):
        for _ in range(args.rounds):
            for server, api in (("uvicorn", uvicorn_api), ("granian", granian_api)):
                figures[server].append(
                    cpu_us_per_event(api, runtime.url, args.subscriptions, per_execution)
                )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1.5, help="seconds per HTTP sample")
    parser.add_argument("--rounds", type=int, default=2, help="samples per server and row")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP requests in flight")
    parser.add_argument("--subscriptions", type=int, default=200, help="WebSocket subscriptions")
    parser.add_argument("--phase-delay", type=float, default=0.3, help="Runtime seconds/phase")
    parser.add_argument("--serve-granian", choices=["api", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--insecure-dev", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_granian:
        serve_granian(args.serve_granian, args.port, insecure_dev=args.insecure_dev)
        return
    try:
        installed = importlib.metadata.version("granian")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != GRANIAN_VERSION:
        raise SystemExit(
            f"granian {GRANIAN_VERSION} is needed (found {installed}): "
            f".venv/bin/pip install granian=={GRANIAN_VERSION}"
        )
    with tempfile.TemporaryDirectory(prefix="bench-asgi-") as tmp:
        figures = http_rows(args, Path(tmp))
        figures["WebSocket event (graphql-transport-ws)"] = ws_row(args, Path(tmp))
    rows = []
    for row, by_server in figures.items():
        uvicorn_us = statistics.median(by_server["uvicorn"])
        granian_us = statistics.median(by_server["granian"])
        unit = "event" if "WebSocket" in row else "request"
        rows.append([row, unit, uvicorn_us, granian_us, f"{granian_us / uvicorn_us:.2f}"])
    print_table(
        f"granian {GRANIAN_VERSION} against uvicorn: server CPU per request or event (µs, "
        f"median of {args.rounds} rounds; ratio = granian / uvicorn, < 1: granian cheaper)",
        ["row", "per", "uvicorn (baseline)", "granian", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
