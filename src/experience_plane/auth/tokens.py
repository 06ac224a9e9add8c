"""Issuing HS256 tokens ourselves: `experience-plane token` and dev mode."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import jwt

from experience_plane.auth.config import check_hs256_secret


def generate_dev_secret() -> str:
    """A fresh random HS256 secret (256 bits, URL-safe text) for a dev server's lifetime."""
    return secrets.token_urlsafe(32)


def mint_token(
    secret: str,
    *,
    tenant_id: str,
    user_id: str,
    roles: Iterable[str] = (),
    ttl: timedelta = timedelta(hours=8),
    issuer: str | None = None,
    audience: str | None = None,
    tenant_claim: str = "tenant_id",
    now: datetime | None = None,
) -> str:
    """An HS256 token that a `TokenVerifier` with the same secret (and settings) accepts.

    Claims: `sub`, the tenant under `tenant_claim` (a literal claim name), `roles` (a list),
    `iat`, `exp` (= now + `ttl`), a random `jti`, and `iss`/`aud` when given. Raises `ValueError`
    for a secret too short to be safe, an empty tenant or user, or a non-positive `ttl`.
    """
    check_hs256_secret(secret)
    if not tenant_id or not user_id:
        raise ValueError("A token needs a tenant id and a user id.")
    if ttl <= timedelta(0):
        raise ValueError("The token lifetime must be positive.")
    issued_at = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": user_id,
        tenant_claim: tenant_id,
        "roles": sorted(set(roles)),
        "iat": issued_at,
        "exp": issued_at + ttl,
        "jti": uuid.uuid4().hex,
    }
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
