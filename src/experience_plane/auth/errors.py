"""Why a caller was not authenticated: one exception with a stable machine reason.
The reason is what clients and logs branch on (it maps onto the GraphQL error extension, the
WebSocket close reason and the HTTP 401 body); the message is for the human who has to fix the
token or the configuration. Neither ever contains the token itself.
"""

from __future__ import annotations

from enum import StrEnum


class AuthFailure(StrEnum):
    """The stable, machine-readable reason a token was refused."""

    MISSING_TOKEN = "missing_token"  # noqa: S105 -- a reason code, not a credential
    MALFORMED_TOKEN = "malformed_token"  # noqa: S105 -- a reason code, not a credential
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    MISSING_TENANT = "missing_tenant"
    UNKNOWN_KEY = "unknown_key"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    KEYS_UNAVAILABLE = "keys_unavailable"


class AuthenticationError(Exception):
    """The caller could not be authenticated.

    `reason` is one of `AuthFailure` and never changes meaning; `message` says what to fix. A
    transport answers 401 (HTTP), closes with 4403 (WebSocket) or ends the SSE stream. Only
    `KEYS_UNAVAILABLE` is the server's fault (the JWKS URL could not be reached and no keys are
    cached): a transport may answer 503 for it instead.
    """

    def __init__(self, reason: AuthFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.message}"

    def __repr__(self) -> str:
        return f"AuthenticationError(reason={self.reason.value!r}, message={self.message!r})"
