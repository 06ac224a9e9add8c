"""Who is calling: bearer JWTs, the principals they map to, and per-tenant rate limits.

Building blocks (nothing here reads the environment or touches FastAPI state):

- `AuthSettings(hs256_secret=, jwks_file=, jwks_url=, issuer=, audience=, tenant_claim=,
  roles_claim=, leeway_seconds=30, require_expiry=True, jwks_cache_seconds=300,
  jwks_min_refresh_seconds=30, jwks_timeout_seconds=5)`: frozen; `ValueError` on a bad
  combination (secret < 32 bytes, both JWKS file and URL, ...). `.enabled` is False when nothing
  is configured: `serve` should refuse to start then.
- `TokenVerifier(settings)`: `await verify(token) -> Principal`,
  `await authenticate(authorization_header_value) -> Principal`, `await aclose()`.
- `parse_authorization(value) -> str` (`Bearer <t>`, any case, or a bare token) and
  `token_from_connection_params(payload) -> str` (WebSocket `connection_init`).
- `AuthenticationError(reason: AuthFailure, message)`: the only exception the above raise for a
  refused caller. `reason.value` is stable (`missing_token`, `malformed_token`, `bad_signature`,
  `expired`, `not_yet_valid`, `wrong_issuer`, `wrong_audience`, `missing_tenant`, `unknown_key`,
  `unsupported_algorithm`, `keys_unavailable`); `message` says what to fix, never the token.
- `Principal(tenant_id, user_id, roles, expires_at, token_id)` with `seconds_until_expiry(now)`.
- `mint_token(secret, tenant_id=, user_id=, roles=, ttl=, issuer=, audience=, tenant_claim=)` and
  `generate_dev_secret()` for `experience-plane token` and `dev`.
- `RateLimiter` protocol, `TokenBucketLimiter(rate_per_second, burst)`,
  `await try_acquire(tenant_id) -> RateDecision(allowed, retry_after_seconds)`.

- `Authenticator(verifier)` or `Authenticator(dev_principal=...)`: the one object the transports
  ask (`from_header`, `from_connection_params`); insecure development mode has no verifier.

Wiring (done in `app.py`/`context.py`/`graphql/websockets.py`, not here):

- Lifespan: `verifier = TokenVerifier(auth_settings)`; put it on typed state; `await
  verifier.aclose()` on shutdown. Dev mode: `secret = generate_dev_secret()`, build the verifier
  with `AuthSettings(hs256_secret=secret)` and print `mint_token(secret, tenant_id=...,
  user_id=...)`.
- HTTP (GraphQL POST/GET, REST): `principal = await verifier.authenticate(
  request.headers.get("authorization"))`; on `AuthenticationError` answer 401 with
  `WWW-Authenticate: Bearer error="invalid_token"` and `{"reason": e.reason, "message":
  e.message}` (503 for `keys_unavailable`).
- SSE (`Accept: text/event-stream`): same as HTTP, before the stream starts; then end the stream
  after `principal.seconds_until_expiry(datetime.now(UTC))` seconds.
- WebSocket (graphql-transport-ws): browsers cannot set headers, so in `on_connect`/
  `connection_init` use `await verifier.verify(token_from_connection_params(payload))`, falling
  back to the handshake's `Authorization` header when the payload has no credentials; on
  `AuthenticationError` close with 4403 and `e.reason` as the close reason. A subscription
  should stop (close 4403 `expired`) once `seconds_until_expiry` reaches 0.
- Mutations: `decision = await limiter.try_acquire(principal.tenant_id)`; when not
  `decision.allowed`, fail with a rate-limit error carrying `retry_after_seconds`.
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
