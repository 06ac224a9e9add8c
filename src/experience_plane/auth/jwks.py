"""Public keys from a JSON Web Key Set, read from a file or fetched from a URL.
Only RSA keys (RS256) and P-256 EC keys (ES256) are kept: every key is bound to exactly one
algorithm here, so a token can never choose how its key is interpreted. Symmetric (`oct`) keys in
a JWKS are ignored; HS256 uses the configured shared secret only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
from jwt import PyJWK, PyJWTError

from experience_plane.auth.errors import AuthenticationError, AuthFailure

logger = logging.getLogger(__name__)

# The only algorithm each key type may verify (RFC 8725 §3.1: pin algorithms to keys).
ALGORITHM_FOR_KEY_TYPE = {"RSA": "RS256", "EC": "ES256"}

# A JWKS is a few KiB; refuse to parse megabytes from a misconfigured URL.
MAX_JWKS_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of one JWKS document."""

    keys: tuple[PyJWK, ...]

    def find(self, kid: str | None, algorithm: str) -> PyJWK | None:
        """The key with `kid` (or the only key for `algorithm` when the token names none)."""
        if kid is None:
            candidates = [key for key in self.keys if key.algorithm_name == algorithm]
            return candidates[0] if len(candidates) == 1 else None
        for key in self.keys:
            if key.key_id == kid:
                return key
        return None


def parse_jwks(document: object) -> KeySet:
    """The RS256/ES256 keys of a JWKS document; raises `ValueError` when it is not a JWKS."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS is a JSON object with a 'keys' array")
    keys: list[PyJWK] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        algorithm = ALGORITHM_FOR_KEY_TYPE.get(str(entry.get("kty")))
        if algorithm is None or entry.get("alg", algorithm) != algorithm:
            continue
        if entry["kty"] == "EC" and entry.get("crv") != "P-256":
            continue
        try:
            # Passing the algorithm binds the key to it whatever the JWK's own fields say.
            key = PyJWK(entry, algorithm)
        except PyJWTError as error:
            logger.warning("Skipping an unusable JWKS key (kid=%r): %s", entry.get("kid"), error)
            continue
        keys.append(key)
    return KeySet(tuple(keys))


class KeySource(Protocol):
    """Where the verifier gets public keys; `refresh=True` asks for fresher keys if allowed."""

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        """The current keys (raises `AuthenticationError` `keys_unavailable` if there are none)."""
        ...

    async def aclose(self) -> None:
        """Release resources."""
        ...


class JwksFileSource:
    """Keys from a JWKS file, re-read whenever its modification time or size changes.

    The file is stat-ed on every lookup rather than watched: a stat is a microsecond syscall and
    it keeps rotation (replace the file) working without a background task.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._signature: tuple[int, int] | None = None
        self._keys = KeySet(())

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        """The file's keys, re-read if it changed since the last read."""
        del refresh  # the file is checked for changes on every call anyway
        return self._load()

    def _load(self) -> KeySet:
        try:
            stat = self._path.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
            if signature != self._signature:
                self._keys = parse_jwks(json.loads(self._path.read_bytes()))
                self._signature = signature
        except (OSError, ValueError) as error:
            if self._signature is None:
                raise AuthenticationError(
                    AuthFailure.KEYS_UNAVAILABLE,
                    f"The JWKS file {str(self._path)!r} cannot be read as a JWKS: {error}.",
                ) from error
            # Keep serving the last good keys while the file is being replaced or is broken.
            logger.warning("Keeping the previous keys: JWKS file unreadable: %s", error)
        return self._keys

    async def aclose(self) -> None:
        """Nothing to release."""


class JwksUrlSource:
    """Keys fetched from a JWKS URL, cached for `cache_seconds`.

    `refresh=True` (an unknown `kid`) re-fetches early, but never more often than every
    `min_refresh_seconds`, so a flood of tokens with made-up kids costs the JWKS server at most
    one request per interval. Concurrent lookups share one fetch. A failed fetch keeps the last
    good keys.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        min_refresh_seconds: float,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2.0)),
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._completed_fetches = 0  # attempts that have finished, successful or not
        self._lock = asyncio.Lock()

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        """The cached keys, fetched first if none are cached, they are stale, or `refresh`."""
        if self._needs_fetch(refresh=refresh):
            completed_before = self._completed_fetches
            async with self._lock:
                # Lookups that waited while another one fetched use its result.
                if self._completed_fetches == completed_before:
                    await self._fetch()
        if self._keys is None:
            raise AuthenticationError(
                AuthFailure.KEYS_UNAVAILABLE,
                "The signing keys could not be fetched from the JWKS URL; retry later "
                "(operators: check EXPERIENCE_AUTH_JWKS_URL and the identity provider).",
            )
        return self._keys

    def _needs_fetch(self, *, refresh: bool) -> bool:
        now = self._clock()
        if self._attempted_at is not None and now - self._attempted_at < self._min_refresh_seconds:
            return False
        if self._keys is None or self._fetched_at is None:
            return True
        return refresh or now - self._fetched_at >= self._cache_seconds

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            response = await self._client.get(self._url)
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
            keys = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as error:
            logger.warning("JWKS fetch from %s failed: %s", self._url, error)
            return
        finally:
            self._completed_fetches += 1
        self._keys = keys
        self._fetched_at = self._clock()
        logger.info("Fetched %d signing keys from %s", len(keys.keys), self._url)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
