"""Hostile upload metadata against the real Runtime, through both surfaces: what the Runtime
stores (and every client reads back) is a safe base name and a valid media type; malformed
multipart bodies are 400s in each surface's error shape; oversize bodies and files say which."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.transports import PREFLIGHT
from tests.support.processes import ApiProcess

UPLOAD = """mutation ($file: Upload!, $filename: String, $mimeType: String) {
  uploadContent(file: $file, filename: $filename, mimeType: $mimeType) {
    __typename ... on ExecutionAccepted { execution { id } } ... on Error { code message } } }"""
STATUS = """query ($id: ID!) { executionStatus(executionId: $id) { state isTerminal
  artifacts { ... on ContentFile { name mimeType } } } }"""
CSV = b"a,b\n1,2\n"
# What was sent (as the part's file name, or as the `filename` argument) and what is stored.
HOSTILE_NAMES = [
    ("part", "../../x.csv", "x.csv"),
    ("part", "/etc/passwd", "passwd"),
    ("part", "C:\\x\\y.csv", "y.csv"),
    ("argument", "../../x.csv", "x.csv"),
    ("argument", "C:\\x\\y.csv", "y.csv"),
    ("argument", "a\x00b\r\nc\x7f\x85.csv", "abc.csv"),
    ("argument", "..", "upload.csv"),
    ("argument", "n" * 10_000 + ".csv", "n" * 251 + ".csv"),
]
INJECTED = "text/csv\r\nX-Injected: 1"


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def graphql_upload(
    http: httpx.AsyncClient, api: ApiProcess, owner: str, **form: Any
) -> httpx.Response:
    """A GraphQL multipart upload; `form` overrides `operations`, `map`, `files`, `variables`
    and the part's `part_name`."""
    variables = {"file": None, **form.pop("variables", {})}
    data = {
        "operations": form.pop("operations", json.dumps({"query": UPLOAD, "variables": variables})),
        "map": form.pop("map", json.dumps({"0": ["variables.file"]})),
    }
    files = form.pop("files", [("0", (form.pop("part_name", "data.csv"), CSV, "text/csv"))])
    headers = {**api.headers(owner), **PREFLIGHT}
    return await http.post(api.graphql_url, data=data, files=files, headers=headers)


async def rest_upload(
    http: httpx.AsyncClient, api: ApiProcess, owner: str, **form: Any
) -> httpx.Response:
    """A REST upload; `form` gives `files` or the part's `part_name`, and form fields."""
    files = form.pop("files", [("file", (form.pop("part_name", "data.csv"), CSV, "text/csv"))])
    return await http.post(
        api.url + "/v1/content/upload", data=form, files=files, headers=api.headers(owner)
    )


async def stored_via_graphql(
    http: httpx.AsyncClient, api: ApiProcess, owner: str, execution_id: str
) -> dict[str, Any]:
    """The file artifact of a finished upload, read back with `executionStatus`."""
    deadline = time.monotonic() + 20
    while True:
        response = await http.post(
            api.graphql_url,
            json={"query": STATUS, "variables": {"id": execution_id}},
            headers=api.headers(owner),
        )
        status = response.json()["data"]["executionStatus"]
        if status["isTerminal"] or time.monotonic() > deadline:
            assert status["state"] == "COMPLETED", status
            (artifact,) = status["artifacts"]
            return dict(artifact)
        await asyncio.sleep(0.1)


async def stored_via_rest(
    http: httpx.AsyncClient, api: ApiProcess, owner: str, execution_id: str
) -> dict[str, Any]:
    """The file artifact of a finished upload, read back from REST's status."""
    deadline = time.monotonic() + 20
    while True:
        response = await http.get(
            f"{api.url}/v1/execution/{execution_id}/status", headers=api.headers(owner)
        )
        status = response.json()
        if status["is_terminal"] or time.monotonic() > deadline:
            assert status["state"] == "COMPLETED", status
            (artifact,) = status["artifacts"]
            return dict(artifact)
        await asyncio.sleep(0.1)


# Names and media types


