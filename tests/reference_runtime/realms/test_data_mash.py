"""The data mash algorithm: join keys from values, the joins, quality and lineage."""

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
from tests.reference_runtime.realms.sources import mash, source
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
    payload, records = mash(sources, MashOptions("insurance", "medium"))

    assert payload["entity"] == "customer"
    assert payload["name"] == "customers + policies"
    # One policy per customer and one customer per policy: the first file is the fact.
    assert payload["fact"] == "customers.csv"
    assert payload["join_keys"] == [
        {
            "field": "customer_id",
            "kind": "reference",
            "sources": [
                {"file_id": "customers.csv", "column": "CustID"},
                {"file_id": "policies.json", "column": "policyholder_id"},
            ],
            "overlap": 0.75,
            "containment": 0.75,
            "uniqueness": 1.0,
        }
    ]
    fields = _fields(payload)
    assert fields["customer_id"] == ["customers.csv:CustID", "policies.json:policyholder_id"]
    assert fields["policy_number"] == ["policies.json:policy_no"]
    assert fields["premium"] == ["policies.json:annual_premium"]
    assert fields["date_of_birth"] == ["customers.csv:DOB"]
    assert fields["email"] == ["customers.csv:E-mail"]
    assert list(fields)[:2] == ["customer_id", "first_name"]  # in the columns' order

    # 4 customers; the policy of an unknown customer (C009) is counted, not emitted.
    assert payload["row_count"] == len(records) == 4
    by_id = {r["customer_id"]: r for r in records}
    assert by_id["C001"]["premium"] == 420.5
    assert by_id["C001"]["first_name"] == "Ann"
    assert by_id["C004"]["policy_number"] is None

    quality = payload["quality_report"]
    assert quality["completeness"] == 0.75  # C001-C003 have both sources
    assert quality["duplicate_keys"] == 0
    assert quality["type_conflicts"] == 0
    assert 0 < quality["null_density"] < 0.5
    assert quality["unreferenced_rows"] == [
        {"file_id": "policies.json", "column": "policyholder_id", "count": 1, "emitted": False}
    ]
    assert {"field": "premium", "file_id": "policies.json", "column": "annual_premium"} in (
        payload["lineage"]
    )


def test_a_full_join_keeps_the_rows_no_record_references() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("policies.json", POLICIES_JSON)]
    payload, records = mash(sources, MashOptions("insurance", "medium", join="full"))
    assert payload["join"] == "full"
    assert payload["row_count"] == 5
    assert (records[-1]["customer_id"], records[-1]["first_name"]) == ("C009", None)
    assert records[-1]["policy_number"] == "P-103"
    assert payload["quality_report"]["unreferenced_rows"][0]["emitted"] is True


def test_without_the_domain_vocabulary_the_policy_columns_keep_their_own_names() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("policies.json", POLICIES_JSON)]
    payload, _ = mash(sources, MashOptions("general", "medium"))
    fields = _fields(payload)
    assert "policy_no" in fields
    assert "annual_premium" in fields
    assert "policy_number" not in fields
    # The names no longer agree and only 75% of the ids are shared, too few for a reference;
    # both still look like identifiers and share values: a shared key, full outer join.
    (key,) = payload["join_keys"]
    assert (key["kind"], key["sources"][1]["column"]) == ("shared", "policyholder_id")
    assert payload["row_count"] == 5


def test_confidence_level_decides_which_columns_are_mapped() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("policies.json", POLICIES_JSON)]
    medium = _fields(mash(sources, MashOptions("insurance", "medium"))[0])
    high, _ = mash(sources, MashOptions("insurance", "high"))
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
    payload, records = mash(sources, MashOptions("insurance", "medium", name="book"))
    assert payload["name"] == "book"
    assert payload["fact"] == "claims.ndjson"  # claims reference policies, policies customers
    assert [k["field"] for k in payload["join_keys"]] == ["policy_number", "customer_id"]
    # K1 and K2 share policy P-100: one record each, both carrying the customer and the policy.
    rows = [
        (r["claim_id"], r["claim_amount"], r["policy_number"], r["customer_id"], r["first_name"])
        for r in records
    ]
    assert rows == [
        ("K1", 1200, "P-100", "C001", "Ann"),
        ("K2", 300, "P-100", "C001", "Ann"),
        ("K3", 50, "P-102", "C003", "Cy"),
    ]
    assert payload["entity"] == "claim"
    quality = payload["quality_report"]
    assert quality["duplicate_keys"] == 0
    assert quality["completeness"] == 1.0
    assert [(u["file_id"], u["count"]) for u in quality["unreferenced_rows"]] == [
        ("policies.json", 2),  # P-101 and P-103 have no claims
        ("customers.csv", 2),  # nor have C002 and C004 (C009 is no customer)
    ]
    assert not any("onflicting" in i for i in quality["issues"])

    full, every = mash(sources, MashOptions("insurance", "medium", join="full"))
    assert [(r["claim_id"], r["policy_number"], r["customer_id"], r["first_name"]) for r in every][
        3:
    ] == [
        (None, "P-101", "C002", "Bob"),
        (None, "P-103", "C009", None),
        (None, None, "C004", "Di"),
    ]
    assert full["row_count"] == 6


