"""RS256/ES256 with keys from a JWKS file and from a JWKS URL served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from experience_plane.auth import AuthenticationError, AuthFailure, AuthSettings, TokenVerifier
from tests.experience_plane.auth.support import (
    FakeClock,
    JwksServer,
    SigningKey,
    claims,
    ec_key,
    jwks,
)

Factory = Callable[..., TokenVerifier]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def url_verifier(jwks_server: JwksServer, clock: FakeClock) -> AsyncIterator[Factory]:
    verifiers: list[TokenVerifier] = []

    def make(**settings: Any) -> TokenVerifier:
        options: dict[str, Any] = {
            "jwks_url": jwks_server.url,
            "jwks_cache_seconds": 300,
            "jwks_min_refresh_seconds": 30,
            **settings,
        }
        verifier = TokenVerifier(AuthSettings(**options), clock=clock)
        verifiers.append(verifier)
        return verifier

    yield make
    for verifier in verifiers:
        await verifier.aclose()


async def reason(verifier: TokenVerifier, token: str) -> AuthFailure:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    return caught.value.reason


@pytest.fixture
async def file_verifier(jwks_file: Path) -> AsyncIterator[TokenVerifier]:
    verifier = TokenVerifier(AuthSettings(jwks_file=jwks_file, issuer="https://idp.example"))
    yield verifier
    await verifier.aclose()


async def test_rs256_and_es256_from_a_jwks_file(
    file_verifier: TokenVerifier, rsa_signing_key: SigningKey, ec_signing_key: SigningKey
) -> None:
    for key in (rsa_signing_key, ec_signing_key):
        token = key.sign(claims(iss="https://idp.example", roles="reader"))
        principal = await file_verifier.verify(token)
        assert (principal.tenant_id, principal.user_id) == ("acme", "alice")
        assert principal.roles == frozenset({"reader"})


async def test_file_checks_issuer_and_signature(
    file_verifier: TokenVerifier, rsa_signing_key: SigningKey
) -> None:
    wrong_issuer = rsa_signing_key.sign(claims(iss="https://evil.example"))
    assert await reason(file_verifier, wrong_issuer) is AuthFailure.WRONG_ISSUER
    impostor = ec_key(rsa_signing_key.kid)  # same kid, different private key
    forged = impostor.sign(claims(iss="https://idp.example"))
    assert await reason(file_verifier, forged) is AuthFailure.UNSUPPORTED_ALGORITHM
    other_rsa = SigningKey(rsa_signing_key.kid, "RS256", _fresh_rsa())
    forged = other_rsa.sign(claims(iss="https://idp.example"))
    assert await reason(file_verifier, forged) is AuthFailure.BAD_SIGNATURE


async def test_file_unknown_kid_and_missing_kid(
    file_verifier: TokenVerifier, rsa_signing_key: SigningKey
) -> None:
    unknown = rsa_signing_key.sign(claims(iss="https://idp.example"), kid="nope")
    assert await reason(file_verifier, unknown) is AuthFailure.UNKNOWN_KEY
    # Without a kid the only key for the token's algorithm is used.
    no_kid = rsa_signing_key.sign(claims(iss="https://idp.example"), kid=None)
    assert (await file_verifier.verify(no_kid)).user_id == "alice"


async def test_file_is_reread_when_it_changes(
    tmp_path: Path, rsa_signing_key: SigningKey, rsa_rotated_key: SigningKey
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(jwks(rsa_signing_key)))
    verifier = TokenVerifier(AuthSettings(jwks_file=path))
    try:
        rotated = rsa_rotated_key.sign(claims())
        assert await reason(verifier, rotated) is AuthFailure.UNKNOWN_KEY
        path.write_text(json.dumps(jwks(rsa_rotated_key)))
        os.utime(path, ns=(0, 10**18))  # a distinct mtime even on coarse filesystems
        assert (await verifier.verify(rotated)).tenant_id == "acme"
        assert await reason(verifier, rsa_signing_key.sign(claims())) is AuthFailure.UNKNOWN_KEY
        path.write_text("{ broken")  # a half-written file keeps the last good keys
        os.utime(path, ns=(0, 2 * 10**18))
        assert (await verifier.verify(rotated)).tenant_id == "acme"
    finally:
        await verifier.aclose()


async def test_unreadable_file_is_keys_unavailable(
    tmp_path: Path, rsa_signing_key: SigningKey
) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_file=tmp_path / "missing.json"))
    try:
        error = await reason(verifier, rsa_signing_key.sign(claims()))
        assert error is AuthFailure.KEYS_UNAVAILABLE
    finally:
        await verifier.aclose()


async def test_url_keys_are_fetched_once_and_cached(
    url_verifier: Factory,
    jwks_server: JwksServer,
    rsa_signing_key: SigningKey,
    ec_signing_key: SigningKey,
    clock: FakeClock,
) -> None:
    verifier = url_verifier()
    for _ in range(5):
        assert (await verifier.verify(rsa_signing_key.sign(claims()))).user_id == "alice"
        assert (await verifier.verify(ec_signing_key.sign(claims()))).user_id == "alice"
    assert jwks_server.requests == 1
    clock.advance(301)  # the cache has expired: one re-fetch
    await verifier.verify(rsa_signing_key.sign(claims()))
    await verifier.verify(rsa_signing_key.sign(claims()))
    assert jwks_server.requests == 2


async def test_unknown_kid_refreshes_once_then_is_rate_limited(
    url_verifier: Factory, jwks_server: JwksServer, rsa_signing_key: SigningKey, clock: FakeClock
) -> None:
    verifier = url_verifier()
    await verifier.verify(rsa_signing_key.sign(claims()))
    assert jwks_server.requests == 1
    clock.advance(31)
    unknown = rsa_signing_key.sign(claims(), kid="made-up-1")
    assert await reason(verifier, unknown) is AuthFailure.UNKNOWN_KEY
    assert jwks_server.requests == 2
    # A flood of made-up kids within the minimum interval costs the JWKS server nothing more.
    for index in range(20):
        flood = rsa_signing_key.sign(claims(), kid=f"made-up-{index + 2}")
        assert await reason(verifier, flood) is AuthFailure.UNKNOWN_KEY
    assert jwks_server.requests == 2
    clock.advance(30)
    assert await reason(verifier, unknown) is AuthFailure.UNKNOWN_KEY
    assert jwks_server.requests == 3


async def test_concurrent_unknown_kids_share_one_fetch(
    url_verifier: Factory, jwks_server: JwksServer, rsa_signing_key: SigningKey
) -> None:
    verifier = url_verifier(jwks_min_refresh_seconds=0)
    tokens = [rsa_signing_key.sign(claims(), kid=f"unknown-{i}") for i in range(10)]
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)
    assert all(isinstance(result, AuthenticationError) for result in results)
    # One initial fetch and one refresh serve all ten lookups, whatever their interleaving.
    assert jwks_server.requests == 2


async def test_key_rotation_is_picked_up_on_the_new_kid(
    url_verifier: Factory,
    jwks_server: JwksServer,
    rsa_signing_key: SigningKey,
    rsa_rotated_key: SigningKey,
    clock: FakeClock,
) -> None:
    verifier = url_verifier()
    await verifier.verify(rsa_signing_key.sign(claims()))
    jwks_server.document = jwks(rsa_signing_key, rsa_rotated_key)
    clock.advance(31)
    principal = await verifier.verify(rsa_rotated_key.sign(claims(tenant="globex")))
    assert principal.tenant_id == "globex"
    assert jwks_server.requests == 2
    await verifier.verify(rsa_rotated_key.sign(claims()))
    await verifier.verify(rsa_signing_key.sign(claims()))
    assert jwks_server.requests == 2


async def test_rotation_within_the_min_interval_waits_for_it(
    url_verifier: Factory,
    jwks_server: JwksServer,
    rsa_signing_key: SigningKey,
    rsa_rotated_key: SigningKey,
    clock: FakeClock,
) -> None:
    verifier = url_verifier()
    await verifier.verify(rsa_signing_key.sign(claims()))
    jwks_server.document = jwks(rsa_rotated_key)
    rotated = rsa_rotated_key.sign(claims())
    assert await reason(verifier, rotated) is AuthFailure.UNKNOWN_KEY
    clock.advance(30)
    assert (await verifier.verify(rotated)).user_id == "alice"


async def test_unreachable_jwks_url_is_keys_unavailable_and_not_hammered(
    url_verifier: Factory, jwks_server: JwksServer, rsa_signing_key: SigningKey, clock: FakeClock
) -> None:
    jwks_server.status = 503
    verifier = url_verifier()
    token = rsa_signing_key.sign(claims())
    for _ in range(5):
        assert await reason(verifier, token) is AuthFailure.KEYS_UNAVAILABLE
    assert jwks_server.requests == 1
    jwks_server.status = 200
    clock.advance(30)
    assert (await verifier.verify(token)).user_id == "alice"
    assert jwks_server.requests == 2


async def test_failed_refresh_keeps_the_cached_keys(
    url_verifier: Factory, jwks_server: JwksServer, rsa_signing_key: SigningKey, clock: FakeClock
) -> None:
    verifier = url_verifier()
    await verifier.verify(rsa_signing_key.sign(claims()))
    jwks_server.status = 500
    clock.advance(301)
    assert (await verifier.verify(rsa_signing_key.sign(claims()))).user_id == "alice"
    assert jwks_server.requests == 2


async def test_jwks_ignores_symmetric_and_foreign_keys(
    tmp_path: Path, rsa_signing_key: SigningKey
) -> None:
    # An `oct` key in the JWKS must never turn into an HS256 secret.
    document = {
        "keys": [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
            {**rsa_signing_key.jwk, "kid": "rs512", "alg": "RS512"},
            {**rsa_signing_key.jwk, "kid": "enc", "use": "enc"},
            {"kty": "RSA", "kid": "broken", "n": "x", "e": "y"},
            "not-a-key",
        ]
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    verifier = TokenVerifier(AuthSettings(jwks_file=path))
    try:
        for kid in ("shared", "rs512", "enc", "broken"):
            token = rsa_signing_key.sign(claims(), kid=kid)
            assert await reason(verifier, token) is AuthFailure.UNKNOWN_KEY
    finally:
        await verifier.aclose()


def _fresh_rsa() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
