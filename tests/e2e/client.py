"""Driving the API as a client would: gql over HTTP (with multipart uploads), gql over both
WebSocket protocols, and plain httpx for GraphQL over SSE; each with a bearer token for a
tenant ("t1" unless told), minted by the `ApiProcess`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from gql import Client, GraphQLRequest, gql
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.support.processes import ApiProcess

EXAMPLES = Path(__file__).parents[2] / "examples"

EXECUTION_FIELDS = """
  id executionId intentType state rawStatus failure { code message } isTerminal
  createdAt updatedAt
  progress { phase percent }
  artifacts {
    __typename id
    ... on ContentFile { fileId name mimeType size sha256 format rowCount createdAt
                         columns { name type nullCount distinctCount } }
    ... on DataMash { mashId name entity rowCount }
  }
"""

UPLOAD = f"""
mutation Upload($file: Upload!, $filename: String, $mimeType: String) {{
  uploadContent(file: $file, filename: $filename, mimeType: $mimeType) {{
    __typename
    ... on ExecutionAccepted {{ execution {{ {EXECUTION_FIELDS} }} }}
    ... on Error {{ code message }}
  }}
}}
"""

CREATE_MASH = f"""
mutation Mash($input: CreateDataMashInput!) {{
  createDataMash(input: $input) {{
    __typename
    ... on ExecutionAccepted {{ execution {{ {EXECUTION_FIELDS} }} }}
    ... on Error {{ code message }}
  }}
}}
"""

EXECUTION = f"""
query Execution($id: ID!) {{ executionStatus(executionId: $id) {{ {EXECUTION_FIELDS} }} }}
"""

WATCH = """
subscription Watch($id: ID!) {
  executionStatus(executionId: $id) {
    id executionId state rawStatus failure { code message } isTerminal createdAt updatedAt
    progress { phase percent }
  }
}
"""

MASH_DETAILS = """
query Mash($id: ID!, $first: Int!, $after: String) {
  executionStatus(executionId: $id) {
    state
    artifacts {
      ... on DataMash {
        mashId name entity rowCount
        canonicalFields { name type confidence sources { fileId column confidence } }
        joinKeys { field overlap sources { fileId column } }
        joinCandidates {
          kind containment uniqueness chosen reason
          column { fileId column } references { fileId column }
        }
        qualityReport {
          completeness nullDensity duplicateKeys typeConflicts issues
          danglingReferences {
            field count missing examples
            column { fileId column } references { fileId column }
          }
        }
        records(first: $first, after: $after) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges { cursor node }
        }
      }
    }
  }
}
"""


# Sent on every HTTP request: multipart uploads are "simple" requests that CSRF prevention
# refuses without a header that forces a CORS preflight.
PREFLIGHT = {"GraphQL-Preflight": "1"}


def http_client(api: ApiProcess, tenant: str = "t1", user: str = "u1") -> Client:
    """A gql client over HTTP (multipart uploads included), authenticated as tenant/user."""
    headers = {**api.headers(tenant, user), **PREFLIGHT}
    return Client(transport=HTTPXAsyncTransport(url=api.graphql_url, headers=headers, timeout=30.0))


def ws_client(
    api: ApiProcess,
    subprotocol: str = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL,
    tenant: str = "t1",
    user: str = "u1",
) -> Client:
    """A gql client over WebSocket, speaking exactly the one subprotocol given; the token
    rides in `connection_init`, as browsers must send it."""
    return Client(
        transport=WebsocketsTransport(
            url=api.ws_url,
            subprotocols=[subprotocol],
            init_payload={"Authorization": f"Bearer {api.token(tenant, user)}"},
        )
    )


def request(query: str, **variables: Any) -> GraphQLRequest:
    """A gql request with its variables."""
    return GraphQLRequest(gql(query), variable_values=variables)


async def upload(session: Any, path: Path, **variables: Any) -> dict[str, Any]:
    """Upload a file with the multipart request spec; returns the mutation's result."""
    from gql import FileVar

    with path.open("rb") as handle:
        result = await session.execute(
            request(UPLOAD, file=FileVar(handle, filename=path.name), **variables),
            upload_files=True,
        )
    upload_result: dict[str, Any] = result["uploadContent"]
    return upload_result


async def create_mash(session: Any, refs: list[str], **options: Any) -> dict[str, Any]:
    """Create a data mash; returns the mutation's result."""
    result = await session.execute(request(CREATE_MASH, input={"contentRefs": refs, **options}))
    mash_result: dict[str, Any] = result["createDataMash"]
    return mash_result


async def watch_ws(client: Client, execution_id: str) -> list[dict[str, Any]]:
    """Every event of the execution subscription over WebSocket, until it completes."""
    events = []
    async with client as session:
        async for event in session.subscribe(request(WATCH, id=execution_id)):
            events.append(event["executionStatus"])
    return events


async def sse_events(
    api: ApiProcess,
    query: str,
    variables: dict[str, Any],
    tenant: str = "t1",
    token: str | None = None,
) -> AsyncIterator[tuple[str, str]]:
    """The (event, data) pairs of a GraphQL over SSE stream, as they arrive (authenticated
    with `token`, or a fresh token for `tenant`)."""
    auth = {"Authorization": f"Bearer {token}"} if token else api.headers(tenant)
    async with (
        httpx.AsyncClient(timeout=30.0) as http,
        http.stream(
            "POST",
            api.url + "/graphql/stream",
            json={"query": query, "variables": variables},
            headers={"accept": "text/event-stream", **auth},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: str | None = None
        data = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = line.removeprefix("data:").strip()
            elif not line and event is not None:
                yield event, data
                if event == "complete":
                    return
                event, data = None, ""


async def watch_sse(api: ApiProcess, execution_id: str, tenant: str = "t1") -> list[dict[str, Any]]:
    """Every event of the execution subscription over SSE, until `complete`."""
    events = []
    async for event, data in sse_events(api, WATCH, {"id": execution_id}, tenant):
        if event == "next":
            payload = json.loads(data)
            assert "errors" not in payload, payload
            events.append(payload["data"]["executionStatus"])
    return events
