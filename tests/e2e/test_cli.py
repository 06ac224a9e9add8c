"""The `experience-plane` command line, run as a person would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from experience_plane.graphql.schema import schema_sdl
from tests.support.processes import free_port


def test_export_schema_prints_the_sdl() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "experience_plane", "export-schema", "--output", "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == schema_sdl()


def _unreachable(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
    except httpx.HTTPError:
        return True
    return False


@pytest.mark.parametrize(
    "stop_signal",
    [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")],
)
def test_dev_runs_both_services_and_stops_them(tmp_path: Path, stop_signal: signal.Signals) -> None:
    port, runtime_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "experience_plane", "dev",
        "--port", str(port), "--runtime-port", str(runtime_port),
        "--data-dir", str(tmp_path / "data"), "--phase-delay", "0",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("GraphiQL ready at"):
                break
            assert line, f"dev exited early: {lines}"
        assert lines[-1].strip() == f"GraphiQL ready at http://127.0.0.1:{port}/graphql"

        # GraphiQL loads without a token; the printed Headers-tab line authenticates queries.
        graphiql = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"accept": "text/html"})
        assert graphiql.status_code == 200
        assert "graphiql" in graphiql.text.lower()
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        (header_line,) = [line for line in lines if line.startswith("GraphiQL Headers tab:")]
        headers = json.loads(header_line.removeprefix("GraphiQL Headers tab:"))
        query = {"query": "{ __schema { queryType { name } } }"}
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json=query, headers=headers)
        assert answer.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        refused = httpx.post(f"http://127.0.0.1:{port}/graphql", json=query)
        assert refused.status_code == 401

        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
        # Neither child outlives it.
        assert _unreachable(f"http://127.0.0.1:{runtime_port}/health")
        assert _unreachable(f"http://127.0.0.1:{port}/healthz")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
