"""The `experience-plane` command line, run as a person would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from experience_plane.graphql.schema import possible_types_json, schema_sdl
from tests.support.processes import ApiProcess, RuntimeProcess, free_port


def test_export_schema_prints_the_sdl() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "experience_plane", "export-schema", "--output", "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == schema_sdl()


def test_export_schema_writes_the_sdl_and_the_possible_types(tmp_path: Path) -> None:
    sdl, possible = tmp_path / "schema.graphql", tmp_path / "possible-types.json"
    subprocess.run(
        [
            sys.executable, "-m", "experience_plane", "export-schema",
            "--output", str(sdl), "--possible-types", str(possible),
        ],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert sdl.read_text(encoding="utf-8") == schema_sdl()
    assert possible.read_text(encoding="utf-8") == possible_types_json()
    assert json.loads(possible.read_text(encoding="utf-8"))["Artifact"] == [
        "ContentFile",
        "DataMash",
    ]


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
        # The API keeps its execution index beside the Runtime's data.
        assert (tmp_path / "experience-plane" / "executions.sqlite3").is_file()
        (header_line,) = [line for line in lines if line.startswith("GraphiQL Headers tab:")]
        headers = json.loads(header_line.removeprefix("GraphiQL Headers tab:"))
        # ... and GraphiQL starts with it, so its first introspection succeeds.
        assert json.dumps(headers["Authorization"]) in graphiql.text
        query = {"query": "{ __schema { queryType { name } } }"}
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json=query, headers=headers)
        assert answer.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        refused = httpx.post(f"http://127.0.0.1:{port}/graphql", json=query)
        assert refused.status_code == 401
        # GraphiQL sends the Headers tab as the connection_init payload of its subscriptions.
        with connect(
            f"ws://127.0.0.1:{port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as socket:
            socket.send(json.dumps({"type": "connection_init", "payload": headers}))
            assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"

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


def _environment_without_auth() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("EXPERIENCE_AUTH_", "EXPERIENCE_INSECURE_DEV"))
    }


def test_serve_refuses_to_start_without_authentication() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "experience_plane", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment_without_auth(),
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("experience-plane: Authentication is not configured")
    assert "--insecure-dev" in line


def test_serve_refuses_a_short_secret_in_one_line() -> None:
    env = {**_environment_without_auth(), "EXPERIENCE_AUTH_HS256_SECRET": "too-short"}
    result = subprocess.run(
        [sys.executable, "-m", "experience_plane", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "at least 32 bytes" in line


def test_serve_refuses_inconsistent_tuning_in_one_line() -> None:
    env = {
        **_environment_without_auth(),
        "EXPERIENCE_INSECURE_DEV": "true",
        "EXPERIENCE_TUNING__POLL_INTERVAL_MIN": "5",
        "EXPERIENCE_TUNING__POLL_INTERVAL_MAX": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "experience_plane", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line == (
        "experience-plane: invalid settings: EXPERIENCE_TUNING__POLL_INTERVAL_MIN (5.0) must not "
        "exceed EXPERIENCE_TUNING__POLL_INTERVAL_MAX (1.0)"
    )


def test_insecure_dev_is_logged_loudly(tmp_path: Path, runtime: RuntimeProcess) -> None:
    with ApiProcess(runtime.url, tmp_path / "api-logs", auth=False) as api:
        response = httpx.post(api.graphql_url, json={"query": "{ __typename }"})
        assert response.status_code == 200  # no token needed: everyone is the dev principal
        assert "WARNING" in api.log_text()
        assert "INSECURE DEVELOPMENT MODE" in api.log_text()


def test_token_mints_a_token_the_api_accepts(api: ApiProcess) -> None:
    command = [
        sys.executable, "-m", "experience_plane", "token",
        "--tenant", "t-cli", "--user", "u-cli", "--roles", "reader,writer", "--ttl", "30m",
    ]  # fmt: skip
    env = {**_environment_without_auth(), "EXPERIENCE_AUTH_HS256_SECRET": api.secret}
    minted = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=True
    ).stdout.strip()
    response = httpx.post(
        api.graphql_url,
        json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {minted}"},
    )
    assert response.json() == {"data": {"__typename": "Query"}}

    without_secret = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=_environment_without_auth()
    )
    assert without_secret.returncode == 2
    assert "EXPERIENCE_AUTH_HS256_SECRET" in without_secret.stderr
