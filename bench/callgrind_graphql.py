"""Instructions per `executionStatus` query, in process, under callgrind (A/B for hot paths).

The app runs in production mode (HS256 bearer token) with its lifespan; the execution service's
status read is replaced by a stub answering a running execution at once, so that what is counted
is the API's own work per request: middleware, authentication, the GraphQL view, execution and
encoding. Requests are driven straight through the ASGI interface (no client, no sockets).

    .venv/bin/python bench/callgrind_graphql.py [--requests 400] [--path compiled|full]
        [--document text|trusted]

runs itself twice under `valgrind --tool=callgrind` (warm-up only, then warm-up plus
`--requests`) and prints the difference divided by the requests: instructions per request,
stable on a shared machine where timings are not. `--path full` turns compiled plans off
(`graphql.compiled`), for an A/B in one build. `--inner` runs the requests without valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experience_plane import runtime
from experience_plane.app import create_app
from experience_plane.auth import mint_token
from experience_plane.executions import Snapshot
from experience_plane.graphql import schema as schema_module
from experience_plane.settings import Environment, Settings

QUERY = (
    "query Status($id: ID!) { executionStatus(executionId: $id) "
    "{ id state rawStatus isTerminal progress { phase percent } updatedAt } }"
)
WARMUP = 50
SECRET = "callgrind-bench-secret-" + "x" * 16
STATUS = runtime.ExecutionStatus(
    execution_id="exec_1",
    state=runtime.ExecutionState.RUNNING,
    raw_status="running",
    intent_id="intent_1",
    intent_type="content.upload",
    progress=runtime.Progress(phase="profiling", percent=42.5),
    error=None,
    created_at=None,
    updated_at=None,
    artifacts=(),
    events=(),
)


async def _stub_get(principal: Any, execution_id: str) -> Snapshot:
    return Snapshot(STATUS)


async def drive(requests: int, path: str, data_dir: str) -> None:
    settings = Settings(
        runtime_url="http://127.0.0.1:9",
        environment=Environment.PRODUCTION,
        auth_hs256_secret=SECRET,
        data_dir=Path(data_dir),
    )
    if path == "full":  # the schema is built without compiled plans
        schema_module.compilable_schema = lambda extensions: False
    app = create_app(settings)
    token = mint_token(SECRET, tenant_id="t1", user_id="u1")
    body = json.dumps({"query": QUERY, "variables": {"id": "exec_1"}}).encode()
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/graphql-response+json, application/json"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    async with app.router.lifespan_context(app) as state:
        lifespan_state = dict(state or {})
        lifespan_state["services"].executions.get = _stub_get
        statuses: list[int] = []

        async def one() -> None:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/graphql",
                "raw_path": b"/graphql",
                "query_string": b"",
                "root_path": "",
                "headers": headers,
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
                "state": dict(lifespan_state),
            }
            sent = False

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            await app(scope, receive, send)

        for _ in range(WARMUP + requests):
            await one()
        if set(statuses) != {200}:
            raise SystemExit(f"unexpected statuses: {sorted(set(statuses))}")


def _instructions(requests: int, path: str) -> int:
    with tempfile.TemporaryDirectory() as out:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}/cg.out",
            sys.executable,
            __file__,
            "--inner",
            "--requests",
            str(requests),
            "--path",
            path,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        match = re.search(r"Collected : (\d+)", done.stderr)
        if match is None:
            raise SystemExit("callgrind printed no total")
        return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--path", choices=("compiled", "full"), default="compiled")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        with tempfile.TemporaryDirectory() as data_dir:
            asyncio.run(drive(args.requests, args.path, data_dir))
        return 0
    base = _instructions(0, args.path)
    total = _instructions(args.requests, args.path)
    per_request = (total - base) / args.requests
    print(f"path={args.path} requests={args.requests} instructions/request={per_request:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
