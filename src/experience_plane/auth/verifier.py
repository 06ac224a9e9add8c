"""Bearer JWT verification: from a token string to a `Principal`, or an `AuthenticationError`."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from experience_plane.auth.config import AuthSettings
from experience_plane.auth.credentials import parse_authorization
from experience_plane.auth.errors import AuthenticationError, AuthFailure
from experience_plane.auth.jwks import JwksFileSource, JwksUrlSource, KeySource
from experience_plane.auth.principal import Principal

HS256 = "HS256"
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})
# HS256 tokens verified already, by exact token string (a client sends the same token with every
# request until it expires): bounded, least recently used first out.
VERIFIED_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class _Verified:
    """An HS256 token that verified: who it speaks for and the time claims checked on each use."""

    principal: Principal
    exp: float | None
    nbf: float | None
    iat: float | None


class TokenVerifier:
    """Verifies bearer JWTs as `AuthSettings` says and maps their claims to a `Principal`.

    HS256 tokens are checked with the shared secret only; RS256/ES256 tokens with the JWKS key
    named by their `kid` only, and only with the one algorithm that key is bound to, so neither
    `alg: none` nor an HS256 token "signed" with a public key can pass. Build one per application
    (its lifespan owns it) and `aclose()` it on shutdown; `transport` and `clock` exist for tests.
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not settings.enabled:
            raise ValueError("No way to verify tokens: configure an HS256 secret or a JWKS.")
        self._settings = settings
        self._wall_clock = wall_clock
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._keys: KeySource | None = None
        if settings.jwks_file is not None:
            self._keys = JwksFileSource(settings.jwks_file)
        elif settings.jwks_url is not None:
            self._keys = JwksUrlSource(
                settings.jwks_url,
                cache_seconds=settings.jwks_cache_seconds,
                min_refresh_seconds=settings.jwks_min_refresh_seconds,
                timeout_seconds=settings.jwks_timeout_seconds,
                transport=transport,
                clock=clock,
            )

    @property
    def settings(self) -> AuthSettings:
        """What this verifier accepts."""
        return self._settings

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization` header value (`Bearer <token>` or a bare token)."""
        return await self.verify(parse_authorization(authorization))

    async def verify(self, token: str) -> Principal:
        """Verify `token`'s signature and claims and return who it speaks for.

        An HS256 token that verified before (the shared secret cannot change while the process
        runs) is not verified again: its principal is remembered, and its `exp`, `nbf` and `iat`
        are checked against the clock on every use, so it stops being accepted the moment a full
        verification would refuse it (the refusal then comes from a full verification)."""
        verified = self._verified.get(token)
        if verified is not None:
            if self._still_valid(verified):
                self._verified.move_to_end(token)
                return verified.principal
            del self._verified[token]
        if not token:
            raise AuthenticationError(AuthFailure.MISSING_TOKEN, "The bearer token is empty.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthenticationError(
                AuthFailure.MALFORMED_TOKEN,
                "The bearer token is not a well-formed JWT (its header cannot be decoded).",
            ) from error
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise AuthenticationError(
                AuthFailure.MALFORMED_TOKEN, "The token's header has no string 'alg'."
            )
        key = await self._key_for(algorithm, header.get("kid"))
        claims = self._decode(token, key, algorithm)
        principal = self._principal(claims)
        if algorithm == HS256:
            self._remember(token, principal, claims)
        return principal

    def _remember(self, token: str, principal: Principal, claims: Mapping[str, Any]) -> None:
        def number(name: str) -> float | None:
            value = claims.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            return None

        verified = _Verified(principal, number("exp"), number("nbf"), number("iat"))
        if not self._still_valid(verified):
            return
        self._verified[token] = verified
        while len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)

    def _still_valid(self, verified: _Verified) -> bool:
        """What PyJWT checks of the time claims, with the same leeway, at this moment."""
        now = self._wall_clock()
        leeway = self._settings.leeway_seconds
        if verified.exp is not None and now >= verified.exp + leeway:
            return False
        if verified.nbf is not None and now < verified.nbf - leeway:
            return False
        return not (verified.iat is not None and now < verified.iat - leeway)

    async def _key_for(self, algorithm: str, kid: object) -> str | PyJWK:
        settings = self._settings
        if algorithm == HS256 and settings.hs256_secret is not None:
            return settings.hs256_secret
        if algorithm in ASYMMETRIC_ALGORITHMS and self._keys is not None:
            if kid is not None and not isinstance(kid, str):
                raise AuthenticationError(
                    AuthFailure.MALFORMED_TOKEN, "The token's 'kid' header must be a string."
                )
            key = (await self._keys.key_set()).find(kid, algorithm)
            if key is None:
                # Keys may have rotated since they were fetched: one (rate-limited) refresh.
                key = (await self._keys.key_set(refresh=True)).find(kid, algorithm)
            if key is None:
                raise AuthenticationError(
                    AuthFailure.UNKNOWN_KEY,
                    "The token was signed with a key this service does not know "
                    + ("(its 'kid' is not in the JWKS)." if kid else "(it names no 'kid')."),
                )
            if key.algorithm_name != algorithm:
                raise AuthenticationError(
                    AuthFailure.UNSUPPORTED_ALGORITHM,
                    f"The token's algorithm does not match its key, which is {key.algorithm_name}.",
                )
            return key
        raise AuthenticationError(
            AuthFailure.UNSUPPORTED_ALGORITHM,
            f"Tokens signed with {_describe(algorithm)} are not accepted here; "
            f"accepted: {', '.join(self._accepted_algorithms()) or 'none'}.",
        )

    def _accepted_algorithms(self) -> list[str]:
        accepted = [HS256] if self._settings.accepts_hs256 else []
        if self._keys is not None:
            accepted += sorted(ASYMMETRIC_ALGORITHMS)
        return accepted

    def _decode(self, token: str, key: str | PyJWK, algorithm: str) -> dict[str, Any]:
        settings = self._settings
        required = ["sub"] + (["exp"] if settings.require_expiry else [])
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=settings.issuer,
                audience=settings.audience,
                leeway=settings.leeway_seconds,
                options={
                    "require": required,
                    # PyJWT rejects any token carrying `aud` when no audience is configured.
                    "verify_aud": settings.audience is not None,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as error:
            raise _translate(error) from error

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        settings = self._settings
        tenant = _tenant(claims, settings.tenant_claim)
        if tenant is None:
            raise AuthenticationError(
                AuthFailure.MISSING_TENANT,
                f"The token has no {settings.tenant_claim!r} claim naming the tenant; "
                "ask the identity provider to add it (or set EXPERIENCE_AUTH_TENANT_CLAIM).",
            )
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError(
                AuthFailure.MALFORMED_TOKEN, "The token's 'sub' claim must be a non-empty string."
            )
        token_id = claims.get("jti")
        return Principal(
            tenant_id=tenant,
            user_id=subject,
            roles=_roles(claims.get(settings.roles_claim), settings.roles_claim),
            expires_at=_expiry(claims.get("exp")),
            token_id=token_id if isinstance(token_id, str) and token_id else None,
        )

    async def aclose(self) -> None:
        """Close the JWKS HTTP client, if any."""
        if self._keys is not None:
            await self._keys.aclose()


def _describe(algorithm: str) -> str:
    if algorithm.isalnum() and len(algorithm) <= 10:
        return f"alg {algorithm!r}"
    return "no usable 'alg'"


def _expiry(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("exp is not a number")
        return datetime.fromtimestamp(value, tz=UTC)
    except (TypeError, OverflowError, OSError, ValueError) as error:
        raise AuthenticationError(
            AuthFailure.MALFORMED_TOKEN, "The token's 'exp' claim is out of range."
        ) from error


def _tenant(claims: Mapping[str, Any], name: str) -> str | None:
    value: Any = claims.get(name)
    if value is None and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _roles(value: object, claim: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(role, str) for role in value):
        return frozenset(role for role in value if role)
    raise AuthenticationError(
        AuthFailure.MALFORMED_TOKEN,
        f"The token's {claim!r} claim must be a list of strings or a space-separated string.",
    )


_CLAIM_FAILURES = {
    "iss": AuthFailure.WRONG_ISSUER,
    "aud": AuthFailure.WRONG_AUDIENCE,
}


def _translate(error: jwt.PyJWTError) -> AuthenticationError:
    """PyJWT's exception for a refused token as our reason and a message that says what to fix."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return AuthenticationError(AuthFailure.EXPIRED, "The token has expired; get a new one.")
    if isinstance(error, jwt.ImmatureSignatureError):
        return AuthenticationError(
            AuthFailure.NOT_YET_VALID,
            "The token is not valid yet (nbf/iat in the future); check the issuer's clock.",
        )
    if isinstance(error, jwt.InvalidIssuerError):
        return AuthenticationError(
            AuthFailure.WRONG_ISSUER, "The token comes from an issuer this service does not trust."
        )
    if isinstance(error, jwt.InvalidAudienceError):
        return AuthenticationError(
            AuthFailure.WRONG_AUDIENCE, "The token was issued for another audience (check 'aud')."
        )
    if isinstance(error, jwt.MissingRequiredClaimError):
        reason = _CLAIM_FAILURES.get(error.claim, AuthFailure.MALFORMED_TOKEN)
        return AuthenticationError(reason, f"The token has no {error.claim!r} claim.")
    if isinstance(error, jwt.InvalidSignatureError):
        return AuthenticationError(
            AuthFailure.BAD_SIGNATURE,
            "The token's signature does not verify: it was not signed by a trusted key or secret.",
        )
    if isinstance(error, jwt.InvalidAlgorithmError):
        return AuthenticationError(
            AuthFailure.UNSUPPORTED_ALGORITHM, "The token's algorithm is not accepted here."
        )
    if isinstance(error, jwt.InvalidKeyError):
        return AuthenticationError(
            AuthFailure.UNKNOWN_KEY, "The token's signing key is not usable (too weak or invalid)."
        )
    return AuthenticationError(
        AuthFailure.MALFORMED_TOKEN, "The token's claims are malformed (check exp, nbf, iat, sub)."
    )
