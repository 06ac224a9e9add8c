"""Hypothesis strategies for hostile GraphQL input, and the one check every answer must pass:
a clear 4xx or a typed error, never a 5xx, never a masked INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import strategies as st

PREFLIGHT = {"GraphQL-Preflight": "1"}

STATUS = "query ($id: ID!) { executionStatus(executionId: $id) { id state } }"
MASH = """mutation ($input: CreateDataMashInput!, $key: String) {
  createDataMash(input: $input, idempotencyKey: $key) { __typename ... on Error { code } }
}"""
UPLOAD = """mutation ($file: Upload!, $name: String, $key: String) {
  uploadContent(file: $file, filename: $name, idempotencyKey: $key) {
    __typename ... on Error { code }
  }
}"""
WATCH = "subscription ($id: ID!) { executionStatus(executionId: $id) { id } }"
DOCUMENTS = [STATUS, MASH, UPLOAD, WATCH, "{ __typename }"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Arbitrary text, or a valid document cut, spliced or padded."""
    kind = draw(st.sampled_from(["text", "cut", "splice", "repeat"]))
    if kind == "text":
        return draw(st.text(max_size=300))
    base = draw(st.sampled_from(DOCUMENTS))
    if kind == "repeat":
        return base * draw(st.integers(min_value=2, max_value=40))
    start = draw(st.integers(min_value=0, max_value=len(base)))
    end = draw(st.integers(min_value=start, max_value=len(base)))
    insert = draw(st.text(max_size=30)) if kind == "splice" else ""
    return base[:start] + insert + base[end:]


