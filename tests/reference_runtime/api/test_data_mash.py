"""`data_mash.create` and the mash artifact, over HTTP against a Runtime process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.reference_runtime.support import CUSTOMERS_CSV, POLICIES_JSON, WEATHER_CSV, RuntimeApi
from tests.support.star_schema import generate

EXAMPLES = Path(__file__).parents[3] / "examples"


def _mash_payload(status: dict[str, Any]) -> dict[str, Any]:
    assert status["status"] == "completed", status
    assert status["artifacts"]["data_mash"]["result_type"] == "data_mash"
    payload: dict[str, Any] = status["artifacts"]["data_mash"]["semantic_payload"]
    return payload


@pytest.fixture
def insurance_files(api: RuntimeApi) -> tuple[str, str]:
    customers = api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv")
    policies = api.upload_file_id("policies.json", POLICIES_JSON, "application/json")
    return customers, policies


def test_mash_of_customers_and_policies(api: RuntimeApi, insurance_files: tuple[str, str]) -> None:
    customers, policies = insurance_files
    status = api.mash(
        [customers, policies], target_domain="insurance", confidence_level="medium", join="full"
    )
    payload = _mash_payload(status)
    assert status["intent_type"] == "data_mash.create"
    assert payload["mash_id"].startswith("mash_")
    assert (payload["entity"], payload["target_domain"], payload["confidence_level"]) == (
        "customer",
        "insurance",
        "medium",
    )
    # 4 customers, and in a full join the policy of an unknown customer too.
    assert (payload["join"], payload["row_count"]) == ("full", 5)
    assert payload["join_keys"] == [
        {
            "field": "customer_id",
            "kind": "reference",
            "sources": [
                {"file_id": customers, "column": "CustID"},
                {"file_id": policies, "column": "policyholder_id"},
            ],
            "overlap": 0.75,
            "containment": 0.75,
            "uniqueness": 1.0,
        }
    ]
    chosen = [c for c in payload["join_candidates"] if c["chosen"]]
    assert [(c["column"]["column"], c["references"]["column"]) for c in chosen] == [
        ("CustID", "policyholder_id")
    ]
    fields = {f["name"]: f for f in payload["canonical_fields"]}
    assert fields["premium"]["type"] == "number"
    assert fields["premium"]["sources"] == [
        {"file_id": policies, "column": "annual_premium", "confidence": 0.85}
    ]
    assert [s["column"] for s in fields["customer_id"]["sources"]] == ["CustID", "policyholder_id"]
    quality = payload["quality_report"]
    assert set(quality) == {
        "completeness",
        "null_density",
        "duplicate_keys",
        "type_conflicts",
        "dangling_references",
        "unreferenced_rows",
        "issues",
    }
    assert quality["completeness"] == 0.6
    assert {"field": "policy_number", "file_id": policies, "column": "policy_no"} in payload[
        "lineage"
    ]

    artifact = api.artifact(payload["mash_id"]).json()
    assert artifact["artifact_type"] == "data_mash"
    assert artifact["type"] == "application/x-data-mash"
    assert artifact["name"] == "customers + policies"
    assert artifact["semantic_payload"] == payload
    assert artifact["records_total"] == 5
    records = artifact["records"]
    assert len(records) == 5
    assert records[0]["customer_id"] == "C001"
    assert records[0]["premium"] == 420.5
    assert list(records[0]) == list(fields)

    page = api.artifact(payload["mash_id"], records_offset=1, records_limit=2).json()
    assert page["records_total"] == 5
    assert page["records"] == records[1:3]
    tail = api.artifact(payload["mash_id"], records_offset=4).json()
    assert tail["records"] == records[4:]
    assert api.artifact(payload["mash_id"], tenant_id="intruder").status_code == 404


def test_confidence_level_changes_the_mapping(
    api: RuntimeApi, insurance_files: tuple[str, str]
) -> None:
    refs = list(insurance_files)
    medium = _mash_payload(api.mash(refs, target_domain="insurance", confidence_level="medium"))
    high = _mash_payload(api.mash(refs, target_domain="insurance", confidence_level="high"))
    medium_names = {f["name"] for f in medium["canonical_fields"]}
    high_names = {f["name"] for f in high["canonical_fields"]}
    assert {"premium", "policy_number", "email"} <= medium_names
    assert {"annual_premium", "policy_no", "e_mail"} <= high_names
    assert not {"premium", "policy_number"} & high_names


def test_a_single_source_mash_with_a_name(api: RuntimeApi) -> None:
    customers = api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv")
    payload = _mash_payload(api.mash([customers], name="Customer book"))
    assert payload["name"] == "Customer book"
    assert payload["row_count"] == 4
    assert payload["join_keys"] == []


def test_mash_of_the_examples_gives_one_record_per_policy(api: RuntimeApi) -> None:
    customers = api.upload_file_id(
        "customers.csv", (EXAMPLES / "customers.csv").read_bytes(), "text/csv"
    )
    policies = api.upload_file_id(
        "policies.json", (EXAMPLES / "policies.json").read_bytes(), "application/json"
    )
    payload = _mash_payload(api.mash([customers, policies], target_domain="insurance"))
    assert (payload["row_count"], payload["entity"], payload["fact"]) == (6, "policy", policies)
    quality = payload["quality_report"]
    assert quality["duplicate_keys"] == 0
    assert quality["unreferenced_rows"] == [
        {"file_id": customers, "column": "customer_id", "count": 1, "emitted": False}
    ]
    artifact = api.artifact(payload["mash_id"]).json()
    assert artifact["records_total"] == 6
    records = artifact["records"]
    assert [(r["customer_id"], r["name"], r["policy_number"]) for r in records] == [
        ("C001", "Ada Lovelace", "P-1001"),
        ("C002", "Alan Turing", "P-1002"),
        ("C003", "Grace Hopper", "P-1003"),
        ("C004", "Edsger Dijkstra", "P-1004"),
        ("C005", "Barbara Liskov", "P-1005"),
        ("C001", "Ada Lovelace", "P-1006"),
    ]
    assert records[5]["email"] == "ada@example.com"


def test_a_many_to_many_blow_up_fails_with_the_key_and_the_row_counts(api: RuntimeApi) -> None:
    # 1,001 x 1,000 rows sharing one key: 1,001,000 records, past the 1,000,000 limit.
    orders = b"customer_id,item\n" + b"C1,tea\n" * 1001
    visits = b"customer_id,shop\n" + b"C1,Leeds\n" * 1000
    refs = [
        api.upload_file_id("orders.csv", orders, "text/csv"),
        api.upload_file_id("visits.csv", visits, "text/csv"),
    ]
    error = _failure(api.mash(refs))
    assert error.startswith(
        "Joining visits.csv on 'customer_id' ('customer_id' ~ 'customer_id') would give "
        "1,001,000 records, more than the limit of 1,000,000: 1 key value(s) repeat among the "
        "1,001 record(s) joined so far from orders.csv and 1 among the 1,000 row(s) of "
        "visits.csv (the value 'C1' alone pairs 1,001 rows with 1,000)."
    )


def _failure(status: dict[str, Any]) -> str:
    assert status["status"] == "failed", status
    assert status["artifacts"] is None
    error: str = status["error"]
    return error


def test_unknown_refs_are_named(api: RuntimeApi) -> None:
    customers = api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv")
    error = _failure(api.mash([customers, "file_nope", "file_gone"]))
    assert error.startswith("Unknown content refs: file_nope, file_gone.")
    assert "content.upload" in error


def test_non_tabular_ref_names_the_file_and_why(api: RuntimeApi) -> None:
    notes = api.upload_file_id("notes.txt", b"just some words\n", "text/plain")
    error = _failure(api.mash([notes]))
    assert error == (
        f"Content ref {notes} (notes.txt) is not tabular data (format text); a data mash "
        "needs CSV, a JSON array of objects, or NDJSON"
    )


def test_sources_with_nothing_in_common_fail_with_advice(api: RuntimeApi) -> None:
    customers = api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv")
    weather = api.upload_file_id("weather.csv", WEATHER_CSV, "text/csv")
    error = _failure(api.mash([customers, weather]))
    assert error.startswith("No join key found between customers.csv and weather.csv")
    assert error.endswith("or mash them separately.")


def test_a_failed_mash_names_the_candidates_tried_and_why_each_was_refused(
    api: RuntimeApi,
) -> None:
    star = generate(500)
    orders = api.upload_file_id("orders.csv", star.orders, "text/csv")
    # Customers whose codes the orders do not use; the shared `year` and `status` are no keys.
    strangers = b"id,year,status\n" + b"".join(
        b"X%05d,%d,active\n" % (n, 2021 + n % 4) for n in range(200)
    )
    other = api.upload_file_id("strangers.csv", strangers, "text/csv")
    error = _failure(api.mash([orders, other]))
    assert error.startswith("No join key found between orders.csv and strangers.csv: tried ")
    assert (
        "'year' (orders.csv) and 'year' (strangers.csv) share a name but are unique on neither side"
    ) in error
    assert "'status' (orders.csv) and 'status' (strangers.csv) share a name" in error
    assert error.endswith("or mash them separately.")


def test_an_unknown_join_mode_is_refused(api: RuntimeApi) -> None:
    customers = api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv")
    error = _failure(api.mash([customers], join="inner"))
    assert error.startswith("Unknown join 'inner'; use one of: left")


def test_a_star_schema_gives_one_record_per_fact_row_paged_from_anywhere(
    api: RuntimeApi,
) -> None:
    star = generate(3_000)
    refs = [api.upload_file_id(name, data, "text/csv") for name, data in star.files().items()]
    orders, customers, products = refs
    status = api.mash(list(reversed(refs)))  # the fact is found wherever it is listed
    payload = _mash_payload(status)
    assert (payload["fact"], payload["entity"]) == (orders, "order")
    assert payload["row_count"] == star.expected.orders
    keys = {k["sources"][1]["file_id"]: k for k in payload["join_keys"]}
    assert keys[customers]["sources"][0] == {"file_id": orders, "column": "cust"}
    assert keys[products]["sources"][0] == {"file_id": orders, "column": "product_code"}
    dangling = {
        d["references"]["file_id"]: d for d in payload["quality_report"]["dangling_references"]
    }
    assert dangling[customers]["count"] == star.expected.dangling_customers
    assert dangling[customers]["missing"] == star.expected.null_customers

    page = api.artifact(payload["mash_id"], records_offset=2_500, records_limit=3).json()
    assert page["records_total"] == star.expected.orders
    assert [r["order_id"] for r in page["records"]] == [
        "ORD-0002501",
        "ORD-0002502",
        "ORD-0002503",
    ]
    assert api.artifact(payload["mash_id"], records_offset=3_000).json()["records"] == []
    artifact = api.artifact(payload["mash_id"], records_limit=0).json()
    assert artifact["size"] > 0
    assert artifact["records"] == []


def test_unknown_domain_lists_the_known_ones(api: RuntimeApi) -> None:
    customers = api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv")
    error = _failure(api.mash([customers], target_domain="astrology"))
    assert error == "Unknown target_domain 'astrology'; known domains: general, insurance"


def test_missing_refs_fail_clearly(api: RuntimeApi) -> None:
    response = api.submit("data_mash.create", {"options": {}})
    error = _failure(api.wait(response.json()["execution_id"]))
    assert error.startswith("data_mash.create needs parameters.content_refs")
