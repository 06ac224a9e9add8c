"""Every kind of failure the reference Runtime can reach through the API has its stable code,
the same on GraphQL (`Execution.failure`) and REST (`failure`), with the Runtime's message. The
Runtime restarting under an execution (RUNTIME_RESTARTED) is in `test_runtime_faults`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import EXECUTION, http_client, request
from tests.experience_plane.rest import client as rest
from tests.support.processes import ApiProcess

TENANT = "failure-codes"
FILES = {
    "customers.csv": None,
    "notes.txt": b"Remember to call Ada about her home policy.\n",
    "left.csv": b"colour,size\nred,1\nblue,2\n",
    "right.csv": b"animal,legs\ncat,4\nbird,2\n",
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def file_ids(api: ApiProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files uploaded once for the module (its own event loop), by name; and a mash."""
    return asyncio.run(_upload(api, tmp_path_factory.mktemp("failure-codes")))


async def _upload(api: ApiProcess, folder: Path) -> dict[str, str]:
    ids = {}
    async with httpx.AsyncClient(timeout=30.0) as http:
        for name, content in FILES.items():
            path = rest.EXAMPLES / name
            if content is not None:
                path = folder / name
                path.write_bytes(content)
            accepted = await rest.upload(http, api, path, tenant=TENANT)
            final = await rest.follow_sse(http, api, accepted.json()["id"], tenant=TENANT)
            assert final["state"] == "COMPLETED", final
            ids[name] = final["artifacts"][0]["file_id"]
        mash = await rest.create_mash(http, api, [ids["customers.csv"]], tenant=TENANT)
        final = await rest.follow_sse(http, api, mash.json()["id"], tenant=TENANT)
        assert final["state"] == "COMPLETED", final
        ids["mash"] = final["artifacts"][0]["mash_id"]
    return ids


async def both_surfaces(
    http: httpx.AsyncClient, api: ApiProcess, execution_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The finished execution over REST (followed to its end) and over GraphQL."""
    from_rest = await rest.follow_sse(http, api, execution_id, tenant=TENANT)
    async with http_client(api, tenant=TENANT) as session:
        seen = await session.execute(request(EXECUTION, id=execution_id))
    from_graphql: dict[str, Any] = seen["executionStatus"]
    return from_rest, from_graphql


def assert_failed_with(
    from_rest: dict[str, Any], from_graphql: dict[str, Any], code: str, words: str
) -> None:
    assert from_rest["state"] == from_graphql["state"] == "FAILED"
    assert from_rest["failure"] == from_graphql["failure"]
    assert from_rest["failure"]["code"] == code, from_rest["failure"]
    assert words in from_rest["failure"]["message"]
    assert from_rest["error"] == from_rest["failure"]["message"]  # deprecated, still there


@pytest.mark.parametrize(
    ("refs", "options", "code", "words"),
    [
        (["file_never_uploaded"], {}, "UNKNOWN_CONTENT_REF", "file_never_uploaded"),
        (["mash"], {}, "NOT_A_FILE", "not an uploaded file"),
        (["notes.txt"], {}, "NOT_TABULAR", "not tabular"),
        (["left.csv", "right.csv"], {}, "NO_JOIN_KEY", "No join key"),
        (["customers.csv"], {"target_domain": "astrology"}, "UNKNOWN_TARGET_DOMAIN", "astrology"),
    ],
    ids=["unknown-ref", "not-a-file", "not-tabular", "no-join-key", "unknown-domain"],
)
async def test_a_failed_mash_has_its_code_on_both_surfaces(
    http: httpx.AsyncClient,
    api: ApiProcess,
    file_ids: dict[str, str],
    refs: list[str],
    options: dict[str, Any],
    code: str,
    words: str,
) -> None:
    content_refs = [file_ids.get(ref, ref) for ref in refs]
    response = await rest.create_mash(http, api, content_refs, tenant=TENANT, **options)
    assert response.status_code == 202, response.text
    assert response.json()["failure"] is None  # accepted, not failed yet
    assert_failed_with(*await both_surfaces(http, api, response.json()["id"]), code, words)


async def test_an_unreadable_upload_has_its_code_on_both_surfaces(
    http: httpx.AsyncClient, api: ApiProcess, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'a,b\n"1,2\n3,4\n')  # a quote never closed
    response = await rest.upload(http, api, broken, tenant=TENANT)
    assert response.status_code == 202, response.text
    assert_failed_with(
        *await both_surfaces(http, api, response.json()["id"]),
        "UNREADABLE_FILE",
        "not readable as CSV",
    )


async def test_a_completed_execution_has_no_failure(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await rest.upload(http, api, rest.EXAMPLES / "policies.json", tenant=TENANT)
    from_rest, from_graphql = await both_surfaces(http, api, response.json()["id"])
    assert from_rest["state"] == from_graphql["state"] == "COMPLETED"
    assert from_rest["failure"] is from_graphql["failure"] is None
    assert from_rest["error"] is None
