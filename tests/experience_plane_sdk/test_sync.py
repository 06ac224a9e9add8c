"""`SyncExperienceClient`: the same calls from blocking code, against the real processes."""

from __future__ import annotations

import threading

import pytest

from experience_plane_sdk import (
    ExecutionFailed,
    ExecutionNotFoundError,
    ExecutionState,
    InvalidInput,
    SyncExperienceClient,
)
from tests.experience_plane_sdk.conftest import CUSTOMER_COUNT, CUSTOMERS, Mashed
from tests.support.processes import ApiProcess


def test_upload_watch_wait_and_records(api: ApiProcess, mashed: Mashed, token: str) -> None:
    with SyncExperienceClient(api.graphql_url, token) as client:
        accepted = client.upload_content(CUSTOMERS)
        states = [execution.state for execution in client.watch(accepted.id)]
        final = client.wait(accepted.id, timeout=30)
        records = list(client.records(mashed.mash_execution_id, page_size=4))
        status = client.execution_status(mashed.mash_execution_id)

    assert states[-1] is ExecutionState.COMPLETED
    assert final.files[0].row_count == CUSTOMER_COUNT
    assert status is not None
    assert status.data_mash is not None
    assert len(records) == status.data_mash.row_count


def test_errors_are_the_same_typed_errors(api: ApiProcess, token: str) -> None:
    with SyncExperienceClient(api.graphql_url, token) as client:
        assert client.execution_status("exec_missing") is None
        with pytest.raises(InvalidInput):
            client.create_data_mash([])
        failing = client.create_data_mash(["file_missing"])
        with pytest.raises(ExecutionFailed):
            client.wait(failing.id, timeout=30)
        with pytest.raises(ExecutionNotFoundError):
            list(client.watch("exec_missing"))


def test_breaking_out_of_an_iterator_and_closing_leaves_no_thread(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    before = threading.active_count()
    with SyncExperienceClient(api.graphql_url, token) as client:
        for _record in client.records(mashed.mash_execution_id, page_size=2):
            break
    assert threading.active_count() == before


def test_a_closed_client_says_how_to_open_it() -> None:
    client = SyncExperienceClient("http://127.0.0.1:9/graphql")
    with pytest.raises(RuntimeError, match="with SyncExperienceClient"):
        client.execution_status("exec_1")