@st.composite
def variables_for(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid document with arbitrary variables (sometimes not even an object)."""
    document = draw(st.sampled_from([STATUS, MASH]))
    if draw(st.booleans()):
        return document, draw(json_values)
    keys = ["id"] if document == STATUS else ["input", "key"]
    variables = {key: draw(json_values) for key in keys if draw(st.booleans())}
    if document == MASH and draw(st.booleans()):
        variables["input"] = draw(
            st.fixed_dictionaries(
                {"contentRefs": json_values},
                optional={
                    "targetDomain": json_values,
                    "confidenceLevel": json_values,
                    "name": json_values,
                },
            )
        )
    return document, variables


def _json_or_text(valid: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(valid),
        st.text(max_size=80),
        json_values.map(json.dumps),
    )


@st.composite
def multipart_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """The pieces of a GraphQL multipart request, each possibly broken."""
    valid_operations = json.dumps(
        {"query": UPLOAD, "variables": {"file": None, "name": "a.csv", "key": None}}
    )
    operations = draw(_json_or_text(valid_operations))
    map_ = draw(
        st.one_of(
            _json_or_text(json.dumps({"0": ["variables.file"]})),
            st.just(json.dumps({"9": ["variables.file"]})),  # names a file not sent
            st.just(json.dumps({"0": ["variables.nothing.here"]})),
            st.just(json.dumps({"0": ["variables.name"]})),  # a file where a string goes
            st.just(json.dumps({"0": "variables.file"})),
        )
    )
    names = st.one_of(
        st.just("0"),
        st.just("1"),  # a file not in the map
        st.text(min_size=1, max_size=20),
        st.integers(min_value=1000, max_value=20000).map(lambda n: "x" * n),
    )
    files = draw(
        st.lists(
            st.tuples(names, st.text(max_size=30), st.binary(max_size=200)),
            max_size=3,
        )
    )
    return {
        "operations": operations,
        "map": map_,
        "files": files,
        "drop": draw(st.sampled_from([None, "operations", "map"])),
    }


def multipart_request(body: dict[str, Any]) -> dict[str, Any]:
    """httpx `post` keyword arguments for a body drawn from `multipart_bodies`."""
    data = {key: body[key] for key in ("operations", "map") if key != body["drop"]}
    files = [
        (name, (filename or "f", content, "text/csv")) for name, filename, content in body["files"]
    ]
    if not files:
        files = [("0", ("empty.csv", b"", "text/csv"))]  # an empty file
    return {"data": data, "files": files}


# Nesting around `json_input.MAX_DEPTH` (64) and far past it, where a recursive reader fails.
DEPTHS = st.one_of(st.sampled_from([63, 64, 65, 1000, 10_000]), st.integers(0, 130))
OUT_OF_RANGE_NUMBERS = ["1e999", "-1e400", "9" * 5000, "NaN", "Infinity", "-Infinity"]


@st.composite
def lone_surrogates(draw: st.DrawFn) -> str:
    """A JSON string literal holding a lone surrogate escape, maybe amid other text."""
    text = draw(st.text(max_size=6))
    cut = draw(st.integers(min_value=0, max_value=len(text)))
    before, after = (json.dumps(part)[1:-1] for part in (text[:cut], text[cut:]))
    code = draw(st.integers(min_value=0xD800, max_value=0xDFFF))
    return f'"{before}\\u{code:04x}{after}"'


@st.composite
def hostile_json(draw: st.DrawFn) -> str:
    """JSON text (or nearly) no client may get a 500 or a dropped socket for: values nested
    around and far past the limit, strings and keys with lone surrogates, numbers no double
    holds and JSON's non-values, or a plain value."""
    kind = draw(st.sampled_from(["nested", "surrogate", "key", "number", "plain"]))
    if kind == "plain":
        return json.dumps(draw(json_values))
    if kind == "surrogate":
        return draw(lone_surrogates())
    if kind == "key":
        return f"{{{draw(lone_surrogates())}: 1}}"
    if kind == "number":
        return draw(st.sampled_from(OUT_OF_RANGE_NUMBERS))
    depth = draw(DEPTHS)
    inner = draw(st.one_of(json_values.map(json.dumps), lone_surrogates()))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"k":', "}")]))
    return opener * depth + inner + closer * depth


@st.composite
def hostile_graphql_bodies(draw: st.DrawFn) -> str:
    """A GraphQL request's JSON text with `hostile_json` as the whole body, its variables, a
    variable, a content ref, or its extensions."""
    hostile = draw(hostile_json())
    where = draw(st.sampled_from(["body", "variables", "id", "ref", "extensions"]))
    if where == "body":
        return hostile
    if where == "ref":
        key = json.dumps(draw(st.text(max_size=8)))
        variables = f'{{"input": {{"contentRefs": [{hostile}]}}, "key": {key}}}'
        return f'{{"query": {json.dumps(MASH)}, "variables": {variables}}}'
    query = json.dumps(STATUS)
    if where == "variables":
        return f'{{"query": {query}, "variables": {hostile}}}'
    if where == "id":
        return f'{{"query": {query}, "variables": {{"id": {hostile}}}}}'
    return f'{{"query": {query}, "extensions": {hostile}}}'


def assert_handled(response: httpx.Response) -> None:
    """A clear 4xx, or a 200 whose errors are all typed (never a 5xx, never masked), each
    error with a code; a refusal quotes the request id of its `X-Request-Id` header."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text, response.text[:500]
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        assert "event-stream" in content_type, (response.status_code, response.text[:200])
        return
    body = response.json()
    errors = body.get("errors") or [] if isinstance(body, dict) else []
    assert errors or response.status_code < 400, body
    for error in errors:
        extensions = error.get("extensions") or {}
        assert extensions.get("code"), body
        assert extensions["code"] != "INTERNAL_SERVER_ERROR", body
        if response.status_code >= 400:
            assert extensions.get("requestId") == response.headers["x-request-id"], body


def assert_rest_handled(response: httpx.Response) -> None:
    """A REST answer: a success, or a 4xx in the REST error body with a code and the request
    id of its `X-Request-Id` header (never a 5xx)."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text, response.text[:500]
    if response.status_code < 400:
        return
    assert response.headers.get("content-type", "").startswith("application/json"), response
    error = response.json()["error"]
    assert error["code"], error
    assert error["request_id"] == response.headers["x-request-id"], error
