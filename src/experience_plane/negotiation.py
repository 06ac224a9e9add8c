"""Content negotiation by RFC 9110 (§12.5.1: q-values, then the order of the `Accept` header),
and the GraphQL-shaped answer every HTTP-level refusal (400, 401, 405, 406, 413) gives on the
GraphQL surface, in the negotiated JSON media type.
A media type's quality comes from the most specific range that matches it (`text/event-stream`
over `text/*` over `*/*`); `q=0` means not acceptable; a missing `Accept` means `*/*`. Among
equally ranked types the server's own order decides, which puts `application/json` first: what
GraphQL over HTTP asks for `*/*` and for a missing header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from experience_plane.request_ids import current_request_id

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
EVENT_STREAM = "text/event-stream"
MULTIPART_MIXED = "multipart/mixed"
# The JSON media types a GraphQL response can be sent as, in the server's order of preference.
JSON_MEDIA_TYPES = (APPLICATION_JSON, GRAPHQL_RESPONSE_JSON)

# The `extensions.code` of each HTTP-level refusal.
BAD_REQUEST = "BAD_REQUEST"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
NOT_FOUND = "NOT_FOUND"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
# A multipart body over the upload limit: a file too large, as `services.ErrorCode` names it
# (which this module, below the services, cannot import; a test pins the two equal).
UPLOAD_TOO_LARGE = "UPLOAD_TOO_LARGE"
CODE_BY_STATUS: Mapping[int, str] = {
    400: BAD_REQUEST,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    406: NOT_ACCEPTABLE,
    413: REQUEST_TOO_LARGE,
}


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One element of an `Accept` header: `type/subtype`, its parameters, quality and position."""

    media_type: str
    params: Mapping[str, str]
    quality: float
    index: int

    @property
    def specificity(self) -> int:
        """2 for `type/subtype`, 1 for `type/*`, 0 for `*/*`."""
        if self.media_type == "*/*":
            return 0
        return 1 if self.media_type.endswith("/*") else 2

    def matches(self, media_type: str) -> bool:
        """Whether this range covers `media_type` (parameters are the offer's business)."""
        if self.media_type in ("*/*", media_type):
            return True
        return self.media_type.endswith("/*") and media_type.startswith(self.media_type[:-1])


ANY = (MediaRange("*/*", {}, 1.0, 0),)


def parse_accept(header: str | None) -> tuple[MediaRange, ...]:
    """The ranges of an `Accept` header; a missing or empty one accepts anything."""
    if header is None or not header.strip():
        return ANY
    ranges: list[MediaRange] = []
    for index, part in enumerate(_split_outside_quotes(header, ",")):
        media_type, *raw_params = (piece.strip() for piece in _split_outside_quotes(part, ";"))
        if not media_type:
            continue
        params: dict[str, str] = {}
        for raw in raw_params:
            name, _, value = raw.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        quality = _quality(params.pop("q", None))
        ranges.append(MediaRange(media_type.lower(), params, quality, index))
    return tuple(ranges)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    # A quoted parameter value may hold the separator (`subscriptionSpec="1.0,x"`).
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _quality(value: str | None) -> float:
    if value is None:
        return 1.0
    try:
        return max(0.0, min(1.0, float(value)))
    except ValueError:
        return 0.0


Rank = tuple[float, int, int]
"""How much a client wants an offer: quality, then earlier position, then server preference."""


@dataclass(frozen=True, slots=True)
class Offer:
    """A media type the server can answer with; `required` parameters must be on the range that
    names it exactly (a wildcard cannot ask for them)."""

    media_type: str
    # (parameter, value prefix) pairs, e.g. (("subscriptionspec", "1.0"),).
    required: tuple[tuple[str, str], ...] = ()

    def rank(self, ranges: Sequence[MediaRange], preference: int) -> Rank | None:
        """How the client ranks this offer; None when it is not acceptable."""
        best: MediaRange | None = None
        for candidate in ranges:
            if not candidate.matches(self.media_type):
                continue
            if self.required and (candidate.specificity < 2 or not self._params_fit(candidate)):
                continue
            if best is None or candidate.specificity > best.specificity:
                best = candidate
        if best is None or best.quality <= 0:
            return None
        return (best.quality, -best.index, -preference)

    def _params_fit(self, candidate: MediaRange) -> bool:
        return all(
            candidate.params.get(name, "").startswith(prefix) for name, prefix in self.required
        )


def best_of(ranges: Sequence[MediaRange], offers: Sequence[Offer]) -> tuple[Offer, Rank] | None:
    """The offer the client ranks highest (ties: the earlier offer), with its rank."""
    ranked = [
        (offer, rank)
        for preference, offer in enumerate(offers)
        if (rank := offer.rank(ranges, preference)) is not None
    ]
    return max(ranked, key=lambda item: item[1]) if ranked else None


JSON_OFFERS = tuple(Offer(media_type) for media_type in JSON_MEDIA_TYPES)


def negotiate_json(accept: str | None) -> str | None:
    """The JSON media type to answer `accept` with, or None when neither is acceptable."""
    best = best_of(parse_accept(accept), JSON_OFFERS)
    return best[0].media_type if best else None


def error_media_type(accept: str | None) -> str:
    """The media type of an error answer: the negotiated JSON type, else `application/json`
    (a client that accepts no JSON still gets a readable refusal)."""
    return negotiate_json(accept) or APPLICATION_JSON


def graphql_error_response(
    status_code: int,
    message: str,
    *,
    accept: str | None = None,
    media_type: str | None = None,
    code: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An HTTP-level refusal in GraphQL's error shape, `{"errors": [{"message", "extensions":
    {"code", ..., "requestId"}}]}`, in `media_type` (default: negotiated from `accept`). The
    request id (also the `X-Request-Id` header) is there as on masked errors, to quote."""
    error_extensions: dict[str, Any] = {
        "code": code or CODE_BY_STATUS.get(status_code, BAD_REQUEST)
    }
    error_extensions.update(extensions or {})
    request_id = current_request_id()
    if request_id is not None:
        error_extensions["requestId"] = request_id
    body = {"errors": [{"message": message, "extensions": error_extensions}]}
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status_code,
        media_type=f"{media_type or error_media_type(accept)}; charset=utf-8",
        headers=dict(headers or {}),
    )
