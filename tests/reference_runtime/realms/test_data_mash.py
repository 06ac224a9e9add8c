"""The data mash algorithm: join keys from value overlap, the outer join, quality and lineage."""

from __future__ import annotations

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


def test_three_sources_chain_through_different_keys_and_conflicts_keep_the_first_value() -> None:
    sources = [
        source("customers.csv", CUSTOMERS_CSV),
        source("policies.json", POLICIES_JSON),
        source("claims.ndjson", CLAIMS_NDJSON),
    ]
    outcome = build_mash("m", sources, MashOptions("insurance", "medium", name="book"))
    payload = outcome.payload
    assert payload["name"] == "book"
    assert [k["field"] for k in payload["join_keys"]] == ["customer_id", "policy_number"]
    by_id = {r["customer_id"]: r for r in outcome.records}
    # K1 and K2 share policy P-100: one record per key, the first claim wins.
    assert by_id["C001"]["claim_id"] == "K1"
    assert by_id["C001"]["claim_amount"] == 1200
    assert by_id["C003"]["claim_id"] == "K3"
    quality = payload["quality_report"]
    assert quality["duplicate_keys"] == 1
    assert any("conflicting value(s) for 'claim_id'" in i for i in quality["issues"])


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
