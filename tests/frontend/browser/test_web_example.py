"""examples/web in a real headless Chromium (Debian's, driven by playwright-core), as a frontend
developer runs it on a machine without internet: the reference Runtime and the API in
development mode with real authentication run as real processes, `serve.mjs` serves the page
and the built TypeScript client from another loopback origin, and every non-loopback request is
blocked and counted. The page gets its endpoint and token from its query string (as
examples/web/README.md documents); the browser chooses two files in its file input, and the page
must show each upload's progress bar full, follow its status live to COMPLETED, mash the two and
list the records. Screenshots are kept in tests/frontend/artifacts/web-example/."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.frontend import NodeTools
from tests.support.node import npm_project
from tests.support.packages import system_binary
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
EXAMPLE = ROOT / "examples" / "web"
FILES = (ROOT / "examples" / "customers.csv", ROOT / "examples" / "policies.json")
ARTIFACTS = HERE.parent / "artifacts" / "web-example"
# Slow enough (three phases per execution) that the page shows each one running.
PHASE_DELAY = 0.5
SERVER_START_TIMEOUT = 30.0
DRIVER_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def dev_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """A reference Runtime of this module's own (phases slowed), and the API as
    `experience-plane dev` runs it: development mode (pages on loopback origins allowed over
    CORS and WebSockets, nothing configured) with real authentication."""
    root = tmp_path_factory.mktemp("web-example")
    runtime = RuntimeProcess(
        root / "runtime", env={"REFERENCE_RUNTIME_PHASE_DELAY": str(PHASE_DELAY)}
    )
    api = ApiProcess(
        runtime.url, root / "api-logs", auth=True, env={"EXPERIENCE_ENVIRONMENT": "development"}
    )
    with started_together(runtime, api):
        yield api


@pytest.fixture(scope="module")
def example_server(node_tools: NodeTools, typescript_client: Path) -> Iterator[str]:
    """`node examples/web/serve.mjs --port 0` (the built client included); its base URL."""
    process = subprocess.Popen(
        [node_tools.node, str(EXAMPLE / "serve.mjs"), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # serve.mjs prints its URL first, once listening
        assert first.startswith("examples/web at http://127.0.0.1:"), first
        yield first.split(" at ", 1)[1].strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


async def drive_web_example(node_tools: NodeTools, options: dict[str, Any]) -> dict[str, Any]:
    """Run drive-web-example.mjs with `options`; its report."""
    process = await asyncio.create_subprocess_exec(
        node_tools.node,
        str(HERE / "drive-web-example.mjs"),
        json.dumps(options),
        cwd=npm_project(HERE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=DRIVER_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    report: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return report


async def test_the_web_example_uploads_follows_and_mashes_with_the_internet_blocked(
    node_tools: NodeTools, dev_api: ApiProcess, example_server: str
) -> None:
    chromium = system_binary("chromium", "chromium", "or any Chromium at /usr/bin/chromium")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    page = f"{example_server}?{urlencode({'api': dev_api.graphql_url, 'token': dev_api.token()})}"

    report = await drive_web_example(
        node_tools,
        {
            "url": page,
            "files": [str(path) for path in FILES],
            "artifacts": str(ARTIFACTS),
            "chromium": chromium,
        },
    )
    print(f"Web example screenshots: {', '.join(report['screenshots'])}")
    for name, seen in report["uploads"].items():
        print(f"{name}: {' -> '.join(seen['texts'])}")
    print(f"mash: {' -> '.join(report['mash']['texts'])}")

    assert report["driverError"] is None, report
    assert report["blocked"] == [], "the page tried to leave the machine"
    # ... and that is checked: a CDN request from the browser was refused and counted.
    assert report["probeAnswered"] is False
    assert report["probeCounted"] is True
    assert report["pageErrors"] == [], report["pageErrors"]
    assert report["status"] == "done", (report["error"], dev_api.log_text()[-4000:])
    assert report["error"] == ""
    # Statuses came over graphql-ws, the client's first choice, from the page's origin.
    assert any(url.startswith(dev_api.ws_url) for url in report["websockets"]), report

    assert set(report["uploads"]) == {path.name for path in FILES}
    for path in FILES:
        seen = report["uploads"][path.name]
        # The bar's total is the upload's (the file inside a multipart body), and it is full.
        assert seen["progress"]["max"] > path.stat().st_size, seen
        assert seen["progress"]["value"] == seen["progress"]["max"], seen
        assert seen["texts"][0] == "uploading", seen
        # Live: the row showed the execution before it completed, then COMPLETED.
        assert seen["states"][-1] == "COMPLETED", seen
        assert len(seen["states"]) >= 2, seen
        assert seen["texts"][-1].startswith("COMPLETED"), seen
    assert report["mash"]["states"][-1] == "COMPLETED", report["mash"]
    assert len(report["mash"]["states"]) >= 2, report["mash"]

    # The mash's records: one per policy (the fact), each joined with its customer.
    records = report["records"]
    policies = json.loads(FILES[1].read_text())
    assert len(records["rows"]) == len(policies), records
    listed = json.dumps(records["rows"])
    for policy in policies:
        assert policy["policy_number"] in listed, (policy, records)
    assert "Ada Lovelace" in listed, records
    assert len(report["screenshots"]) == 3
