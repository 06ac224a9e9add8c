"""`data_mash.create` and the mash artifact, over HTTP against a Runtime process."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reference_runtime.support import CUSTOMERS_CSV, POLICIES_JSON, WEATHER_CSV, RuntimeApi


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
    status = api.mash([customers, policies], target_domain="insurance", confidence_level="medium")
    payload = _mash_payload(status)
    assert status["intent_type"] == "data_mash.create"
    assert payload["mash_id"].startswith("mash_")
    assert (payload["entity"], payload["target_domain"], payload["confidence_level"]) == (
        "customer",
        "insurance",
        "medium",
    )
    assert payload["row_count"] == 5
    assert payload["join_keys"] == [
        {
            "field": "customer_id",
            "sources": [
                {"file_id": customers, "column": "CustID"},
                {"file_id": policies, "column": "policyholder_id"},
            ],
            "overlap": 0.75,
        }
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


def test_unknown_domain_lists_the_known_ones(api: RuntimeApi) -> None:
    customers = api.upload_file_id("customers.csv", CUSTOMERS_CSV, "text/csv")
    error = _failure(api.mash([customers], target_domain="astrology"))
    assert error == "Unknown target_domain 'astrology'; known domains: general, insurance"


def test_missing_refs_fail_clearly(api: RuntimeApi) -> None:
    response = api.submit("data_mash.create", {"options": {}})
    error = _failure(api.wait(response.json()["execution_id"]))
    assert error.startswith("data_mash.create needs parameters.content_refs")
