"""GraphiQL in a real headless Chromium (Debian's, driven by playwright-core), as a frontend
developer meets it on a machine without internet: the reference Runtime and the API in
development mode run as real processes, every non-loopback request is blocked and counted, and
GraphiQL must load, introspect with the dev token it starts with, run a query and follow a
subscription to COMPLETED. Screenshots are kept in tests/frontend/artifacts/graphiql/."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from experience_plane.graphiql import GraphiQLAssets
from tests.e2e.raw import result, upload
from tests.support.node import node_binary, npm_project
from tests.support.packages import system_binary
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

HERE = Path(__file__).parent
ARTIFACTS = HERE.parent / "artifacts" / "graphiql"
# Slow enough (an upload takes about three phases) that the subscription sees it run.
PHASE_DELAY = 1.5


@pytest.fixture(scope="module")
def dev_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """A reference Runtime of this module's own (phases slowed), and the API as
    `experience-plane dev` runs it: development mode, real authentication, GraphiQL starting
    with a dev token."""
    root = tmp_path_factory.mktemp("graphiql")
    runtime = RuntimeProcess(
        root / "runtime", env={"REFERENCE_RUNTIME_PHASE_DELAY": str(PHASE_DELAY)}
    )
    api = ApiProcess(
        runtime.url, root / "api-logs", auth=True, env={"EXPERIENCE_ENVIRONMENT": "development"}
    )
    api.env["EXPERIENCE_GRAPHIQL_DEV_TOKEN"] = api.token()
    with started_together(runtime, api):
        yield api


async def drive_graphiql(api: ApiProcess, options: dict[str, str]) -> dict[str, Any]:
    """Run drive-graphiql.mjs with `options`; once GraphiQL has loaded, start an execution (an
    upload) and hand the script its id; the script's report."""
    process = await asyncio.create_subprocess_exec(
        node_binary(),
        str(HERE / "drive-graphiql.mjs"),
        json.dumps(options),
        cwd=npm_project(HERE),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), timeout=120)
        if json.loads(first or b"{}").get("event") == "loaded":
            async with httpx.AsyncClient(timeout=30) as http:
                accepted = result(await upload(http, api), "uploadContent")
            process.stdin.write(f"{accepted['execution']['executionId']}\n".encode())
            await process.stdin.drain()
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    report: dict[str, Any] = json.loads((first + stdout).decode().strip().splitlines()[-1])
    return report


async def test_graphiql_runs_a_query_and_a_subscription_with_the_internet_blocked(
    dev_api: ApiProcess,
) -> None:
    assert GraphiQLAssets.load() is not None, "GraphiQL's assets are not built: make graphiql"
    chromium = system_binary("chromium", "chromium", "or any Chromium at /usr/bin/chromium")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)

    report = await drive_graphiql(
        dev_api,
        {"url": dev_api.graphql_url, "artifacts": str(ARTIFACTS), "chromium": chromium},
    )
    print(f"GraphiQL screenshots: {', '.join(report['screenshots'])}")
    print(f"GraphiQL's subscription showed: {' -> '.join(report['subscriptionStates'])}")

    assert report["error"] is None, report
    assert report["blocked"] == [], "GraphiQL tried to leave the machine"
    # ... and that is checked: a CDN request from the page was refused and counted.
    assert report["probeAnswered"] is False
    assert report["probeCounted"] is True
    assert report["pageErrors"] == [], report["pageErrors"]
    assert "Show GraphiQL Explorer" in report["plugins"]  # the explorer plugin is there
    # The first introspection succeeds: GraphiQL started with the dev token in its headers.
    assert report["introspection"] == {"status": 200, "queryType": "Query", "errors": None}
    assert '"executionStatus": {' in report["query"]
    assert '"state":' in report["query"]
    # Live: the subscription showed the execution running, then COMPLETED.
    states = report["subscriptionStates"]
    assert states[-1] == "COMPLETED", states
    assert len(states) >= 2, states
    assert '"isTerminal": true' in report["subscription"]
    assert len(report["screenshots"]) == 3
