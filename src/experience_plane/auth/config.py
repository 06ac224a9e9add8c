"""How tokens are verified: one immutable settings object the lead maps `EXPERIENCE_AUTH_*` onto."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# HS256 keys shorter than the SHA-256 output are brute-forceable (RFC 7518 §3.2); PyJWT only warns.
MIN_HS256_SECRET_BYTES = 32


def check_hs256_secret(secret: str) -> None:
    """Raise `ValueError` unless `secret` is long enough to sign HS256 tokens safely."""
    if len(secret.encode()) < MIN_HS256_SECRET_BYTES:
        raise ValueError(
            f"The HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes long "
            "(generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthSettings:
    """What a `TokenVerifier` accepts.

    HS256 tokens are accepted when `hs256_secret` is set; RS256/ES256 tokens when a JWKS is
    configured (`jwks_file` or `jwks_url`, not both). Both kinds may be accepted at once: each
    algorithm is verified only with its own kind of key. `issuer`/`audience` are checked when set.
    `leeway_seconds` tolerates clock skew on `exp`/`nbf`/`iat`. A JWKS URL is cached for
    `jwks_cache_seconds`, re-fetched early on an unknown `kid`, but never more often than every
    `jwks_min_refresh_seconds`. `tenant_claim` is a claim name, or a dotted path into nested
    claims (a literal claim with that exact name, e.g. `https://example.com/tenant`, wins).
    """

    hs256_secret: str | None = field(default=None, repr=False)
    jwks_file: Path | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    tenant_claim: str = "tenant_id"
    roles_claim: str = "roles"
    leeway_seconds: float = 30.0
    require_expiry: bool = True
    jwks_cache_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 30.0
    jwks_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.hs256_secret is not None:
            check_hs256_secret(self.hs256_secret)
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("Configure either a JWKS file or a JWKS URL, not both.")
        if self.jwks_url is not None:
            parts = urlsplit(self.jwks_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("The JWKS URL must be an absolute http(s) URL.")
        if not self.tenant_claim:
            raise ValueError("The tenant claim name must not be empty.")
        if self.leeway_seconds < 0:
            raise ValueError("The leeway must not be negative.")
        if self.jwks_cache_seconds <= 0 or self.jwks_min_refresh_seconds < 0:
            raise ValueError("JWKS cache time must be positive, min refresh interval >= 0.")
        if self.jwks_timeout_seconds <= 0:
            raise ValueError("The JWKS fetch timeout must be positive.")

    @property
    def accepts_hs256(self) -> bool:
        """Whether HS256 tokens (shared secret) can be verified."""
        return self.hs256_secret is not None

    @property
    def accepts_jwks(self) -> bool:
        """Whether RS256/ES256 tokens (public keys from a JWKS) can be verified."""
        return self.jwks_file is not None or self.jwks_url is not None

    @property
    def enabled(self) -> bool:
        """Whether any kind of token can be verified; `serve` refuses to start otherwise."""
        return self.accepts_hs256 or self.accepts_jwks
