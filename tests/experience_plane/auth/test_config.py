"""Settings validation, dev secrets and the principal's expiry helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from experience_plane.auth import (
    AuthSettings,
    Principal,
    TokenVerifier,
    generate_dev_secret,
    mint_token,
)
from tests.experience_plane.auth.support import SECRET


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hs256_secret": "short"}, "at least 32 bytes"),
        ({"jwks_file": Path("k.json"), "jwks_url": "https://idp/jwks"}, "not both"),
        ({"jwks_url": "idp.example/jwks"}, "absolute http"),
        ({"jwks_url": "file:///etc/passwd"}, "absolute http"),
        ({"hs256_secret": SECRET, "tenant_claim": ""}, "tenant claim"),
        ({"hs256_secret": SECRET, "leeway_seconds": -1}, "leeway"),
        ({"hs256_secret": SECRET, "jwks_cache_seconds": 0}, "cache"),
    ],
)
def test_invalid_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AuthSettings(**settings)


def test_settings_say_what_they_accept_and_hide_the_secret() -> None:
    assert not AuthSettings().enabled
    hs = AuthSettings(hs256_secret=SECRET)
    assert (hs.enabled, hs.accepts_hs256, hs.accepts_jwks) == (True, True, False)
    assert SECRET not in repr(hs)
    assert AuthSettings(jwks_url="https://idp.example/jwks").accepts_jwks


def test_a_verifier_needs_something_to_verify_with() -> None:
    with pytest.raises(ValueError, match="configure"):
        TokenVerifier(AuthSettings())


async def test_dev_secrets_are_fresh_and_usable() -> None:
    first, second = generate_dev_secret(), generate_dev_secret()
    assert first != second
    assert len(first) >= 32
    verifier = TokenVerifier(AuthSettings(hs256_secret=first))
    try:
        token = mint_token(first, tenant_id="dev", user_id="developer", roles=["admin"])
        principal = await verifier.verify(token)
        assert (principal.tenant_id, principal.user_id, principal.roles) == (
            "dev",
            "developer",
            frozenset({"admin"}),
        )
    finally:
        await verifier.aclose()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"tenant_id": ""}, "tenant id"),
        ({"user_id": ""}, "user id"),
        ({"ttl": timedelta(0)}, "lifetime"),
    ],
)
def test_mint_token_refuses_bad_arguments(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mint_token(SECRET, **{"tenant_id": "t", "user_id": "u", **arguments})
    with pytest.raises(ValueError, match="32 bytes"):
        mint_token("short", tenant_id="t", user_id="u")


def test_seconds_until_expiry() -> None:
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    principal = Principal("acme", "alice", expires_at=now + timedelta(seconds=90))
    assert principal.seconds_until_expiry(now) == 90
    later = now + timedelta(minutes=5)
    assert principal.seconds_until_expiry(later) == 0
    forever = Principal("acme", "alice")
    assert forever.seconds_until_expiry(now) is None
    assert forever.roles == frozenset()
