"""The second walk-through (`examples/shop/README.md`), run as written: the three files uploaded
and mashed with the command line, then the README's own GraphQL documents, whose answers must be
what the README says they are."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from experience_plane.services.pagination import encode_cursor
from tests.e2e.client import (
    EXECUTION,
    MASH_DETAILS,
    http_client,
    request,
    watch_ws,
    ws_client,
)
from tests.support.processes import ApiProcess

SHOP = Path(__file__).parents[2] / "examples" / "shop"
README = (SHOP / "README.md").read_text()
GRAPHQL_BLOCK = re.compile(r"^```graphql\n(.*?)^```$", re.DOTALL | re.MULTILINE)
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```$", re.DOTALL | re.MULTILINE)
FILES = ("products.csv", "customers.csv", "orders.csv")  # any order: the fact is found


def document(operation: str) -> str:
    """The README's GraphQL block defining `operation`."""
    (block,) = [b for b in GRAPHQL_BLOCK.findall(README) if re.search(rf"\b{operation}\(", b)]
    return block


def cli(api: ApiProcess, *args: str) -> Any:
    """Run `experience-plane ... --json` as the README does; its JSON output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIENCE_")}
    env |= {"EXPERIENCE_URL": api.graphql_url, "EXPERIENCE_TOKEN": api.token()}
    result = subprocess.run(
        [sys.executable, "-m", "experience_plane_sdk", "--json", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def file_ids(api: ApiProcess) -> dict[str, str]:
    uploads = cli(api, "upload", *(str(SHOP / name) for name in FILES), "--wait")
    assert [u["state"] for u in uploads] == ["COMPLETED"] * 3
    return {u["artifacts"][0]["name"]: u["artifacts"][0]["file_id"] for u in uploads}


async def test_the_walkthrough_gives_what_its_readme_says(
    api: ApiProcess, file_ids: dict[str, str]
) -> None:
    mash = cli(api, "mash", *file_ids.values(), "--name", "Shop orders", "--wait")
    assert mash["state"] == "COMPLETED", mash
    async with http_client(api) as session:
        keys = await session.execute(request(document("Keys"), id=mash["id"]))
        (artifact,) = keys["executionStatus"]["artifacts"]
        assert (artifact["entity"], artifact["rowCount"]) == ("order", 12)

        def named(c: dict[str, Any]) -> tuple[str, str]:
            return (c["column"]["column"], c["references"]["column"])

        chosen = {named(c): c for c in artifact["joinCandidates"] if c["chosen"]}
        assert set(chosen) == {("product", "code"), ("customer", "customer_code")}
        assert chosen["product", "code"]["containment"] == 1.0
        assert chosen["customer", "customer_code"]["containment"] == 0.8571
        assert {c["uniqueness"] for c in chosen.values()} == {1.0}
        refused = [c for c in artifact["joinCandidates"] if not c["chosen"]]
        assert {named(c) for c in refused} == {("year", "year"), ("status", "status")}
        assert all("a shared name alone is not a key" in c["reason"] for c in refused)
        dangling = {d["field"]: d for d in artifact["qualityReport"]["danglingReferences"]}
        assert (dangling["customer"]["count"], dangling["customer"]["missing"]) == (1, 1)
        assert "CU-1099" in dangling["customer"]["examples"]
        assert (dangling["product"]["count"], dangling["product"]["missing"]) == (0, 0)
        assert any(
            "1 of 7 row(s) of customers.csv are referenced by no record" in issue
            for issue in artifact["qualityReport"]["issues"]
        )

        records = await session.execute(request(document("Records"), id=mash["id"]))
        page = records["executionStatus"]["artifacts"][0]["records"]
        assert page["totalCount"] == 12
        (first_record,) = JSON_BLOCK.findall(README)
        assert page["edges"][0]["node"] == json.loads(first_record)

        full = await session.execute(request(document("FullMash"), refs=list(file_ids.values())))
        execution_id = full["createDataMash"]["execution"]["id"]
        assert (await watch_ws(ws_client(api), execution_id))[-1]["state"] == "COMPLETED"
        every = await session.execute(request(document("Keys"), id=execution_id))
        assert every["executionStatus"]["artifacts"][0]["rowCount"] == 13
        tail = await session.execute(
            request(MASH_DETAILS, id=execution_id, first=1, after=encode_cursor(11))
        )
        (knuth,) = tail["executionStatus"]["artifacts"][0]["records"]["edges"]
        assert knuth["node"]["customers_name"] == "Donald Knuth"
        assert (knuth["node"]["order_id"], knuth["node"]["status"]) == (None, None)


async def test_files_with_nothing_in_common_fail_naming_the_candidates_tried(
    api: ApiProcess, file_ids: dict[str, str]
) -> None:
    policies = cli(api, "upload", str(SHOP.parent / "policies.json"), "--wait")
    refs = [file_ids["orders.csv"], policies[0]["artifacts"][0]["file_id"]]
    async with http_client(api) as session:
        result = await session.execute(
            request(document("FullMash").replace("join: FULL", "join: LEFT"), refs=refs)
        )
        execution_id = result["createDataMash"]["execution"]["id"]
        await watch_ws(ws_client(api), execution_id)
        status = await session.execute(request(EXECUTION, id=execution_id))
    failed = status["executionStatus"]
    assert failed["state"] == "FAILED"
    assert failed["failure"]["code"] == "NO_JOIN_KEY"
    message = failed["failure"]["message"]
    assert message.startswith("No join key found between orders.csv and policies.json")
    assert "'product' (orders.csv) and 'product' (policies.json) share a name" in message
    assert message.endswith(
        "Add a column holding the other file's key values (such as a customer id) to one of "
        "the files, or mash them separately."
    )
