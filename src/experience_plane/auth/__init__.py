"""Who is calling: bearer JWTs, the principals they map to, and per-tenant rate limits.
`AuthSettings` (validated, frozen) configures a `TokenVerifier`, which turns a token (from
`parse_authorization` or `token_from_connection_params`) into a `Principal` or raises
`AuthenticationError` with a stable `AuthFailure` reason and a message that never repeats the
token; `Authenticator` is the one object the transports ask (without a verifier in insecure
development mode); `mint_token` and `generate_dev_secret` serve `experience-plane token` and
`dev`; `RateLimiter` and `TokenBucketLimiter` admit mutations per tenant. Nothing here reads the
environment or touches FastAPI state: `app.py`, `context.py` and `graphql/websockets.py` use it.
"""

from experience_plane.auth.authenticator import Authenticator
from experience_plane.auth.config import AuthSettings
from experience_plane.auth.credentials import parse_authorization, token_from_connection_params
from experience_plane.auth.errors import AuthenticationError, AuthFailure
from experience_plane.auth.principal import Principal
from experience_plane.auth.ratelimit import RateDecision, RateLimiter, TokenBucketLimiter
from experience_plane.auth.tokens import generate_dev_secret, mint_token
from experience_plane.auth.verifier import TokenVerifier

__all__ = [
    "AuthFailure",
    "AuthSettings",
    "AuthenticationError",
    "Authenticator",
    "Principal",
    "RateDecision",
    "RateLimiter",
    "TokenBucketLimiter",
    "TokenVerifier",
    "generate_dev_secret",
    "mint_token",
    "parse_authorization",
    "token_from_connection_params",
]
