"""What the client has learnt about the Runtime's optional endpoints (list, cancel).

A Runtime without an optional endpoint answers every call to it 404 or 405; asking again on every
request would cost a round trip each time for the same answer. `OptionalEndpoints` remembers an
absent endpoint for `ABSENT_FOR_SECONDS`, then lets one call through to find out again (a Runtime
can be upgraded under a running service). The answer that tells absent from present is read by
`route_missing`: FastAPI's own 404 for a path it does not serve is `{"detail": "Not Found"}`,
whereas the contract's 404 for an unknown execution is `{"detail": "Execution not found"}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from experience_plane.runtime.transport import Answer

__all__ = ["ABSENT_FOR_SECONDS", "OptionalEndpoint", "OptionalEndpoints", "route_missing"]

ABSENT_FOR_SECONDS = 300.0
"""How long an endpoint found absent is taken to stay so before it is asked again."""

# FastAPI's (Starlette's) answer to a path no route serves.
_ROUTE_MISS_DETAIL = "not found"


class OptionalEndpoint(StrEnum):
    """The contract's optional endpoints the client calls over HTTP."""

    LIST = "list"
    CANCEL = "cancel"


def route_missing(answer: Answer) -> bool:
    """Whether a 404/405 answer says the route does not exist, rather than the thing it names:
    405 always; 404 when its body is FastAPI's route miss (`{"detail": "Not Found"}`) or not
    FastAPI-shaped at all (a proxy's page)."""
    if answer.status_code == 405:
        return True
    if answer.status_code != 404:
        return False
    try:
        body = answer.json()
    except ValueError:
        return True
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return True
    return str(body["detail"]).strip().lower() == _ROUTE_MISS_DETAIL


class OptionalEndpoints:
    """Which optional endpoints the Runtime was found without, and since when."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._absent_since: dict[OptionalEndpoint, float] = {}

    def known_absent(self, endpoint: OptionalEndpoint) -> bool:
        """Whether `endpoint` was found absent less than `ABSENT_FOR_SECONDS` ago."""
        since = self._absent_since.get(endpoint)
        if since is None:
            return False
        if self._clock() - since >= ABSENT_FOR_SECONDS:
            del self._absent_since[endpoint]
            return False
        return True

    def absent(self, endpoint: OptionalEndpoint) -> None:
        """Record that the Runtime answered `endpoint` as a route it does not have."""
        self._absent_since[endpoint] = self._clock()

    def present(self, endpoint: OptionalEndpoint) -> None:
        """Record that the Runtime served `endpoint`."""
        self._absent_since.pop(endpoint, None)
