"""The whole flow a user follows: upload two related files, mash them, watch the mash run,
then read its canonical model and records."""

from __future__ import annotations

from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from tests.e2e.client import (
    EXAMPLES,
    EXECUTION,
    MASH_DETAILS,
    create_mash,
    http_client,
    request,
    upload,
    watch_ws,
    ws_client,
)
from tests.support.processes import ApiProcess

STATE_ORDER = ["PENDING", "RUNNING", "COMPLETED"]


async def upload_examples(api: ApiProcess) -> list[str]:
    """Upload customers.csv and policies.json, wait for both; returns their file ids."""
    file_ids = []
    async with http_client(api) as session:
        for name in ("customers.csv", "policies.json"):
            result = await upload(session, EXAMPLES / name)
            assert result["__typename"] == "ExecutionAccepted", result
            execution = result["execution"]
            assert execution["intentType"] == "content.upload"
            assert execution["isTerminal"] is False
            events = await watch_ws(ws_client(api), execution["id"])
            final = events[-1]
            assert final["state"] == "COMPLETED", final
            done = await session.execute(request(EXECUTION, id=execution["id"]))
            (artifact,) = done["executionStatus"]["artifacts"]
            assert artifact["__typename"] == "ContentFile"
            assert artifact["name"] == name
            assert artifact["size"] == (EXAMPLES / name).stat().st_size
            assert artifact["rowCount"] == 6
            assert artifact["columns"]
            file_ids.append(artifact["fileId"])
    return file_ids


def assert_each_change_once_in_order(events: list[dict[str, Any]]) -> None:
    """Events only on change, states never going back, ending with one terminal event."""
    assert events, "no events"
    snapshots = [(event["rawStatus"], event["progress"]["percent"]) for event in events]
    assert len(set(snapshots)) == len(snapshots), f"an event repeated: {snapshots}"
    positions = [STATE_ORDER.index(event["state"]) for event in events]
    assert positions == sorted(positions), [event["state"] for event in events]
    percents = [event["progress"]["percent"] for event in events]
    assert percents == sorted(percents)
    assert [event["isTerminal"] for event in events] == [False] * (len(events) - 1) + [True]


async def test_upload_mash_watch_and_read_records(api: ApiProcess) -> None:
    customers, policies = await upload_examples(api)

    async with http_client(api) as session:
        accepted = await create_mash(
            session, [customers, policies], targetDomain="insurance", name="Customers & policies"
        )
        assert accepted["__typename"] == "ExecutionAccepted", accepted
        execution_id = accepted["execution"]["id"]
        assert accepted["execution"]["state"] == "PENDING"

        events = await watch_ws(ws_client(api), execution_id)
        assert_each_change_once_in_order(events)
        assert events[0]["state"] in {"PENDING", "RUNNING"}
        assert events[-1]["state"] == "COMPLETED"
        assert [event["rawStatus"] for event in events][-3:] == [
            "executing",
            "artifacts_received",
            "completed",
        ]

        page = await session.execute(request(MASH_DETAILS, id=execution_id, first=4))
        (mash,) = page["executionStatus"]["artifacts"]
        assert mash["name"] == "Customers & policies"
        fields = {field["name"]: field for field in mash["canonicalFields"]}
        # customer_id (CSV) and cust_id (JSON) are aligned onto one canonical field.
        (key_field,) = [
            field
            for field in fields.values()
            if {source["column"] for source in field["sources"]} == {"customer_id", "cust_id"}
        ]
        assert {source["fileId"] for source in key_field["sources"]} == {customers, policies}
        assert mash["joinKeys"], "the sources were joined on a key"
        assert mash["qualityReport"]["completeness"] is not None

        records = mash["records"]
        total = records["totalCount"]
        assert total == mash["rowCount"]
        assert total > 4
        assert len(records["edges"]) == 4
        assert records["pageInfo"]["hasNextPage"] is True
        assert all(isinstance(edge["node"], dict) for edge in records["edges"])

        # Page through the rest with the cursors.
        seen = [edge["node"] for edge in records["edges"]]
        cursor = records["pageInfo"]["endCursor"]
        while cursor is not None:
            next_page = await session.execute(
                request(MASH_DETAILS, id=execution_id, first=4, after=cursor)
            )
            records = next_page["executionStatus"]["artifacts"][0]["records"]
            seen.extend(edge["node"] for edge in records["edges"])
            cursor = (
                records["pageInfo"]["endCursor"] if records["pageInfo"]["hasNextPage"] else None
            )
        assert len(seen) == total


@pytest.mark.parametrize(
    ("first", "message"), [(501, "between 1 and 500"), (0, "between 1 and 500")]
)
async def test_records_page_size_is_bounded(api: ApiProcess, first: int, message: str) -> None:
    customers, policies = await upload_examples(api)
    async with http_client(api) as session:
        accepted = await create_mash(session, [customers, policies])
        execution_id = accepted["execution"]["id"]
        await watch_ws(ws_client(api), execution_id)
        with pytest.raises(TransportQueryError, match=message):
            await session.execute(request(MASH_DETAILS, id=execution_id, first=first))
        with pytest.raises(TransportQueryError, match="not a valid cursor"):
            await session.execute(request(MASH_DETAILS, id=execution_id, first=5, after="bogus"))