@pytest.mark.parametrize(("where", "sent", "stored"), HOSTILE_NAMES)
async def test_graphql_stores_a_safe_name(
    api: ApiProcess, where: str, sent: str, stored: str
) -> None:
    owner = tenant()
    form: dict[str, Any] = (
        {"part_name": sent} if where == "part" else {"variables": {"filename": sent}}
    )
    async with httpx.AsyncClient(timeout=30) as http:
        response = await graphql_upload(http, api, owner, **form)
        result = response.json()["data"]["uploadContent"]
        assert result["__typename"] == "ExecutionAccepted", result
        artifact = await stored_via_graphql(http, api, owner, result["execution"]["id"])
    assert artifact == {"name": stored, "mimeType": "text/csv"}


@pytest.mark.parametrize(("where", "sent", "stored"), HOSTILE_NAMES)
async def test_rest_stores_a_safe_name(api: ApiProcess, where: str, sent: str, stored: str) -> None:
    owner = tenant()
    form = {"part_name": sent} if where == "part" else {"filename": sent}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await rest_upload(http, api, owner, **form)
        assert response.status_code == 202, response.text
        artifact = await stored_via_rest(http, api, owner, response.json()["id"])
    assert (artifact["name"], artifact["mime_type"]) == (stored, "text/csv")


async def test_an_injected_media_type_is_stored_as_octet_stream(api: ApiProcess) -> None:
    owner = tenant()
    async with httpx.AsyncClient(timeout=30) as http:
        graphql = await graphql_upload(http, api, owner, variables={"mimeType": INJECTED})
        result = graphql.json()["data"]["uploadContent"]
        from_graphql = await stored_via_graphql(http, api, owner, result["execution"]["id"])
        rest = await rest_upload(http, api, owner, mime_type=INJECTED)
        assert rest.status_code == 202, rest.text
        assert "x-injected" not in rest.headers
        from_rest = await stored_via_rest(http, api, owner, rest.json()["id"])
    assert from_graphql == {"name": "data.csv", "mimeType": "application/octet-stream"}
    assert from_rest["mime_type"] == "application/octet-stream"


# Malformed multipart bodies


def bad_request(response: httpx.Response) -> str:
    """The message of a GraphQL 400 with code BAD_REQUEST."""
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"] == {
        "code": "BAD_REQUEST",
        "requestId": response.headers["x-request-id"],
    }
    return str(error["message"])


async def test_graphql_refuses_repeated_parts_and_paths(api: ApiProcess) -> None:
    owner = tenant()
    twice = [("0", ("a.csv", CSV, "text/csv")), ("0", ("b.csv", CSV, "text/csv"))]
    two_files = [("0", ("a.csv", CSV, "text/csv")), ("1", ("b.csv", CSV, "text/csv"))]
    async with httpx.AsyncClient(timeout=30) as http:
        repeated = await graphql_upload(http, api, owner, files=twice)
        mapped_twice = await graphql_upload(
            http,
            api,
            owner,
            files=two_files,
            map=json.dumps({"0": ["variables.file"], "1": ["variables.file"]}),
        )
        same_path = await graphql_upload(
            http, api, owner, map=json.dumps({"0": ["variables.file", "variables.file"]})
        )
        unmapped = await graphql_upload(http, api, owner, files=two_files)
        nowhere = await graphql_upload(http, api, owner, map=json.dumps({"0": ["variables.nope"]}))
        not_sent = await graphql_upload(http, api, owner, map=json.dumps({"7": ["variables.file"]}))
    assert bad_request(repeated) == "The multipart body repeats the part(s) ['0']."
    assert "['variables.file'] more than once" in bad_request(mapped_twice)
    assert "['variables.file'] more than once" in bad_request(same_path)
    assert bad_request(unmapped) == "File part(s) the map does not name: ['1']."
    assert "'variables.nope' is not a null value" in bad_request(nowhere)
    assert "not sent: ['7']" in bad_request(not_sent)