def test_the_examples_give_one_record_per_policy_and_count_the_customer_without_one() -> None:
    sources = [
        source("customers.csv", (EXAMPLES / "customers.csv").read_bytes()),
        source("policies.json", (EXAMPLES / "policies.json").read_bytes()),
    ]
    payload, records = mash(sources, MashOptions("insurance", "medium"))
    assert payload["row_count"] == len(records) == 6
    assert payload["entity"] == "policy"
    assert payload["fact"] == "policies.json"
    ada = [r for r in records if r["customer_id"] == "C001"]
    assert [(r["policy_number"], r["product"], r["premium"]) for r in ada] == [
        ("P-1001", "home", 412.5),
        ("P-1006", "motor", 455.25),
    ]
    assert all((r["name"], r["email"]) == ("Ada Lovelace", "ada@example.com") for r in ada)
    assert [r["policy_number"] for r in records] == [f"P-100{n}" for n in range(1, 7)]
    quality = payload["quality_report"]
    assert quality["duplicate_keys"] == 0
    assert quality["completeness"] == 1.0
    assert quality["issues"] == [
        "1 of 6 row(s) of customers.csv are referenced by no record: counted, not emitted "
        '(options.join "full" keeps them)'
    ]

    _, every = mash(sources, MashOptions("insurance", "medium", join="full"))
    knuth = every[-1]
    assert (knuth["name"], knuth["policy_number"], knuth["premium"]) == (
        "Donald Knuth",
        None,
        None,
    )


def test_a_policy_of_an_unknown_customer_is_kept_and_counted_beside_the_examples() -> None:
    policies = json.loads((EXAMPLES / "policies.json").read_bytes())
    policies.append({"policy_number": "P-1007", "cust_id": "C999", "product": "pet"})
    sources = [
        source("customers.csv", (EXAMPLES / "customers.csv").read_bytes()),
        source("policies.json", json.dumps(policies).encode()),
    ]
    payload, records = mash(sources, MashOptions("insurance", "medium"))
    assert payload["row_count"] == 7
    unknown = records[-1]
    assert (unknown["customer_id"], unknown["policy_number"], unknown["product"]) == (
        "C999",
        "P-1007",
        "pet",
    )
    assert (unknown["name"], unknown["email"], unknown["city"]) == (None, None, None)
    (dangling,) = payload["quality_report"]["dangling_references"]
    assert (dangling["count"], dangling["examples"], dangling["missing"]) == (1, ["C999"], 0)


def test_a_single_source_is_profiled_and_canonicalised() -> None:
    payload, records = mash([source("customers.csv", CUSTOMERS_CSV)])
    assert payload["join_keys"] == []
    assert payload["join_candidates"] == []
    assert payload["row_count"] == 4
    assert payload["quality_report"]["completeness"] == 1.0
    assert records[0]["customer_id"] == "C001"
    assert payload["entity"] == "customer"


def test_sources_with_nothing_in_common_fail_with_advice() -> None:
    sources = [source("customers.csv", CUSTOMERS_CSV), source("weather.csv", WEATHER_CSV)]
    with pytest.raises(MashError) as failure:
        mash(sources)
    assert str(failure.value) == (
        "No join key found between customers.csv and weather.csv: no column of one has its "
        "values in a unique column of the other, and they have no identifier-like columns in "
        "common. Add a column holding the other file's key values (such as a customer id) to "
        "one of the files, or mash them separately."
    )


def test_low_overlap_is_not_enough_and_the_message_says_so() -> None:
    other = source("others.csv", b"customer_id,score\nX1,1\nX2,2\nX3,3\nC001,4\n")
    with pytest.raises(MashError) as failure:
        mash([source("customers.csv", CUSTOMERS_CSV), other])
    message = str(failure.value)
    assert message.startswith("No join key found between customers.csv and others.csv: tried ")
    assert (
        "only 25% of the 4 distinct values of 'customer_id' (others.csv) are found in 'CustID' "
        "(customers.csv) (a reference needs 50% where the names agree, 90% otherwise)"
    ) in message
    assert "shares only 25% of its values (at least 50% needed)" in message


def test_the_checkpoint_is_called_between_steps_and_may_stop_the_mash() -> None:
    calls: list[int] = []
    sources = [source("customers.csv", CUSTOMERS_CSV), source("policies.json", POLICIES_JSON)]
    mash(sources, MashOptions("insurance"), checkpoint=lambda: calls.append(1))
    # Before aligning, after aligning, after planning, after the one join, after the fields.
    assert len(calls) == 5

    class Stopped(Exception):
        pass

    def stop() -> None:
        raise Stopped

    emitted: list[dict[str, Any]] = []
    with pytest.raises(Stopped):
        build_mash("m", sources, MashOptions("insurance"), emitted.append, checkpoint=stop)
    assert emitted == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target_domain": "astrology"}, "known domains: general, insurance"),
        ({"confidence_level": "certain"}, "use one of: low, medium, high"),
        ({"join": "inner"}, "Unknown join 'inner'; use one of: left"),
        ("fast", "options must be an object"),
    ],
)
def test_bad_options_are_refused_with_the_accepted_values(options: object, message: str) -> None:
    with pytest.raises(MashError, match=message):
        parse_options(options)


def test_default_options() -> None:
    assert parse_options(None) == MashOptions("general", "medium", None, "left")
    assert parse_options({"join": "full"}).join == "full"
