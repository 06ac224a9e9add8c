"""Domain vocabularies: the canonical fields a data mash aligns columns onto.
A vocabulary names canonical fields, the other names they go by (synonyms, already normalised:
lower snake_case), the types their values may have, and whether they identify an entity. Column
name prefixes that only say whose column it is (`cust_email`) are listed so they can be looked past.
"""

from __future__ import annotations

from dataclasses import dataclass

ID_TYPES = ("integer", "string")
NUMERIC = ("integer", "number")
TEMPORAL = ("date", "datetime")
TEXT = ("string",)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A canonical field: its name, synonyms, acceptable types, and what it identifies."""

    name: str
    synonyms: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    entity: str | None = None

    @property
    def identifier(self) -> bool:
        """Whether the field identifies an entity (and so is a natural join key)."""
        return self.entity is not None


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The canonical model of one domain."""

    domain: str
    default_entity: str
    fields: tuple[FieldSpec, ...]
    prefixes: tuple[str, ...] = ()

    def spec(self, name: str) -> FieldSpec | None:
        """The canonical field with this name, if the vocabulary has it."""
        return next((spec for spec in self.fields if spec.name == name), None)


class UnknownDomain(LookupError):
    """No vocabulary for the requested target domain."""


_GENERAL_FIELDS = (
    FieldSpec("id", ("identifier", "record_id", "uid", "key"), ID_TYPES, "record"),
    FieldSpec(
        "customer_id",
        ("cust_id", "client_id", "customer_no", "customer_number", "cust_no", "client_no"),
        ID_TYPES,
        "customer",
    ),
    FieldSpec("first_name", ("given_name", "forename", "firstname", "fname"), TEXT),
    FieldSpec("last_name", ("surname", "family_name", "lastname", "lname"), TEXT),
    FieldSpec("name", ("full_name", "display_name", "customer_name", "client_name"), TEXT),
    FieldSpec("email", ("e_mail", "email_address", "mail", "emailaddress"), TEXT),
    FieldSpec(
        "phone", ("phone_number", "telephone", "tel", "mobile", "mobile_number", "phone_no"), ()
    ),
    FieldSpec("date_of_birth", ("dob", "birth_date", "birthdate", "birthday"), TEMPORAL),
    FieldSpec("address", ("street", "street_address", "address_line_1", "address1"), TEXT),
    FieldSpec("city", ("town",), TEXT),
    FieldSpec("postcode", ("postal_code", "post_code", "zip", "zip_code", "zipcode"), ()),
    FieldSpec("country", ("country_code", "nation"), TEXT),
    FieldSpec("amount", ("total", "value", "total_amount"), NUMERIC),
    FieldSpec("currency", ("currency_code", "ccy"), TEXT),
    FieldSpec("status", ("state_code", "record_status"), ()),
    FieldSpec("created_at", ("created", "creation_date", "created_on", "date_created"), TEMPORAL),
    FieldSpec("updated_at", ("updated", "modified_at", "last_updated", "updated_on"), TEMPORAL),
)

_INSURANCE_FIELDS = (
    FieldSpec(
        "customer_id",
        (
            "cust_id",
            "client_id",
            "customer_no",
            "customer_number",
            "cust_no",
            "client_no",
            "policyholder_id",
            "policy_holder_id",
            "holder_id",
            "insured_id",
            "member_id",
        ),
        ID_TYPES,
        "customer",
    ),
    FieldSpec(
        "policy_number",
        ("policy_no", "policy_id", "policy_num", "policy_ref", "policy_reference", "pol_no"),
        ID_TYPES,
        "policy",
    ),
    FieldSpec(
        "claim_id", ("claim_number", "claim_no", "claim_ref", "claim_reference"), ID_TYPES, "claim"
    ),
    FieldSpec(
        "premium",
        ("annual_premium", "premium_amount", "yearly_premium", "gross_premium", "monthly_premium"),
        NUMERIC,
    ),
    FieldSpec(
        "coverage_amount",
        ("sum_insured", "cover_amount", "coverage", "insured_amount", "coverage_limit"),
        NUMERIC,
    ),
    FieldSpec("deductible", ("excess", "deductible_amount"), NUMERIC),
    FieldSpec(
        "start_date",
        ("effective_date", "inception_date", "policy_start", "cover_start", "start"),
        TEMPORAL,
    ),
    FieldSpec(
        "end_date", ("expiry_date", "expiration_date", "policy_end", "cover_end", "end"), TEMPORAL
    ),
    FieldSpec("product", ("product_type", "policy_type", "line_of_business", "lob", "plan"), TEXT),
    FieldSpec("claim_amount", ("amount_claimed", "claimed_amount", "loss_amount"), NUMERIC),
    FieldSpec("claim_date", ("date_of_loss", "loss_date", "incident_date"), TEMPORAL),
)

_GENERAL_PREFIXES = ("cust_", "customer_", "client_", "user_", "usr_", "tbl_", "src_")

VOCABULARIES: dict[str, Vocabulary] = {
    "general": Vocabulary("general", "record", _GENERAL_FIELDS, _GENERAL_PREFIXES),
    "insurance": Vocabulary(
        "insurance",
        "policy",
        # The insurance fields come first so that their richer customer_id wins.
        _INSURANCE_FIELDS + tuple(spec for spec in _GENERAL_FIELDS if spec.name != "customer_id"),
        (*_GENERAL_PREFIXES, "policyholder_", "holder_", "insured_", "ph_", "pol_"),
    ),
}


def get_vocabulary(domain: str) -> Vocabulary:
    """The vocabulary of `domain`, or `UnknownDomain` naming the known ones."""
    try:
        return VOCABULARIES[domain]
    except KeyError as exc:
        known = ", ".join(sorted(VOCABULARIES))
        raise UnknownDomain(f"Unknown target_domain {domain!r}; known domains: {known}") from exc
