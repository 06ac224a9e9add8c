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


def assert_handled(response: httpx.Response) -> None:
    """A clear 4xx, or a 200 whose errors are all typed (never a 5xx, never masked)."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        assert response.status_code >= 400 or "event-stream" in content_type, response.text[:200]
        return
    body = response.json()
    errors = body.get("errors") or [] if isinstance(body, dict) else []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", body
