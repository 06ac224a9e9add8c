"""Join key candidates from values: references (inclusion dependencies) and shared keys, on a
generated star schema and on small cases made to fool the values."""

from __future__ import annotations

import pytest

from reference_runtime.realms.alignment import MashSource, align
from reference_runtime.realms.keys import Candidate, KeyIndex, find_candidates, key_of
from reference_runtime.realms.planning import JoinPlan, plan_joins
from reference_runtime.realms.vocabularies import get_vocabulary
from tests.reference_runtime.realms.sources import source
from tests.support.star_schema import generate

STAR = generate(2_000)
STAR_SOURCES = [source(name, data) for name, data in STAR.files().items()]
ORDERS, CUSTOMERS, PRODUCTS = 0, 1, 2


def candidates(sources: list[MashSource]) -> list[Candidate]:
    return find_candidates(
        sources, align(sources, get_vocabulary("general"), "medium"), KeyIndex(sources)
    )


def plan(sources: list[MashSource]) -> JoinPlan:
    return plan_joins(
        sources, align(sources, get_vocabulary("general"), "medium"), KeyIndex(sources)
    )


def named(sources: list[MashSource], c: Candidate) -> tuple[str, str, str, str]:
    (a, ac), (b, bc) = c.column, c.references
    return (
        sources[a].filename,
        sources[a].table.columns[ac],
        sources[b].filename,
        sources[b].table.columns[bc],
    )


def find(sources: list[MashSource], found: list[Candidate], *key: str) -> Candidate:
    (match,) = [c for c in found if named(sources, c) == key]
    return match


def test_the_fact_references_each_dimension_on_its_own_key_whatever_the_names() -> None:
    joins = plan(STAR_SOURCES)
    assert joins.fact == ORDERS
    assert {(step.kind, *named(STAR_SOURCES, step.candidate)) for step in joins.steps} == {
        ("reference", "orders.csv", "product_code", "products.csv", "code"),
        ("reference", "orders.csv", "cust", "customers.csv", "id"),
    }


def test_a_low_cardinality_code_references_its_dimension() -> None:
    codes = find(
        STAR_SOURCES, candidates(STAR_SOURCES), "orders.csv", "product_code", "products.csv", "code"
    )
    assert STAR.expected.distinct_products == 40  # dozens of values over 2,000 orders
    assert (codes.kind, codes.containment, codes.uniqueness, codes.accepted) == (
        "reference",
        1.0,
        1.0,
        True,
    )
    assert codes.many_to_one


def test_a_high_cardinality_key_with_dangling_references_still_references() -> None:
    cust = find(STAR_SOURCES, candidates(STAR_SOURCES), "orders.csv", "cust", "customers.csv", "id")
    assert STAR.expected.dangling_customers > 0
    assert 0.9 < cust.containment < 1.0  # about 1 % of the orders name an unknown customer
    assert cust.accepted


def test_small_whole_numbers_inside_a_numbering_prove_nothing() -> None:
    found = candidates(STAR_SOURCES)
    quantity = find(STAR_SOURCES, found, "orders.csv", "quantity", "customers.csv", "customer_no")
    assert quantity.containment == 1.0  # 1..9 are all customer numbers...
    assert quantity.reason == (
        "'quantity' (orders.csv) holds whole numbers (1 to 9) and 'customer_no' (customers.csv) "
        f"numbers its rows 1 to {STAR.expected.customers}: any such column is contained in it, "
        "so the values prove nothing. If it is a reference, give the two columns agreeing names"
    )


@pytest.mark.parametrize("name", ["year", "status"])
def test_a_name_shared_by_columns_unique_on_neither_side_is_no_key(name: str) -> None:
    found = candidates(STAR_SOURCES)
    shared = find(STAR_SOURCES, found, "orders.csv", name, "customers.csv", name)
    assert shared.kind == "shared"
    assert not shared.accepted
    assert "share a name but are unique on neither side" in str(shared.reason)
    assert "a shared name alone is not a key" in str(shared.reason)
    assert all(
        named(STAR_SOURCES, step.candidate)[1] not in ("year", "status")
        for step in plan(STAR_SOURCES).steps
    )


def test_values_can_make_a_shared_name_a_key() -> None:
    years = source("years.csv", b"year,label\n2021,first\n2022,second\n2023,third\n2024,fourth\n")
    sources = [STAR_SOURCES[ORDERS], years]
    joins = plan(sources)
    (step,) = joins.steps
    assert (step.kind, *named(sources, step.candidate)) == (
        "reference",
        "orders.csv",
        "year",
        "years.csv",
        "year",
    )


def test_decimal_measures_are_no_keys() -> None:
    products = source("products.csv", b"code,list_price\nA,2.5\nB,3.75\n")
    sales = source("sales.csv", b"product,unit_price\nA,2.5\nB,3.75\nA,2.5\n")
    found = candidates([sales, products])
    price = find([sales, products], found, "sales.csv", "unit_price", "products.csv", "list_price")
    assert price.reason == (
        "'unit_price' (sales.csv) holds decimal numbers, a measurement rather than a key"
    )
    (step,) = plan([sales, products]).steps
    assert named([sales, products], step.candidate)[1] == "product"


def test_agreeing_names_accept_a_reference_with_more_dangling_values() -> None:
    customers = source("customers.csv", b"customer_id,name\nC1,Ann\nC2,Bob\nC3,Cy\nC4,Di\n")
    named_alike = source("orders.csv", b"customer_id,item\nC1,a\nC2,b\nC3,c\nX8,d\nX9,e\n")
    named_apart = source("orders.csv", b"buyer,item\nC1,a\nC2,b\nC3,c\nX8,d\nX9,e\n")
    alike = find(
        [named_alike, customers],
        candidates([named_alike, customers]),
        "orders.csv",
        "customer_id",
        "customers.csv",
        "customer_id",
    )
    assert (alike.containment, alike.accepted) == (0.6, True)
    apart = find(
        [named_apart, customers],
        candidates([named_apart, customers]),
        "orders.csv",
        "buyer",
        "customers.csv",
        "customer_id",
    )
    assert apart.containment == 0.6
    assert "(a reference needs 50% where the names agree, 90% otherwise)" in str(apart.reason)


def test_a_word_in_common_with_the_referenced_file_is_agreement() -> None:
    customers = source("customers.csv", b"id,name\nC1,Ann\nC2,Bob\nC3,Cy\n")
    orders = source("orders.csv", b"cust,item\nC1,a\nC2,b\nC9,c\n")  # 2 of 3 known
    (step,) = plan([orders, customers]).steps
    assert named([orders, customers], step.candidate) == (
        "orders.csv",
        "cust",
        "customers.csv",
        "id",
    )


def test_keys_compare_across_spellings_of_one_value() -> None:
    assert key_of("7") == key_of(7) == key_of(7.0) == key_of(" 7 ") == 7
    assert key_of("ABC") == key_of("abc")
    assert key_of("007") != key_of(7)  # a code with a leading zero stays a code


def test_a_referenced_column_with_repeated_values_is_refused_saying_so() -> None:
    repeated = STAR.products.replace(b"P-002,", b"P-001,", 1)  # two rows of products.csv say P-001
    sources = [STAR_SOURCES[ORDERS], source("products.csv", repeated)]
    found = candidates(sources)
    code = find(sources, found, "orders.csv", "product_code", "products.csv", "code")
    assert code.uniqueness == 0.975
    assert code.reason == (
        "'code' (products.csv) is not unique (40 rows with a value, 39 distinct values), so a "
        "value of 'product_code' (orders.csv) could match several rows: remove the repeated "
        "rows, or join on another key"
    )
