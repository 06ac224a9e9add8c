"""Where a bearer token is found: the `Authorization` header or a WebSocket `connection_init`.
Only the shape is checked here (scheme, three base64url segments, a sane length); the signature
and claims are `TokenVerifier`'s job. Error messages never repeat what the client sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from experience_plane.auth.errors import AuthenticationError, AuthFailure

# Far above any real JWT (a few KiB with many roles), far below what would cost us to parse.
MAX_TOKEN_LENGTH = 16 * 1024

# JWS compact serialization: header.payload.signature, each base64url without padding.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

# Keys graphql-ws / graphql-transport-ws clients put credentials under in `connection_init`.
CONNECTION_PARAM_KEYS = ("Authorization", "authorization", "authToken", "token")


def parse_authorization(header_value: str | None) -> str:
    """The token in an `Authorization: Bearer <token>` value (scheme case-insensitive).

    A bare token (no scheme) is accepted too, as some WebSocket clients send one in
    `connection_init`. Raises `AuthenticationError` (`missing_token` or `malformed_token`) and
    nothing else, whatever the input.
    """
    if header_value is None or not header_value.strip():
        raise AuthenticationError(
            AuthFailure.MISSING_TOKEN,
            "No credentials: send an 'Authorization: Bearer <token>' header.",
        )
    parts = header_value.split(None, 1)
    if len(parts) == 2:
        scheme, token = parts[0], parts[1].strip()
        if scheme.lower() != "bearer":
            raise AuthenticationError(
                AuthFailure.MALFORMED_TOKEN,
                "Unsupported authorization scheme: use 'Bearer <token>'.",
            )
    elif parts[0].lower() == "bearer":
        raise AuthenticationError(
            AuthFailure.MISSING_TOKEN,
            "The 'Bearer' scheme carries no token: send 'Bearer <token>'.",
        )
    else:
        token = parts[0]
    if len(token) > MAX_TOKEN_LENGTH:
        raise AuthenticationError(
            AuthFailure.MALFORMED_TOKEN,
            f"The token is longer than {MAX_TOKEN_LENGTH} characters; it is not a JWT we issue.",
        )
    if _JWT_SHAPE.fullmatch(token) is None:
        raise AuthenticationError(
            AuthFailure.MALFORMED_TOKEN,
            "The bearer token is not a JWT (expected three base64url segments separated by '.').",
        )
    return token


def token_from_connection_params(params: Mapping[str, object] | None) -> str:
    """The token in a WebSocket `connection_init` payload.

    Looks under `Authorization`/`authorization` (a header-style `Bearer <token>` value) and
    `authToken`/`token` (often a bare token), in that order; same errors as `parse_authorization`.
    """
    for key in CONNECTION_PARAM_KEYS:
        value = (params or {}).get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise AuthenticationError(
                AuthFailure.MALFORMED_TOKEN,
                f"The connection_init payload's {key!r} must be a string token.",
            )
        return parse_authorization(value)
    raise AuthenticationError(
        AuthFailure.MISSING_TOKEN,
        "No credentials in connection_init: send {'Authorization': 'Bearer <token>'} "
        "(or {'authToken': '<token>'}) as the payload.",
    )
