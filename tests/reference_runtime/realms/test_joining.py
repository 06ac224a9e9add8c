"""The join: a full outer join with multiplicity, value conflicts, repeated keys and its limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reference_runtime.realms import joining
from reference_runtime.realms.alignment import MashError, MashSource, align
from reference_runtime.realms.joining import JoinResult, join_records, plan_joins
from reference_runtime.realms.vocabularies import get_vocabulary
from tests.reference_runtime.realms.sources import source

CUSTOMERS = source(
    "customers.csv",
    b"customer_id,name,email\nC1,Ann,ann@example.com\nC2,Bob,bob@example.com\nC3,Cy,\n",
)
POLICIES = source(
    "policies.json",
    json.dumps(
        [
            {"policy_number": "P1", "cust_id": "C1", "premium": 100},
            {"policy_number": "P2", "cust_id": "C1", "premium": 200},
            {"policy_number": "P3", "cust_id": "C2", "premium": 300},
            {"policy_number": "P4", "cust_id": "C9", "premium": 400},
            {"policy_number": "P5", "cust_id": None, "premium": 500},
        ]
    ).encode(),
)
CLAIMS = source(
    "claims.ndjson",
    b'{"claim_no": "K1", "policy_id": "P1", "amount_claimed": 10}\n'
    b'{"claim_no": "K2", "policy_id": "P1", "amount_claimed": 20}\n'
    b'{"claim_no": "K3", "policy_id": "P3", "amount_claimed": 30}\n'
    b'{"claim_no": "K4", "policy_id": "P9", "amount_claimed": 40}\n',
)
ORDERS = source("orders.csv", b"customer_id,item\nC1,tea\nC1,jam\n")
VISITS = source("visits.csv", b"customer_id,shop\nC1,Leeds\nC1,York\nC1,Hull\n,Bath\n")


def join(*sources: MashSource) -> JoinResult:
    listed = list(sources)
    alignment = align(listed, get_vocabulary("insurance"), "medium")
    return join_records(listed, alignment, plan_joins(listed, alignment))


def pick(result: JoinResult, *names: str) -> list[tuple[Any, ...]]:
    return [tuple(record.get(name) for name in names) for record in result.records]


def test_one_to_many_gives_one_record_per_policy_and_keeps_the_unmatched() -> None:
    result = join(CUSTOMERS, POLICIES)
    assert pick(result, "customer_id", "name", "email", "policy_number", "premium") == [
        ("C1", "Ann", "ann@example.com", "P1", 100),
        ("C1", "Ann", "ann@example.com", "P2", 200),
        ("C2", "Bob", "bob@example.com", "P3", 300),
        ("C3", "Cy", None, None, None),  # a customer without policies
        ("C9", None, None, "P4", 400),  # a policy of an unknown customer
        (None, None, None, "P5", 500),  # a policy without a customer id
    ]
    assert result.origins == [{0, 1}, {0, 1}, {0, 1}, {0}, {1}, {1}]
    assert result.duplicate_keys == 1
    assert not result.conflicts
    assert result.issues == [
        "customer_id repeats in policies.json for 1 value: one record per policy",
        "1 row(s) of policies.json have no 'cust_id'; kept as records of their own",
        "1 of 5 row(s) of policies.json matched no record on 'customer_id'; "
        "kept as records of their own",
    ]


def test_the_many_side_first_gives_the_same_pairs() -> None:
    result = join(POLICIES, CUSTOMERS)
    assert sorted(pick(result, "policy_number", "customer_id", "name"), key=str) == sorted(
        [
            ("P1", "C1", "Ann"),
            ("P2", "C1", "Ann"),
            ("P3", "C2", "Bob"),
            ("P4", "C9", None),
            ("P5", None, None),
            (None, "C3", "Cy"),
        ],
        key=str,
    )


def test_three_sources_chain_and_every_row_of_each_appears() -> None:
    result = join(CUSTOMERS, POLICIES, CLAIMS)
    assert pick(result, "customer_id", "policy_number", "claim_id", "claim_amount") == [
        ("C1", "P1", "K1", 10),
        ("C1", "P1", "K2", 20),
        ("C1", "P2", None, None),
        ("C2", "P3", "K3", 30),
        ("C3", None, None, None),
        ("C9", "P4", None, None),
        (None, "P5", None, None),
        (None, "P9", "K4", 40),  # a claim on an unknown policy
    ]
    assert result.duplicate_keys == 2  # C1 among the policies, P1 among the claims
    assert "policy_number repeats in claims.ndjson for 1 value: one record per claim" in (
        result.issues
    )


def test_many_to_many_pairs_every_row_with_every_row() -> None:
    result = join(ORDERS, VISITS)
    assert pick(result, "customer_id", "item", "shop") == [
        ("C1", "tea", "Leeds"),
        ("C1", "tea", "York"),
        ("C1", "tea", "Hull"),
        ("C1", "jam", "Leeds"),
        ("C1", "jam", "York"),
        ("C1", "jam", "Hull"),
        (None, None, "Bath"),
    ]
    assert result.duplicate_keys == 2
    assert (
        "1 value(s) of customer_id repeat on both sides of the join with visits.csv: every "
        "pairing of their rows is a record (many-to-many)"
    ) in result.issues


def test_a_many_to_many_join_past_the_limit_fails_before_building_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(joining, "MAX_JOINED_RECORDS", 5)
    with pytest.raises(MashError) as failure:
        join(ORDERS, VISITS)
    assert str(failure.value) == (
        "Joining visits.csv on 'customer_id' ('customer_id' ~ 'customer_id') would give 7 "
        "records, more than the limit of 5: 1 key value(s) repeat among the 2 record(s) joined "
        "so far from orders.csv and 1 among the 4 row(s) of visits.csv (the value 'C1' alone "
        "pairs 2 rows with 3). Join on a more specific key, remove the repeated rows from one "
        "side, or mash fewer files."
    )


def test_the_limit_never_refuses_a_join_that_does_not_multiply_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(joining, "MAX_JOINED_RECORDS", 2)
    assert len(join(CUSTOMERS, POLICIES).records) == 6


def test_conflicting_values_keep_the_earlier_source_and_rows_are_not_merged() -> None:
    contacts = source(
        "contacts.csv",
        b"customer_id,email\nC1,ann@new.example\nC1,ann@example.com\nC2,bob@example.com\n",
    )
    result = join(CUSTOMERS, contacts)
    assert pick(result, "customer_id", "email") == [
        ("C1", "ann@example.com"),  # customers.csv comes first: its value is kept
        ("C1", "ann@example.com"),
        ("C2", "bob@example.com"),
        ("C3", None),
    ]
    assert result.conflicts == {"email": 1}

    reverse = join(contacts, CUSTOMERS)
    assert pick(reverse, "customer_id", "email")[0] == ("C1", "ann@new.example")
    assert reverse.conflicts == {"email": 1}


def test_a_missing_value_is_no_conflict_and_is_filled_from_the_other_source() -> None:
    contacts = source("contacts.csv", b"customer_id,email\nC3,cy@example.com\n")
    result = join(CUSTOMERS, contacts)
    assert pick(result, "customer_id", "email")[2] == ("C3", "cy@example.com")
    assert not result.conflicts


def test_without_a_plan_every_row_is_a_record() -> None:
    result = join(ORDERS)
    assert pick(result, "customer_id", "item") == [("C1", "tea"), ("C1", "jam")]
    assert (result.duplicate_keys, result.issues) == (0, [])
