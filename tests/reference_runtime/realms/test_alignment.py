"""Column name normalisation and the mapping of columns onto canonical fields."""

from __future__ import annotations

import pytest

from reference_runtime.realms.alignment import align, normalise_name, score
from reference_runtime.realms.vocabularies import get_vocabulary
from tests.reference_runtime.realms.sources import source


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CustomerID", "customer_id"),
        ("custId", "cust_id"),
        ("E-mail", "e_mail"),
        ("Policy No.", "policy_no"),
        ("  First Name ", "first_name"),
        ("HTTPStatus", "http_status"),
        ("DOB", "dob"),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


def test_scores_rank_exact_over_synonym_over_prefix_over_fuzzy_and_punish_type_mismatch() -> None:
    vocabulary = get_vocabulary("general")
    email = vocabulary.spec("email")
    assert email is not None
    exact = score("email", "string", email, vocabulary.prefixes)
    synonym = score("email_address", "string", email, vocabulary.prefixes)
    prefixed = score("cust_email", "string", email, vocabulary.prefixes)
    fuzzy = score("emial", "string", email, vocabulary.prefixes)
    mismatch = score("email", "integer", email, vocabulary.prefixes)
    assert exact == (1.0, "exact")
    assert synonym == (0.85, "synonym")
    assert prefixed == (0.8, "prefix")
    assert fuzzy[1] == "fuzzy"
    assert 0.5 <= fuzzy[0] < 0.7
    assert mismatch[0] == pytest.approx(0.6)
    assert score("banana", "string", email, vocabulary.prefixes) == (0.0, "none")


def _mapping(level: str, domain: str = "insurance") -> dict[str, str]:
    customers = source("customers.csv", b"custId,E-mail,surname,Email Address\nC1,a@x,Lee,b@x\n")
    alignment = align([customers], get_vocabulary(domain), level)
    return {m.column: m.field for m in alignment.by_column.values()}


def test_medium_level_maps_synonyms_and_keeps_one_column_per_field() -> None:
    assert _mapping("medium") == {
        "custId": "customer_id",
        "E-mail": "email",
        "surname": "last_name",
        # email is taken by the equally confident, earlier E-mail: this one stays apart
        "Email Address": "email_address",
    }


def test_high_level_maps_only_exact_names_and_keeps_the_rest_as_their_own_fields() -> None:
    assert _mapping("high") == {
        "custId": "cust_id",
        "E-mail": "e_mail",
        "surname": "surname",
        "Email Address": "email_address",
    }


def test_a_column_that_collides_with_a_field_it_did_not_map_to_is_prefixed_with_its_source() -> (
    None
):
    # `premium` holding dates cannot be the numeric premium at medium level.
    policies = source("policies.csv", b"premium,policy_no\n2024-01-01,P1\n")
    alignment = align([policies], get_vocabulary("insurance"), "medium")
    fields = {m.column: m.field for m in alignment.by_column.values()}
    assert fields == {"premium": "policies_premium", "policy_no": "policy_number"}
    assert any("'premium'" in issue and "0.60" in issue for issue in alignment.issues)


def test_incompatible_types_for_one_field_are_a_type_conflict_kept_as_text() -> None:
    a = source("a.csv", b"id,amount\n1,10\n2,20\n")
    b = source("b.csv", b"id,amount\n1,2024-01-01\n2,2024-01-02\n")
    alignment = align([a, b], get_vocabulary("general"), "low")
    amount = next(f for f in alignment.fields if f.name == "amount")
    assert [m.column for m in amount.mappings] == ["amount", "amount"]
    assert amount.type == "string"
    assert alignment.type_conflicts == 1
