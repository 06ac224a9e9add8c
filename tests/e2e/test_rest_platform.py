"""REST in front of a Runtime that behaves like the platform's current one: synchronous submits
and reduced artifacts, whose details REST fetches through the services as GraphQL does."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.experience_plane.rest.client import (
    EXAMPLES,
    create_mash,
    sse_events,
    upload,
    ws_messages,
)
from tests.support.processes import ApiProcess, RuntimeProcess, started_together


@pytest.fixture(scope="module")
def platform_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The API in platform flavour, in front of the Runtime in platform mode."""
    root = tmp_path_factory.mktemp("rest-platform")
    runtime = RuntimeProcess(root / "runtime", mode="platform")
    api = ApiProcess(runtime.url, root / "api", flavour="platform", auth=True)
    with started_together(runtime, api):
        yield api


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def test_rest_flow_against_the_platform_runtime(
    http: httpx.AsyncClient, platform_api: ApiProcess
) -> None:
    api = platform_api
    file_ids = []
    for name in ("customers.csv", "policies.json"):
        response = await upload(http, api, EXAMPLES / name)
        assert response.status_code == 202, response.text
        execution = response.json()
        # Finished when the submit returns; the reduced artifact's details were fetched.
        assert execution["state"] == "COMPLETED"
        assert execution["is_terminal"] is True
        (artifact,) = execution["artifacts"]
        assert artifact["type"] == "content_file"
        data = (EXAMPLES / name).read_bytes()
        assert (artifact["name"], artifact["size"]) == (name, len(data))
        assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
        assert artifact["mime_type"]
        assert artifact["created_at"]
        assert artifact["row_count"] == 6
        assert artifact["columns"]
        file_ids.append(artifact["file_id"])
        # Following a finished execution: its terminal status, then the end.
        events = await sse_events(http, api, execution["id"])
        assert [event for event, _ in events] == ["status", "complete"]
        messages, code, _ = await ws_messages(api, execution["id"], headers=api.headers())
        assert ([m["execution"]["state"] for m in messages], code) == (["COMPLETED"], 1000)

    response = await create_mash(http, api, file_ids, target_domain="insurance", join="full")
    assert response.status_code == 202, response.text
    (mash,) = response.json()["artifacts"]
    assert mash["type"] == "data_mash"
    assert mash["canonical_fields"]
    # Six policies, and in a full join the customer without one.
    assert mash["row_count"] == 7
    assert [c["chosen"] for c in mash["join_candidates"]][:1] == [True]
    page = await http.get(api.url + mash["records_url"], params={"limit": 2}, headers=api.headers())
    assert page.status_code == 200
    assert page.json()["total"] == mash["row_count"]
    assert len(page.json()["records"]) == 2
