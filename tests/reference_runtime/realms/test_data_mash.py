"""The data mash algorithm: join keys from value overlap, the outer join, quality and lineage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reference_runtime.realms.data_mash import (
    MashError,
    MashOptions,
    build_mash,
    parse_options,
)
from tests.reference_runtime.realms.sources import source
from tests.reference_runtime.support import CUSTOMERS_CSV, POLICIES_JSON, WEATHER_CSV

EXAMPLES = Path(__file__).parents[3] / "examples"
CLAIMS_NDJSON = b"""{"claim_no": "K1", "policy_id": "P-100", "amount_claimed": 1200}
{"claim_no": "K2", "policy_id": "P-100", "amount_claimed": 300}
{"claim_no": "K3", "policy_id": "P-102", "amount_claimed": 50}
"""


def _fields(payload: dict[str, Any]) -> dict[str, list[str]]:
    return {
        f["name"]: [f"{s['file_id']}:{s['column']}" for s in f["sources"]]
        for f in payload["canonical_fields"]
    }


def test_customers_and_policies_join_on_the_customer_id_under_the_insurance_domain() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("policies.json", POLICIES_JSON)]
    outcome = build_mash("mash_1", sources, MashOptions("insurance", "medium"))
    payload = outcome.payload

    assert payload["entity"] == "customer"
    assert payload["name"] == "customers + policies"
    assert payload["join_keys"] == [
        {
            "field": "customer_id",
            "sources": [
                {"file_id": "customers.csv", "column": "CustID"},
                {"file_id": "policies.json", "column": "policyholder_id"},
            ],
            "overlap": 0.75,
        }
    ]
    fields = _fields(payload)
    assert fields["customer_id"] == ["customers.csv:CustID", "policies.json:policyholder_id"]
    assert fields["policy_number"] == ["policies.json:policy_no"]
    assert fields["premium"] == ["policies.json:annual_premium"]
    assert fields["date_of_birth"] == ["customers.csv:DOB"]
    assert fields["email"] == ["customers.csv:E-mail"]
    assert list(fields)[:2] == ["customer_id", "first_name"]  # in the columns' order

    # 4 customers + 1 policy of an unknown customer (C009): a full outer join.
    assert payload["row_count"] == 5
    by_id = {r["customer_id"]: r for r in outcome.records}
    assert by_id["C001"]["premium"] == 420.5
    assert by_id["C001"]["first_name"] == "Ann"
    assert by_id["C004"]["policy_number"] is None
    assert by_id["C009"]["first_name"] is None
    assert by_id["C009"]["policy_number"] == "P-103"

    quality = payload["quality_report"]
    assert quality["completeness"] == 0.6  # C001-C003 have both sources
    assert quality["duplicate_keys"] == 0
    assert quality["type_conflicts"] == 0
    assert 0 < quality["null_density"] < 0.5
    assert any("1 of 4 row(s) of policies.json matched no record" in i for i in quality["issues"])
    assert {"field": "premium", "file_id": "policies.json", "column": "annual_premium"} in (
        payload["lineage"]
    )


def test_without_the_domain_vocabulary_the_policy_columns_keep_their_own_names() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("policies.json", POLICIES_JSON)]
    payload = build_mash("m", sources, MashOptions("general", "medium")).payload
    fields = _fields(payload)
    assert "policy_no" in fields
    assert "annual_premium" in fields
    assert "policy_number" not in fields
    # Both ids still look like identifiers and share values: they join anyway.
    assert payload["join_keys"][0]["sources"][1]["column"] == "policyholder_id"
    assert payload["row_count"] == 5


def test_confidence_level_decides_which_columns_are_mapped() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("policies.json", POLICIES_JSON)]
    medium = _fields(build_mash("m", sources, MashOptions("insurance", "medium")).payload)
    high = build_mash("m", sources, MashOptions("insurance", "high")).payload
    high_fields = _fields(high)
    assert "premium" in medium
    assert "annual_premium" not in medium
    assert "premium" not in high_fields
    assert high_fields["annual_premium"] == ["policies.json:annual_premium"]
    assert high_fields["cust_id"] == ["customers.csv:CustID"]
    assert high["entity"] == "customer"
    assert any("below the high threshold 0.9" in i for i in high["quality_report"]["issues"])


def test_three_sources_chain_through_different_keys_one_record_per_claim() -> None:
    sources = [
        source("customers.csv", CUSTOMERS_CSV),
        source("policies.json", POLICIES_JSON),
        source("claims.ndjson", CLAIMS_NDJSON),
    ]
    outcome = build_mash("m", sources, MashOptions("insurance", "medium", name="book"))
    payload = outcome.payload
    assert payload["name"] == "book"
    assert [k["field"] for k in payload["join_keys"]] == ["customer_id", "policy_number"]
    # K1 and K2 share policy P-100: one record each, both carrying the customer and the policy.
    rows = [
        (r["customer_id"], r["first_name"], r["policy_number"], r["claim_id"], r["claim_amount"])
        for r in outcome.records
    ]
    assert rows == [
        ("C001", "Ann", "P-100", "K1", 1200),
        ("C001", "Ann", "P-100", "K2", 300),
        ("C002", "Bob", "P-101", None, None),
        ("C003", "Cy", "P-102", "K3", 50),
        ("C004", "Di", None, None, None),
        ("C009", None, "P-103", None, None),
    ]
    assert payload["row_count"] == 6
    assert payload["entity"] == "claim"  # policies -> claims is the last one-to-many join
    quality = payload["quality_report"]
    assert quality["duplicate_keys"] == 1
    repeats = "policy_number repeats in claims.ndjson for 1 value: one record per claim"
    assert repeats in quality["issues"]
    assert not any("onflicting" in i for i in quality["issues"])


def test_the_examples_keep_both_policies_of_a_customer_and_the_entity_is_the_policy() -> None:
    sources = [
        source("customers.csv", (EXAMPLES / "customers.csv").read_bytes()),
        source("policies.json", (EXAMPLES / "policies.json").read_bytes()),
    ]
    outcome = build_mash("m", sources, MashOptions("insurance", "medium"))
    payload, records = outcome.payload, outcome.records
    assert payload["row_count"] == len(records) == 7  # 6 policies + 1 customer without any
    assert payload["entity"] == "policy"
    ada = [r for r in records if r["customer_id"] == "C001"]
    assert [(r["policy_number"], r["product"], r["premium"]) for r in ada] == [
        ("P-1001", "home", 412.5),
        ("P-1006", "motor", 455.25),
    ]
    assert all((r["name"], r["email"]) == ("Ada Lovelace", "ada@example.com") for r in ada)
    assert sorted(r["policy_number"] for r in records if r["policy_number"]) == [
        f"P-100{n}" for n in range(1, 7)
    ]
    (knuth,) = [r for r in records if r["customer_id"] == "C006"]
    assert (knuth["name"], knuth["policy_number"], knuth["premium"]) == (
        "Donald Knuth",
        None,
        None,
    )
    quality = payload["quality_report"]
    assert quality["duplicate_keys"] == 1
    assert quality["completeness"] == round(6 / 7, 4)
    assert quality["issues"] == [
        "customer_id repeats in policies.json for 1 value: one record per policy",
        "1 record(s) have no data from policies.json",
    ]


def test_a_policy_of_an_unknown_customer_is_kept_beside_the_examples() -> None:
    policies = json.loads((EXAMPLES / "policies.json").read_bytes())
    policies.append({"policy_number": "P-1007", "cust_id": "C999", "product": "pet"})
    sources = [
        source("customers.csv", (EXAMPLES / "customers.csv").read_bytes()),
        source("policies.json", json.dumps(policies).encode()),
    ]
    outcome = build_mash("m", sources, MashOptions("insurance", "medium"))
    assert outcome.payload["row_count"] == 8
    unknown = outcome.records[-1]
    assert (unknown["customer_id"], unknown["policy_number"], unknown["product"]) == (
        "C999",
        "P-1007",
        "pet",
    )
    assert (unknown["name"], unknown["email"], unknown["city"]) == (None, None, None)


def test_a_single_source_is_profiled_and_canonicalised() -> None:
    outcome = build_mash("m", [source("customers.csv", CUSTOMERS_CSV)], MashOptions())
    assert outcome.payload["join_keys"] == []
    assert outcome.payload["row_count"] == 4
    assert outcome.payload["quality_report"]["completeness"] == 1.0
    assert outcome.records[0]["customer_id"] == "C001"
    assert outcome.payload["entity"] == "customer"


def test_sources_with_nothing_in_common_fail_with_advice() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("weather.csv", WEATHER_CSV)]
    with pytest.raises(MashError, match=r"No join key found between customers\.csv and weather"):
        build_mash("m", sources, MashOptions())


def test_low_overlap_is_not_enough_and_the_message_says_so() -> None:
    other = source("others.csv", b"customer_id,score\nX1,1\nX2,2\nX3,3\nC001,4\n")
    with pytest.raises(MashError, match=r"shares only 25% of its values \(at least 50% needed\)"):
        build_mash("m", [source("customers.csv", CUSTOMERS_CSV), other], MashOptions())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target_domain": "astrology"}, "known domains: general, insurance"),
        ({"confidence_level": "certain"}, "use one of: low, medium, high"),
        ("fast", "options must be an object"),
    ],
)
def test_bad_options_are_refused_with_the_accepted_values(options: object, message: str) -> None:
    with pytest.raises(MashError, match=message):
        parse_options(options)


def test_default_options() -> None:
    assert parse_options(None) == MashOptions("general", "medium", None)
