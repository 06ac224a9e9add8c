"""`route.direct`: a route answered without FastAPI's dependency solving answers exactly what
FastAPI's own handler answers, and its failures take the common error shape."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field

from experience_plane.rest.errors import RestError
from experience_plane.rest.route import RestRoute, direct


class Thing(BaseModel):
    thing_id: str = Field(serialization_alias="thingId")
    percent: float
    label: str | None
    at: datetime


def thing_of(thing_id: str) -> Thing:
    if thing_id == "missing":
        raise RestError("NOT_FOUND", "Thing 'missing' not found.", status_code=404)
    return Thing(
        thing_id=thing_id, percent=1 / 3, label='é ✓ "q"', at=datetime(2026, 1, 2, tzinfo=UTC)
    )


async def thing_direct(request: Request) -> Thing:
    return thing_of(request.path_params["thing_id"])


def build() -> FastAPI:
    router = APIRouter(route_class=RestRoute)

    @router.get("/solved/{thing_id}", response_model=Thing)
    async def solved(thing_id: str) -> Thing:
        return thing_of(thing_id)

    @router.get("/direct/{thing_id}", response_model=Thing)
    @direct(thing_direct)
    async def direct_thing(thing_id: str) -> Thing:
        return thing_of(thing_id)

    app = FastAPI()
    app.include_router(router)
    return app


@pytest.mark.parametrize("thing_id", ["t-1", "with%20space", "missing"])
async def test_a_direct_route_answers_what_fastapi_answers(thing_id: str) -> None:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        solved = await client.get(f"/solved/{thing_id}")
        answered = await client.get(f"/direct/{thing_id}")

    assert answered.status_code == solved.status_code
    assert answered.content == solved.content
    assert answered.headers["content-type"] == solved.headers["content-type"]
    assert answered.headers["content-length"] == solved.headers["content-length"]


def test_the_openapi_document_describes_a_direct_route_from_its_endpoint() -> None:
    paths = build().openapi()["paths"]
    solved = paths["/solved/{thing_id}"]["get"]
    answered = paths["/direct/{thing_id}"]["get"]
    assert answered["parameters"] == solved["parameters"]
    assert answered["responses"] == solved["responses"]


def test_a_direct_handler_is_refused_on_a_route_with_a_body() -> None:
    router = APIRouter(route_class=RestRoute)

    with pytest.raises(TypeError, match="no body"):

        @router.post("/things", response_model=Thing)
        @direct(thing_direct)
        async def create(thing: Thing) -> Thing:
            return thing
