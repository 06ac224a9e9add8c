"""The real JavaScript clients, at their defaults, against a real API and reference Runtime.

Each `*.test.mjs` in `tests/frontend/clients/` is one scenario (Apollo Client 4 with
apollo-upload-client and GraphQLWsLink, urql over fetch, graphql-ws and graphql-sse, persisted
queries, graphql-http's audit), run with `node --test` and told where the API is and which token
to send through the environment. The clients' versions are pinned by that package's lockfile.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.frontend import NodeTools
from tests.support.node import npm_project
from tests.support.processes import ApiProcess, RuntimeProcess

CLIENTS = Path(__file__).parent / "clients"
SCENARIOS = sorted(path.name for path in CLIENTS.glob("*.test.mjs"))
SCENARIO_TIMEOUT = 180.0
# Slows the Runtime's phases so that a subscription sees the execution change, not only its end.
PHASE_DELAY = 0.1


@pytest.fixture(scope="module")
def clients_installed(node_tools: NodeTools) -> NodeTools:
    """tests/frontend/clients' locked dependencies, installed by `npm ci` when out of date."""
    npm_project(CLIENTS)
    return node_tools


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """`experience-plane serve` (production, authentication on) over a reference Runtime, with
    introspection on as a team's development API has it: graphql-http's audits query `__type`."""
    base = tmp_path_factory.mktemp("js-clients")
    with (
        RuntimeProcess(base / "runtime", require_session=True) as runtime,
        ApiProcess(
            runtime.url, base / "api-logs", auth=True, env={"EXPERIENCE_INTROSPECTION": "true"}
        ) as process,
    ):
        runtime.set_faults(phase_delay=PHASE_DELAY)
        yield process


def test_every_scenario_is_collected() -> None:
    clients = {"apollo", "urql"}
    assert {name.split(".", 1)[0] for name in SCENARIOS} == {*clients, "graphql-http"}, SCENARIOS
    for client in clients:
        for scenario in (
            "upload-watch",
            "mash-records",
            "typed-error",
            "persisted-queries",
        ):
            assert any(name.startswith(f"{client}.{scenario}") for name in SCENARIOS), (
                client,
                scenario,
            )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str, clients_installed: NodeTools, api: ApiProcess) -> None:
    env = {
        **os.environ,
        "EP_API_URL": api.graphql_url,
        "EP_WS_URL": api.ws_url,
        "EP_TOKEN": api.token(),
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [clients_installed.node, "--test", "--test-reporter=spec", scenario],
        cwd=CLIENTS, env=env, capture_output=True, text=True, check=False,
        timeout=SCENARIO_TIMEOUT,
    )  # fmt: skip
    if result.returncode != 0:
        api_log = "\n".join(api.log_text().splitlines()[-30:])
        pytest.fail(
            f"node --test {scenario} exited with {result.returncode}:\n"
            f"{result.stdout}{result.stderr}\n--- the API's last log lines ---\n{api_log}",
            pytrace=False,
        )
