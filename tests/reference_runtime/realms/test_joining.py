"""The joins: references as left joins from the fact, shared keys as full outer joins with
multiplicity, value conflicts, repeated keys and the many-to-many limit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from reference_runtime.realms import joining
from reference_runtime.realms.alignment import MashError, MashSource, align, separate
from reference_runtime.realms.joining import JoinResult, join_records
from reference_runtime.realms.keys import KeyIndex
from reference_runtime.realms.materialise import RecordStats, materialise
from reference_runtime.realms.planning import JoinPlan, plan_joins
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


@dataclass
class Joined:
    plan: JoinPlan
    result: JoinResult
    records: list[dict[str, Any]]
    stats: RecordStats


def join(*sources: MashSource, full: bool = False) -> Joined:
    listed = list(sources)
    names = align(listed, get_vocabulary("insurance"), "medium")
    index = KeyIndex(listed)
    plan = plan_joins(listed, names, index)
    alignment = separate(names, listed, plan.order, plan.groups(), plan.reference_keys())
    result = join_records(listed, alignment, index, plan, full=full)
    records, stats = materialise(listed, alignment, index, result)
    return Joined(plan, result, list(records), stats)


def pick(joined: Joined, *names: str) -> list[tuple[Any, ...]]:
    return [tuple(record.get(name) for name in names) for record in joined.records]


@pytest.mark.parametrize("order", ["customers first", "policies first"])
def test_a_reference_gives_one_record_per_row_of_the_fact_whichever_file_comes_first(
    order: str,
) -> None:
    sources = (CUSTOMERS, POLICIES) if order == "customers first" else (POLICIES, CUSTOMERS)
    joined = join(*sources)
    assert sources[joined.plan.fact] is POLICIES
    (step,) = joined.plan.steps
    assert step.kind == "reference"
    assert pick(joined, "policy_number", "customer_id", "name", "email", "premium") == [
        ("P1", "C1", "Ann", "ann@example.com", 100),
        ("P2", "C1", "Ann", "ann@example.com", 200),
        ("P3", "C2", "Bob", "bob@example.com", 300),
        ("P4", "C9", None, None, 400),  # a dangling reference, kept
        ("P5", None, None, None, 500),  # no reference at all, kept
    ]
    (outcome,) = joined.result.references
    assert (outcome.dangling, outcome.examples, outcome.missing) == (1, ("C9",), 1)
    assert (outcome.unreferenced, outcome.emitted) == (1, False)  # C3 has no policy
    assert joined.result.duplicate_keys == 0  # a fact repeating its reference is no duplicate
    assert joined.result.issues == [
        "1 record(s) reference a 'cust_id' that customers.csv does not have (1 distinct "
        "value(s), e.g. 'C9'): kept, with the fields of customers.csv empty",
        "1 row(s) of policies.json have no 'cust_id': kept, with the fields of customers.csv empty",
        "1 of 3 row(s) of customers.csv are referenced by no record: counted, not emitted "
        '(options.join "full" keeps them)',
    ]


def test_a_full_join_keeps_the_unreferenced_rows_as_records_of_their_own() -> None:
    joined = join(CUSTOMERS, POLICIES, full=True)
    assert pick(joined, "policy_number", "customer_id", "name")[-1] == (None, "C3", "Cy")
    assert len(joined.records) == 6
    assert joined.result.references[0].emitted
    assert "kept as records of their own (full join)" in joined.result.issues[-1]


def test_a_chain_of_references_starts_at_the_source_that_reaches_the_others() -> None:
    joined = join(CUSTOMERS, POLICIES, CLAIMS)
    assert joined.plan.order == [2, 1, 0]  # claims -> policies -> customers
    assert pick(joined, "claim_id", "policy_number", "customer_id", "name") == [
        ("K1", "P1", "C1", "Ann"),
        ("K2", "P1", "C1", "Ann"),
        ("K3", "P3", "C2", "Bob"),
        ("K4", "P9", None, None),  # a claim on an unknown policy
    ]
    full = join(CUSTOMERS, POLICIES, CLAIMS, full=True)
    # Policies without claims join their customers too; the customer without a policy last.
    assert pick(full, "claim_id", "policy_number", "customer_id", "name")[4:] == [
        (None, "P2", "C1", "Ann"),
        (None, "P4", "C9", None),
        (None, "P5", None, None),
        (None, None, "C3", "Cy"),
    ]


def test_one_to_one_sources_take_the_first_as_the_fact() -> None:
    details = source("details.csv", b"customer_id,city\nC1,Leeds\nC2,York\nC7,Hull\n")
    joined = join(CUSTOMERS, details)
    assert joined.plan.fact == 0
    assert pick(joined, "customer_id", "name", "city") == [
        ("C1", "Ann", "Leeds"),
        ("C2", "Bob", "York"),
        ("C3", "Cy", None),
    ]


def test_many_to_many_pairs_every_row_with_every_row() -> None:
    joined = join(ORDERS, VISITS)
    assert [step.kind for step in joined.plan.steps] == ["shared"]
    assert pick(joined, "customer_id", "item", "shop") == [
        ("C1", "tea", "Leeds"),
        ("C1", "tea", "York"),
        ("C1", "tea", "Hull"),
        ("C1", "jam", "Leeds"),
        ("C1", "jam", "York"),
        ("C1", "jam", "Hull"),
        (None, None, "Bath"),
    ]
    assert joined.result.duplicate_keys == 2
    assert (
        "1 value(s) of customer_id repeat on both sides of the join with visits.csv: every "
        "pairing of their rows is a record (many-to-many)"
    ) in joined.result.issues


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
    assert len(join(CUSTOMERS, POLICIES).records) == 5


def test_same_named_columns_of_a_referenced_source_are_fields_of_their_own() -> None:
    contacts = source(
        "contacts.csv",
        b"customer_id,email\nC1,ann@new.example\nC1,ann@example.com\nC2,bob@example.com\n",
    )
    joined = join(CUSTOMERS, contacts)
    assert pick(joined, "customer_id", "email", "customers_email") == [
        ("C1", "ann@new.example", "ann@example.com"),
        ("C1", "ann@example.com", "ann@example.com"),
        ("C2", "bob@example.com", "bob@example.com"),
    ]
    assert not joined.stats.conflicts


def test_conflicting_values_of_a_shared_key_join_keep_the_earlier_source() -> None:
    old = source("old.csv", b"customer_id,city\nC1,Leeds\nC1,Leeds\n")
    new = source("new.csv", b"customer_id,city\nC1,York\nC1,York\n")
    joined = join(old, new)
    assert pick(joined, "customer_id", "city") == [("C1", "Leeds")] * 4
    assert joined.stats.conflicts == {"city": 4}
    assert pick(join(new, old), "city") == [("York",)] * 4


def test_a_missing_value_is_no_conflict_and_is_filled_from_the_other_source() -> None:
    old = source("old.csv", b"customer_id,email\nC3,\nC3,\n")
    new = source("new.csv", b"customer_id,email\nC3,cy@example.com\nC3,\n")
    joined = join(old, new)
    assert pick(joined, "email") == [("cy@example.com",), (None,)] * 2
    assert not joined.stats.conflicts


def test_without_a_plan_every_row_is_a_record() -> None:
    joined = join(ORDERS)
    assert pick(joined, "customer_id", "item") == [("C1", "tea"), ("C1", "jam")]
    assert (joined.result.duplicate_keys, joined.result.issues) == (0, [])