async def test_rest_refuses_repeated_parts(api: ApiProcess) -> None:
    owner = tenant()
    twice = [("file", ("a.csv", CSV, "text/csv")), ("file", ("b.csv", CSV, "text/csv"))]
    async with httpx.AsyncClient(timeout=30) as http:
        files = await rest_upload(http, api, owner, files=twice)
        names = await http.post(
            api.url + "/v1/content/upload",
            data={"filename": ["a.csv", "b.csv"]},
            files=[("file", ("data.csv", CSV, "text/csv"))],
            headers=api.headers(owner),
        )
    assert files.status_code == 400
    assert files.json()["error"]["code"] == "INVALID_INPUT"
    assert "Maximum number of files is 1" in files.json()["error"]["message"]
    assert names.status_code == 400
    assert names.json()["error"]["code"] == "INVALID_INPUT"
    assert (
        names.json()["error"]["message"] == "The multipart body repeats the part(s) ['filename']."
    )


async def test_ten_thousand_parts_are_refused_in_each_surfaces_shape(api: ApiProcess) -> None:
    owner = tenant()
    parts = [(str(n), (f"{n}.csv", b"x", "text/csv")) for n in range(10_000)]
    async with httpx.AsyncClient(timeout=60) as http:
        graphql = await graphql_upload(http, api, owner, files=parts)
        rest = await rest_upload(http, api, owner, files=[("file", part) for _, part in parts])
    assert "Too many files" in bad_request(graphql)
    assert rest.status_code == 400
    assert rest.json()["error"]["code"] == "INVALID_INPUT"
    assert rest.json()["error"]["request_id"]


# Oversize bodies and files


async def raw_answer(
    api: ApiProcess, path: str, declared: int, content_type: str = "multipart/form-data; boundary=x"
) -> tuple[str, dict[str, Any]]:
    """The status line and JSON body answered to a request of `declared` bytes of which only
    the headers are sent (the server answers without reading the body)."""
    head = {
        "host": f"127.0.0.1:{api.port}",
        "content-type": content_type,
        "content-length": str(declared),
        **api.headers(),
        **PREFLIGHT,
    }
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
        writer.write(f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode())
        await writer.drain()
        answer = (await asyncio.wait_for(reader.read(), timeout=10)).decode()
    finally:
        writer.close()
    status_line, _, rest = answer.partition("\r\n")
    return status_line, json.loads(rest.partition("\r\n\r\n")[2])


async def test_an_oversize_upload_is_upload_too_large_on_both_surfaces(api: ApiProcess) -> None:
    declared = 200 * 1024 * 1024  # over the default 100 MiB upload limit and its envelope
    graphql_status, graphql = await raw_answer(api, "/graphql", declared)
    rest_status, rest = await raw_answer(api, "/v1/content/upload", declared)
    assert graphql_status == rest_status == "HTTP/1.1 413 Request Entity Too Large"
    (error,) = graphql["errors"]
    assert error["extensions"] == {
        "code": "UPLOAD_TOO_LARGE",
        "maxBytes": 100 * 1024 * 1024,
        "requestId": error["extensions"]["requestId"],  # the raw answer's headers are not read
    }
    assert rest["error"]["code"] == "UPLOAD_TOO_LARGE"
    assert rest["error"]["details"] == {"max_bytes": 100 * 1024 * 1024}


async def test_an_oversize_json_body_is_request_too_large_on_both_surfaces(
    api: ApiProcess,
) -> None:
    declared = 2 * 1024 * 1024  # over the default 1 MiB request limit
    graphql_status, graphql = await raw_answer(api, "/graphql", declared, "application/json")
    rest_status, rest = await raw_answer(
        api, "/v1/content/data-mash/create", declared, "application/json"
    )
    assert graphql_status == rest_status == "HTTP/1.1 413 Request Entity Too Large"
    (error,) = graphql["errors"]
    assert error["extensions"] == {
        "code": "REQUEST_TOO_LARGE",
        "requestId": error["extensions"]["requestId"],  # the raw answer's headers are not read
    }
    assert rest["error"]["code"] == "REQUEST_TOO_LARGE"
    assert rest["error"]["details"] == {"max_bytes": 1024 * 1024}
