"""A mash of a generated star schema: one order fact, a customer and a product dimension."""

from __future__ import annotations

from typing import Any

from reference_runtime.realms.data_mash import MashOptions
from tests.reference_runtime.realms.sources import mash, source
from tests.support.star_schema import generate

STAR = generate(2_000)
SOURCES = [source(name, data) for name, data in STAR.files().items()]
CUSTOMER_FIELDS = ("customer_id", "customers_name", "segment", "customers_year", "customers_status")


def test_one_record_per_order_none_lost_none_duplicated_in_the_facts_order() -> None:
    payload, records = mash(SOURCES)
    assert payload["fact"] == "orders.csv"
    assert payload["entity"] == "order"
    assert payload["row_count"] == len(records) == STAR.expected.orders
    assert [r["order_id"] for r in records] == [f"ORD-{n:07d}" for n in range(1, 2_001)]


def test_dimensions_fill_in_and_same_named_columns_keep_their_meaning() -> None:
    payload, records = mash(SOURCES)
    order = next(r for r in records if r["cust"] and r["customers_name"])
    number = int(order["cust"][1:])
    assert order["customers_name"] == f"Customer {number}"
    assert order["customer_id"] == number  # customers.csv's customer_no
    assert order["products_name"] == f"Blend {int(order['product_code'][2:])}"
    # An order's year and status are the order's; the customer's and product's are their own.
    assert order["year"] == int(order["order_date"][:4])
    assert order["status"] in ("shipped", "pending", "returned", "cancelled")
    assert order["customers_status"] in ("active", "dormant", "closed")
    assert order["products_status"] in ("listed", "discontinued")
    fields = {f["name"]: [s["column"] for s in f["sources"]] for f in payload["canonical_fields"]}
    assert fields["cust"] == ["cust", "id"]  # one key field, both columns listed
    assert fields["product_code"] == ["product_code", "code"]
    assert fields["year"] == ["year"]
    assert fields["customers_year"] == ["year"]
    assert payload["quality_report"]["type_conflicts"] == 0


def test_dangling_and_missing_references_are_kept_and_counted() -> None:
    payload, records = mash(SOURCES)
    quality = payload["quality_report"]
    customers, products = sorted(
        quality["dangling_references"], key=lambda d: d["references"]["file_id"]
    )
    assert customers["references"] == {"file_id": "customers.csv", "column": "id"}
    assert (customers["count"], customers["missing"]) == (
        STAR.expected.dangling_customers,
        STAR.expected.null_customers,
    )
    assert len(customers["examples"]) == 3
    assert (products["count"], products["missing"]) == (0, 0)
    unknown = [r for r in records if r["cust"] and r["customers_name"] is None]
    assert len(unknown) == STAR.expected.dangling_customers
    assert all(r[name] is None for r in unknown for name in CUSTOMER_FIELDS)
    assert sum(r["cust"] is None for r in records) == STAR.expected.null_customers
    assert all(r["products_name"] for r in records)
    incomplete = STAR.expected.dangling_customers + STAR.expected.null_customers
    assert quality["completeness"] == round(1 - incomplete / STAR.expected.orders, 4)


def test_unreferenced_customers_are_counted_and_emitted_only_by_a_full_join() -> None:
    left, _ = mash(SOURCES)
    unreferenced = {u["file_id"]: u for u in left["quality_report"]["unreferenced_rows"]}
    assert unreferenced["customers.csv"] == {
        "file_id": "customers.csv",
        "column": "id",
        "count": STAR.expected.unreferenced_customers,
        "emitted": False,
    }
    assert unreferenced["products.csv"]["count"] == 0

    full, records = mash(SOURCES, MashOptions(join="full"))
    extra = records[STAR.expected.orders :]
    assert full["row_count"] == STAR.expected.orders + STAR.expected.unreferenced_customers
    assert len(extra) == STAR.expected.unreferenced_customers
    assert all(r["order_id"] is None and r["customers_name"] for r in extra)


def test_the_artifact_lists_the_candidates_considered_and_the_chosen_ones() -> None:
    payload, _ = mash(SOURCES)
    listed = payload["join_candidates"]

    def key(c: dict[str, Any]) -> tuple[str, str]:
        return (c["column"]["column"], c["references"]["column"])

    chosen = {key(c) for c in listed if c["chosen"]}
    assert chosen == {("cust", "id"), ("product_code", "code")}
    assert all(c["reason"] is None for c in listed if c["chosen"])
    refused = {key(c): c for c in listed if not c["chosen"]}
    assert "prove nothing" in refused["quantity", "customer_no"]["reason"]
    assert refused["quantity", "customer_no"]["containment"] == 1.0
    assert "unique on neither side" in refused["status", "status"]["reason"]
    assert [k["kind"] for k in payload["join_keys"]] == ["reference", "reference"]
