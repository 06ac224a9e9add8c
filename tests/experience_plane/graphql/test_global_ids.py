"""Global ids: opaque, one per object and type, and a malformed one is INVALID_INPUT (never a
500), before any Runtime call (this app's Runtime is unreachable)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from experience_plane.graphql.global_ids import global_id, own_execution_id, parse_global_id
from experience_plane.services import InvalidInputError
from tests.experience_plane.support import RunningApp


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_global_id_names_the_type_and_the_own_id_opaquely() -> None:
    value = global_id("Execution", "exec_1")
    assert "exec_1" not in value
    assert parse_global_id(value) == ("Execution", "exec_1")
    assert global_id("ContentFile", "x") != global_id("DataMash", "x")
    # An own id may hold the separator.
    assert parse_global_id(global_id("DataMash", "a:b")) == ("DataMash", "a:b")


MALFORMED = [
    "exec_0123",
    "",
    "not base64!",
    b64("Execution"),
    b64("Execution:"),
    b64("Unknown:1"),
    b64("execution:1"),
    base64.b64encode(b"\xff\xfe:1").decode(),
    b64("Execution:1").rstrip("="),
]


@pytest.mark.parametrize("value", MALFORMED)
def test_anything_else_is_invalid_input(value: str) -> None:
    with pytest.raises(InvalidInputError, match="not a valid global id") as caught:
        parse_global_id(value)
    assert caught.value.field == "id"


def test_an_execution_id_argument_takes_the_own_or_the_global_id() -> None:
    assert own_execution_id("exec_1") == "exec_1"
    assert own_execution_id(global_id("Execution", "exec_1")) == "exec_1"
    # Another type's global id is not an execution's: passed on as it is (and unknown).
    other = global_id("ContentFile", "file_1")
    assert own_execution_id(other) == other


async def query(app: RunningApp, document: str, **variables: Any) -> dict[str, Any]:
    response = await app.http.post("/graphql", json={"query": document, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("value", MALFORMED)
async def test_node_of_a_malformed_id_is_an_invalid_input_error(
    app: RunningApp, value: str
) -> None:
    body = await query(app, "query ($id: ID!) { node(id: $id) { id } }", id=value)
    assert body["data"] == {"node": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["path"] == ["node"]
    assert "not a valid global id" in error["message"]


async def test_nodes_reports_each_malformed_id_at_its_place(app: RunningApp) -> None:
    body = await query(
        app, "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=["bad", b64("Nope:1")]
    )
    assert body["data"] == {"nodes": [None, None]}
    assert [error["path"] for error in body["errors"]] == [["nodes", 0], ["nodes", 1]]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"INVALID_INPUT"}


async def test_nodes_of_no_ids_is_an_empty_list(app: RunningApp) -> None:
    body = await query(app, "{ nodes(ids: []) { id } }")
    assert body == {"data": {"nodes": []}}


async def test_nodes_of_too_many_ids_is_invalid_input(app: RunningApp) -> None:
    ids = [global_id("Execution", f"exec_{n}") for n in range(101)]
    body = await query(app, "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=ids)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "At most 100 ids" in error["message"]


async def test_a_well_formed_id_asks_the_runtime(app: RunningApp) -> None:
    # The Runtime is unreachable here: the id was read, so the error is the Runtime's.
    body = await query(
        app, "query ($id: ID!) { node(id: $id) { id } }", id=global_id("Execution", "exec_1")
    )
    assert body["errors"][0]["extensions"]["code"] == "RUNTIME_UNAVAILABLE"
