"""HS256 verification and claim mapping; every refusal reason with a real token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from experience_plane.auth import (
    AuthenticationError,
    AuthFailure,
    AuthSettings,
    Principal,
    TokenVerifier,
    mint_token,
)
from tests.experience_plane.auth.support import SECRET, SigningKey, claims

Factory = Callable[..., TokenVerifier]


@pytest.fixture
async def make_verifier() -> AsyncIterator[Factory]:
    verifiers: list[TokenVerifier] = []

    def make(**settings: Any) -> TokenVerifier:
        verifier = TokenVerifier(AuthSettings(**{"hs256_secret": SECRET, **settings}))
        verifiers.append(verifier)
        return verifier

    yield make
    for verifier in verifiers:
        await verifier.aclose()


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


async def refused(verifier: TokenVerifier, token: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    # Whatever the reason, the message must not leak the credential.
    assert token not in str(caught.value)
    assert token.split(".")[-1] not in caught.value.message
    return caught.value


async def test_valid_hs256_token_maps_to_a_principal(make_verifier: Factory) -> None:
    token = hs256(claims(roles=["admin", "viewer"], jti="t-1"))
    principal = await make_verifier().verify(token)
    assert principal.tenant_id == "acme"
    assert principal.user_id == "alice"
    assert principal.roles == frozenset({"admin", "viewer"})
    assert principal.token_id == "t-1"
    assert principal.expires_at is not None
    remaining = principal.seconds_until_expiry(datetime.now(UTC))
    assert remaining is not None
    assert 590 < remaining <= 600


async def test_authenticate_reads_the_authorization_header(make_verifier: Factory) -> None:
    principal = await make_verifier().authenticate(f"Bearer {hs256(claims())}")
    assert principal.user_id == "alice"
    with pytest.raises(AuthenticationError) as caught:
        await make_verifier().authenticate(None)
    assert caught.value.reason is AuthFailure.MISSING_TOKEN


async def test_wrong_secret_is_bad_signature(make_verifier: Factory) -> None:
    token = hs256(claims(), secret="another-secret-that-is-long-enough-too!!")
    assert (await refused(make_verifier(), token)).reason is AuthFailure.BAD_SIGNATURE


async def test_tampered_payload_is_bad_signature(make_verifier: Factory) -> None:
    header, _, signature = hs256(claims(tenant="acme")).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(tenant="globex"), default=str).encode())
    token = f"{header}.{forged.decode().rstrip('=')}.{signature}"
    assert (await refused(make_verifier(), token)).reason in {
        AuthFailure.BAD_SIGNATURE,
        AuthFailure.MALFORMED_TOKEN,
    }


async def test_expired_beyond_leeway_is_refused(make_verifier: Factory) -> None:
    token = hs256(claims(ttl=-31))
    error = await refused(make_verifier(leeway_seconds=30), token)
    assert error.reason is AuthFailure.EXPIRED
    assert "expired" in error.message


async def test_expired_within_leeway_is_accepted(make_verifier: Factory) -> None:
    token = hs256(claims(ttl=-10))
    principal = await make_verifier(leeway_seconds=30).verify(token)
    assert principal.seconds_until_expiry(datetime.now(UTC)) == 0.0
    assert (await refused(make_verifier(leeway_seconds=0), token)).reason is AuthFailure.EXPIRED


async def test_token_from_the_future_is_not_yet_valid(make_verifier: Factory) -> None:
    token = hs256(claims(nbf=datetime.now(UTC) + timedelta(minutes=5)))
    assert (await refused(make_verifier(), token)).reason is AuthFailure.NOT_YET_VALID


@pytest.mark.parametrize("iss", ["https://evil.example", None])
async def test_wrong_or_missing_issuer(make_verifier: Factory, iss: str | None) -> None:
    payload = claims() if iss is None else claims(iss=iss)
    verifier = make_verifier(issuer="https://idp.example")
    assert (await refused(verifier, hs256(payload))).reason is AuthFailure.WRONG_ISSUER
    accepted = await verifier.verify(hs256(claims(iss="https://idp.example")))
    assert accepted.tenant_id == "acme"


@pytest.mark.parametrize("aud", ["other-api", ["a", "b"], None])
async def test_wrong_or_missing_audience(make_verifier: Factory, aud: object) -> None:
    payload = claims() if aud is None else claims(aud=aud)
    verifier = make_verifier(audience="experience-plane")
    assert (await refused(verifier, hs256(payload))).reason is AuthFailure.WRONG_AUDIENCE
    accepted = await verifier.verify(hs256(claims(aud=["x", "experience-plane"])))
    assert accepted.user_id == "alice"


async def test_audience_is_not_checked_when_not_configured(make_verifier: Factory) -> None:
    principal = await make_verifier().verify(hs256(claims(aud="whatever")))
    assert principal.tenant_id == "acme"


@pytest.mark.parametrize("tenant", [None, "", "   ", ["acme"], True])
async def test_missing_tenant_is_refused(make_verifier: Factory, tenant: object) -> None:
    payload = claims(tenant=None)
    if tenant is not None:
        payload["tenant_id"] = tenant
    error = await refused(make_verifier(), hs256(payload))
    assert error.reason is AuthFailure.MISSING_TENANT
    assert "tenant_id" in error.message


async def test_numeric_tenant_is_accepted_as_text(make_verifier: Factory) -> None:
    principal = await make_verifier().verify(hs256(claims(tenant=None, tenant_id=42)))
    assert principal.tenant_id == "42"


async def test_custom_tenant_claim_literal_url_name(make_verifier: Factory) -> None:
    name = "https://example.com/tenant"
    verifier = make_verifier(tenant_claim=name)
    principal = await verifier.verify(hs256(claims(tenant=None, **{name: "globex"})))
    assert principal.tenant_id == "globex"
    error = await refused(verifier, hs256(claims()))  # has tenant_id, not the configured claim
    assert error.reason is AuthFailure.MISSING_TENANT
    assert name in error.message


async def test_custom_tenant_claim_dotted_path(make_verifier: Factory) -> None:
    verifier = make_verifier(tenant_claim="org.tenant")
    principal = await verifier.verify(hs256(claims(tenant=None, org={"tenant": "initech"})))
    assert principal.tenant_id == "initech"
    literal = await verifier.verify(hs256(claims(tenant=None, **{"org.tenant": "literal"})))
    assert literal.tenant_id == "literal"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["admin", "viewer"], {"admin", "viewer"}),
        ("admin  viewer\teditor", {"admin", "viewer", "editor"}),
        ("", set()),
        ([], set()),
        (None, set()),
    ],
)
async def test_roles_list_or_space_separated(
    make_verifier: Factory, roles: object, expected: set[str]
) -> None:
    payload = claims() if roles is None else claims(roles=roles)
    principal = await make_verifier().verify(hs256(payload))
    assert principal.roles == frozenset(expected)


async def test_custom_roles_claim(make_verifier: Factory) -> None:
    verifier = make_verifier(roles_claim="scope")
    principal = await verifier.verify(hs256(claims(scope="read write")))
    assert "write" in principal.roles


@pytest.mark.parametrize("roles", [7, ["admin", 3], {"admin": True}])
async def test_roles_of_the_wrong_type_are_malformed(make_verifier: Factory, roles: object) -> None:
    error = await refused(make_verifier(), hs256(claims(roles=roles)))
    assert error.reason is AuthFailure.MALFORMED_TOKEN


async def test_missing_subject_or_expiry_is_malformed(make_verifier: Factory) -> None:
    no_sub = await refused(make_verifier(), hs256(claims(sub=None)))
    assert no_sub.reason is AuthFailure.MALFORMED_TOKEN
    assert "'sub'" in no_sub.message
    payload = claims()
    del payload["exp"]
    no_exp = await refused(make_verifier(), hs256(payload))
    assert no_exp.reason is AuthFailure.MALFORMED_TOKEN
    assert "'exp'" in no_exp.message
    forever = await make_verifier(require_expiry=False).verify(hs256(payload))
    assert forever.expires_at is None
    assert forever.seconds_until_expiry(datetime.now(UTC)) is None


async def test_alg_none_is_unsupported(make_verifier: Factory) -> None:
    token = jwt.encode(claims(), None, algorithm="none") + "c2ln"  # any signature
    error = await refused(make_verifier(), token)
    assert error.reason is AuthFailure.UNSUPPORTED_ALGORITHM
    assert "HS256" in error.message  # says what is accepted


@pytest.mark.parametrize("alg", ["HS512", "RS256", "ES256", "PS256"])
async def test_algorithms_without_a_configured_key_are_unsupported(
    make_verifier: Factory, alg: str
) -> None:
    header = _b64({"alg": alg, "typ": "JWT"})
    token = f"{header}.{_b64(claims())}.c2lnbmF0dXJl"
    error = await refused(make_verifier(), token)
    assert error.reason is AuthFailure.UNSUPPORTED_ALGORITHM


async def test_hs256_signed_with_the_rsa_public_key_is_refused(
    make_verifier: Factory, rsa_signing_key: SigningKey, jwks_file: Path
) -> None:
    # The classic confusion attack: sign HS256 with the (public) RSA PEM as the HMAC secret.
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": rsa_signing_key.kid})
    signing_input = f"{header}.{_b64(claims())}"
    mac = hmac.new(rsa_signing_key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    both = make_verifier(jwks_file=jwks_file)
    assert (await refused(both, token)).reason is AuthFailure.BAD_SIGNATURE
    jwks_only = make_verifier(hs256_secret=None, jwks_file=jwks_file)
    assert (await refused(jwks_only, token)).reason is AuthFailure.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        jwt.api_jws.encode(b"not-json", SECRET, algorithm="HS256"),  # signed, but not JSON
        "bm90LWpzb24.eyJzdWIiOiJhIn0.c2ln",  # header is not JSON
        "",
    ],
)
async def test_malformed_strings(make_verifier: Factory, token: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await make_verifier().verify(token)
    assert caught.value.reason in {AuthFailure.MALFORMED_TOKEN, AuthFailure.MISSING_TOKEN}
    if token:
        assert caught.value.reason is AuthFailure.MALFORMED_TOKEN


async def test_minted_token_round_trips(make_verifier: Factory) -> None:
    token = mint_token(
        SECRET,
        tenant_id="acme",
        user_id="bob",
        roles=["editor", "viewer", "editor"],
        ttl=timedelta(minutes=5),
        issuer="https://ep.local",
        audience="experience-plane",
    )
    verifier = make_verifier(issuer="https://ep.local", audience="experience-plane")
    principal = await verifier.verify(token)
    assert principal == Principal(
        tenant_id="acme",
        user_id="bob",
        roles=frozenset({"editor", "viewer"}),
        expires_at=principal.expires_at,
        token_id=principal.token_id,
    )
    assert principal.token_id
    remaining = principal.seconds_until_expiry(datetime.now(UTC))
    assert remaining is not None
    assert 290 < remaining <= 300


async def test_minted_token_with_custom_tenant_claim(make_verifier: Factory) -> None:
    name = "https://example.com/tenant"
    token = mint_token(SECRET, tenant_id="globex", user_id="u", tenant_claim=name)
    principal = await make_verifier(tenant_claim=name).verify(token)
    assert principal.tenant_id == "globex"


def _b64(value: dict[str, Any]) -> str:
    raw = json.dumps(value, default=lambda moment: int(moment.timestamp())).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "header",
    [{"alg": ["HS256"]}, {"alg": {"name": "HS256"}}, {"typ": "JWT"}, {"alg": "HS256", "kid": 5}],
)
async def test_odd_headers_are_malformed(make_verifier: Factory, header: dict[str, Any]) -> None:
    token = f"{_b64(header)}.{_b64(claims())}.c2lnbmF0dXJl"
    assert (await refused(make_verifier(), token)).reason is AuthFailure.MALFORMED_TOKEN


@pytest.mark.parametrize("exp", ["1e300", "99999999999999999999", "Infinity", "NaN", '"soon"'])
async def test_absurd_expiry_is_malformed(make_verifier: Factory, exp: str) -> None:
    payload = f'{{"sub": "alice", "tenant_id": "acme", "exp": {exp}}}'.encode()
    token = jwt.api_jws.encode(payload, SECRET, algorithm="HS256")
    assert (await refused(make_verifier(), token)).reason is AuthFailure.MALFORMED_TOKEN


# -- the cache of verified HS256 tokens ----------------------------------------------------------


class MovingClock:
    """The verifier's wall clock and PyJWT's, moved together by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return datetime.now(UTC).timestamp() + self.offset

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        clock = self

        class ShiftedDatetime(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return datetime.now(tz) + timedelta(seconds=clock.offset)

        monkeypatch.setattr(jwt.api_jwt, "datetime", ShiftedDatetime)


async def test_a_cached_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = hs256(claims(ttl=60))
    clock = MovingClock()
    clock.install(monkeypatch)
    verifier = TokenVerifier(
        AuthSettings(hs256_secret=SECRET, leeway_seconds=0), wall_clock=clock.time
    )
    assert (await verifier.verify(token)).tenant_id == "acme"
    assert (await verifier.verify(token)).tenant_id == "acme"  # from the cache

    clock.offset = 61
    assert (await refused(verifier, token)).reason is AuthFailure.EXPIRED


async def test_a_verified_hs256_token_is_decoded_once_and_the_cache_is_bounded(
    make_verifier: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    monkeypatch.setattr("experience_plane.auth.verifier.VERIFIED_CACHE_SIZE", 2)
    verifier = make_verifier()
    first, second, third = (hs256(claims(sub=name)) for name in ("a", "b", "c"))
    for token in (first, first, second, first):
        await verifier.verify(token)
    assert decoded == [first, second]
    await verifier.verify(third)  # evicts `second`, the least recently used
    await verifier.verify(first)
    await verifier.verify(second)
    assert decoded == [first, second, third, second]
    # A refused token is never cached: refused again, with the same reason, every time.
    bad = hs256(claims(), secret="another-secret-of-at-least-32-bytes!!")
    for _ in range(2):
        assert (await refused(verifier, bad)).reason is AuthFailure.BAD_SIGNATURE
