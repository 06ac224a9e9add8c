"""The SDK's and the CLI's listing and cancelling, against the real API and reference Runtime."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from experience_plane_sdk import (
    AlreadyFinishedError,
    ExecutionFailed,
    ExecutionNotFoundError,
    ExecutionState,
    InvalidInput,
    SyncExperienceClient,
)
from tests.experience_plane_sdk.conftest import PHASE_DELAY
from tests.experience_plane_sdk.test_cli import assert_one_error_line, cli
from tests.support.processes import ApiProcess

CSV = b"id,name\n1,Ann\n2,Bob\n"


def set_faults(api: ApiProcess, **faults: float) -> None:
    runtime_url = api.env["EXPERIENCE_RUNTIME_URL"]
    httpx.post(runtime_url + "/_control/faults", json=faults).raise_for_status()


@pytest.fixture
def tenant_token(api: ApiProcess) -> str:
    """A token of a tenant of this test's own: its list holds only what the test started."""
    return api.token(f"sdk-list-{uuid.uuid4().hex[:8]}", "sdk-user")


@pytest.fixture
def client(api: ApiProcess, tenant_token: str) -> Iterator[SyncExperienceClient]:
    with SyncExperienceClient(api.graphql_url, tenant_token) as opened:
        yield opened


@pytest.fixture
def three(client: SyncExperienceClient) -> list[str]:
    """Three finished uploads of the tenant, oldest first."""
    ids = [client.upload_content(CSV, filename=f"f{n}.csv").id for n in range(3)]
    for execution_id in ids:
        client.wait(execution_id)
    return ids


def test_list_executions_pages_newest_first_with_filters(
    client: SyncExperienceClient, three: list[str]
) -> None:
    pages = list(client.list_executions(page_size=2))
    assert [len(page.executions) for page in pages] == [2, 1]
    assert [e.id for page in pages for e in page.executions] == three[::-1]
    assert pages[0].total_count == 3
    assert pages[0].has_next_page
    assert not pages[-1].has_next_page
    assert pages[0].cursors[-1] == pages[0].end_cursor
    back = client.executions_page(last=2, before=pages[-1].start_cursor)
    assert [e.id for e in back.executions] == three[::-1][:2]

    done = client.executions_page(states=[ExecutionState.COMPLETED, "failed"])
    assert [e.id for e in done.executions] == three[::-1]
    assert client.executions_page(states=["running"]).executions == ()
    assert client.executions_page(intent_types=["data_mash.create"]).total_count == 0
    with pytest.raises(InvalidInput):
        client.executions_page(states=["sleeping"])
    with pytest.raises(InvalidInput):
        client.executions_page(after="not-a-cursor")


def test_cancel_stops_running_work_and_refuses_finished_or_unknown_executions(
    api: ApiProcess, client: SyncExperienceClient, three: list[str]
) -> None:
    with pytest.raises(AlreadyFinishedError):
        client.cancel(three[0])
    with pytest.raises(ExecutionNotFoundError):
        client.cancel("exec_not_there")
    set_faults(api, phase_delay=0.0, step_delay=0.5)
    try:
        running = client.upload_content(CSV, filename="slow.csv")
        cancelled = client.cancel(running.id)
        assert cancelled.id == running.id
        with pytest.raises(ExecutionFailed) as failed:
            client.wait(running.id, timeout=60)
    finally:
        set_faults(api, phase_delay=PHASE_DELAY, step_delay=0.0)
    assert failed.value.execution.state is ExecutionState.CANCELLED
    assert client.executions_page(states=["cancelled"]).executions[0].id == running.id


def test_cli_list_and_cancel(api: ApiProcess, tenant_token: str, three: list[str]) -> None:
    url = api.graphql_url
    listed = cli("list", "--json", url=url, token=tenant_token)
    assert listed.code == 0, listed.err
    assert [e["id"] for e in listed.json()] == three[::-1]
    limited = cli("list", "--limit", "2", "--state", "completed", url=url, token=tenant_token)
    assert limited.code == 0, limited.err
    header, *rows = limited.out.splitlines()
    assert header.split()[:2] == ["EXECUTION", "ID"]
    assert [row.split()[0] for row in rows] == three[::-1][:2]
    assert all(" COMPLETED " in row for row in rows)
    empty = cli("list", "--state", "failed", url=url, token=tenant_token)
    assert (empty.code, empty.out.splitlines()[-1]) == (0, "(no executions)")
    bad = cli("list", "--state", "sleeping", url=url, token=tenant_token)
    assert bad.code == 2

    finished = cli("cancel", three[0], url=url, token=tenant_token)
    assert finished.code == 1
    assert_one_error_line(finished, "already finished")
    unknown = cli("cancel", "exec_not_there", url=url, token=tenant_token)
    assert unknown.code == 4
    assert_one_error_line(unknown, "not found")
