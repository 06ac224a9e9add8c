"""Instructions per request of the Experience Plane, counted by callgrind, for A/B decisions.

The API app runs in this process, its requests handed straight to the ASGI app (no client socket,
no HTTP server); only its Runtime read goes over loopback to a reference Runtime started as a
separate process (not counted). The script runs itself twice under
`valgrind --tool=callgrind`, with `--warmup` + `--small` and `--warmup` + `--large` requests, and
prints (instructions(large) - instructions(small)) / (large - small): the cost of one request
with start-up, imports and warm-up taken out. Callgrind counts instructions, so the figure is
stable on a loaded machine where wall-clock and CPU time are not.

    .venv/bin/python bench/callgrind_request.py [--request rest|graphql|graphql-dev]
        [--small 50] [--large 250] [--warmup 50] [--out DIR]

`--out DIR` keeps the two callgrind.out files (open the large one with callgrind_annotate).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import RuntimeProcess

from experience_plane.auth import mint_token
from experience_plane.runtime import RuntimeCaller, RuntimeClient

QUERY = (
    "query Status($id: ID!) { executionStatus(executionId: $id) "
    "{ id state rawStatus isTerminal progress { phase percent } updatedAt } }"
)


async def running_executions(runtime_url: str, tenant: str, count: int) -> list[str]:
    ids = []
    async with RuntimeClient(runtime_url) as client:
        session = await client.create_session(tenant, "u1")
        caller = RuntimeCaller(tenant, "u1", session)
        for n in range(count):
            submitted = await client.upload_content(
                caller, filename=f"c{n}.csv", mime_type="text/csv", content=b"a,b\n1,2\n"
            )
            assert submitted.execution_id is not None
            ids.append(submitted.execution_id)
    return ids


async def call(
    app: Any, state: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    """One request through the ASGI app; the answer's body (a non-200 is an error)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": dict(state or {}),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    answer = b"".join(chunks)
    if status != 200 or b"errors" in answer:
        raise SystemExit(f"{method} {path}: {status} {answer!r}")
    return answer


async def serve_requests(args: argparse.Namespace) -> None:
    """The child: build the app, run its lifespan, answer warm-up + N requests."""
    production = args.request != "graphql-dev"
    os.environ["EXPERIENCE_ENVIRONMENT"] = "production" if production else "development"
    if production:
        secret = os.environ["BENCH_SECRET"]
        os.environ["EXPERIENCE_AUTH_HS256_SECRET"] = secret
    else:
        os.environ["EXPERIENCE_INSECURE_DEV"] = "true"
    from experience_plane.app import create_app  # after the environment is set

    app = create_app()
    ids: list[str] = json.loads(os.environ["BENCH_IDS"])
    headers = [(b"accept", b"application/json"), (b"content-type", b"application/json")]
    if production:
        token = mint_token(secret, tenant_id="t1", user_id="u1")
        headers.append((b"authorization", f"Bearer {token}".encode()))
    async with app.router.lifespan_context(app) as state:
        for n in range(args.warmup + args.count):
            execution = ids[n % len(ids)]
            if args.request == "rest":
                await call(app, state, "GET", f"/v1/execution/{execution}/status", headers, b"")
            else:
                body = json.dumps({"query": QUERY, "variables": {"id": execution}}).encode()
                await call(app, state, "POST", "/graphql", headers, body)


def instructions(out_file: Path) -> int:
    for line in out_file.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {out_file}")


def measure(args: argparse.Namespace, count: int, env: dict[str, str], out_dir: Path) -> int:
    out_file = out_dir / f"callgrind.out.{args.request}.{count}"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
        sys.executable, __file__, "--child", "--request", args.request,
        "--warmup", str(args.warmup), "--count", str(count),
    ]  # fmt: skip
    subprocess.run(command, env=env, check=True, stderr=subprocess.PIPE)
    return instructions(out_file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--request", choices=["rest", "graphql", "graphql-dev"], default="rest")
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--large", type=int, default=250)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(serve_requests(args))
        return 0
    with tempfile.TemporaryDirectory() as work:
        out_dir = args.out or Path(work)
        out_dir.mkdir(parents=True, exist_ok=True)
        env_runtime = {
            "REFERENCE_RUNTIME_PHASE_DELAY": "3600",
            "REFERENCE_RUNTIME_LOG_LEVEL": "warning",
        }
        with RuntimeProcess(Path(work) / "runtime", env=env_runtime) as runtime:
            tenant = "dev-tenant" if args.request == "graphql-dev" else "t1"
            ids = asyncio.run(running_executions(runtime.url, tenant, 64))
            env = {
                **os.environ,
                "EXPERIENCE_RUNTIME_URL": runtime.url,
                "EXPERIENCE_DATA_DIR": str(Path(work) / "api-data"),
                "EXPERIENCE_LOG_LEVEL": "warning",
                "BENCH_IDS": json.dumps(ids),
                "BENCH_SECRET": secrets.token_urlsafe(32),
            }
            small = measure(args, args.small, env, out_dir)
            large = measure(args, args.large, env, out_dir)
    per_request = (large - small) / (args.large - args.small)
    print(
        f"{args.request}: {per_request:,.0f} instructions per request "
        f"({small:,} for {args.small}, {large:,} for {args.large}, after {args.warmup} warm-up)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
