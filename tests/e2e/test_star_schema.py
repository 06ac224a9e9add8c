"""A generated star schema through the Experience Plane: uploaded with `uploadContent`, mashed
with `createDataMash`, read back with the keys chosen, the dangling references and the records."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.client import (
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
from tests.support.star_schema import generate


async def test_one_record_per_order_with_its_customer_and_product(
    api: ApiProcess, tmp_path: Path
) -> None:
    star = generate(3_000)
    paths = star.write(tmp_path)
    async with http_client(api) as session:
        refs = {}
        for name, path in paths.items():
            accepted = await upload(session, path)
            execution_id = accepted["execution"]["id"]
            assert (await watch_ws(ws_client(api), execution_id))[-1]["state"] == "COMPLETED"
            done = await session.execute(request(EXECUTION, id=execution_id))
            refs[name] = done["executionStatus"]["artifacts"][0]["fileId"]
        accepted = await create_mash(session, list(refs.values()), join="FULL")
        execution_id = accepted["execution"]["id"]
        assert (await watch_ws(ws_client(api), execution_id))[-1]["state"] == "COMPLETED"
        details = await session.execute(request(MASH_DETAILS, id=execution_id, first=2))
    (mash,) = details["executionStatus"]["artifacts"]
    expected = star.expected
    assert mash["entity"] == "order"
    assert mash["rowCount"] == expected.orders + expected.unreferenced_customers
    chosen = {
        (c["column"]["column"], c["references"]["column"])
        for c in mash["joinCandidates"]
        if c["chosen"]
    }
    assert chosen == {("cust", "id"), ("product_code", "code")}
    dangling = {d["references"]["column"]: d for d in mash["qualityReport"]["danglingReferences"]}
    assert dangling["id"]["column"] == {"fileId": refs["orders.csv"], "column": "cust"}
    assert (dangling["id"]["count"], dangling["id"]["missing"]) == (
        expected.dangling_customers,
        expected.null_customers,
    )
    first = mash["records"]["edges"][0]["node"]
    assert first["order_id"] == "ORD-0000001"
    assert first["products_name"] == f"Blend {int(first['product_code'][2:])}"
