"""Persisted operations: Automatic Persisted Queries (Apollo's protocol) and trusted documents.
APQ: a request may carry `extensions.persistedQuery {version: 1, sha256Hash}` instead of its
query; an unknown hash answers `PERSISTED_QUERY_NOT_FOUND` (HTTP 200, as Apollo's link expects),
and the client sends the query with the hash, which registers it once the hash is verified. The
registered queries are a bounded LRU in this process, shared through Redis (with a TTL) when the
cluster's link is attached; while Redis is down each replica uses its own.
Trusted documents (`EXPERIENCE_TRUSTED_DOCUMENTS`): a manifest in graphql-codegen's
persisted-documents format (`{"<hash>": "<document>"}`), parsed and validated once at start-up
and pinned in the schema's `DocumentCache`, which then refuses every other text (on every
transport: HTTP, SSE, multipart and WebSockets alike). A request names a document by
`documentId` or `extensions.persistedQuery.sha256Hash`, or sends a text the manifest holds;
nothing registers at run time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strawberry.schema import BaseSchema

from experience_plane.cluster.link import REDIS_ERRORS, RedisLink
from experience_plane.graphql.documents import UNKNOWN_DOCUMENT, DocumentCache
from experience_plane.strawberry_adapter import graphql_core_schema

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # what Apollo's link looks for
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_INVALID = "PERSISTED_QUERY_INVALID"
# Local registered queries at most (least recently used dropped first), and how long Redis
# keeps one: clients register again after either, at the cost of one round trip.
APQ_MAX_ENTRIES = 10_000
APQ_REDIS_TTL_SECONDS = 86_400
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(Exception):
    """A persisted-operation request refused at the HTTP level: status, message and code."""

    def __init__(self, status_code: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code


class InvalidManifest(ValueError):
    """The trusted documents manifest cannot be used; the message names the entry at fault."""


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of `text` as UTF-8: APQ's (and graphql-codegen's) document hash."""
    return hashlib.sha256(text.encode()).hexdigest()


def trust_manifest(path: Path, schema: BaseSchema, cache: DocumentCache) -> dict[str, str]:
    """Load the manifest at `path`, pin its documents in `cache` (parsed and validated against
    `schema` with the cache's limits) and close the cache to any other text.

    Returns `{hash: document}`; raises `InvalidManifest` naming the entry (hash and line) at
    fault, so that start-up stops with one line.
    """
    text, manifest = _read_manifest(path)
    core = graphql_core_schema(schema)
    for key, document in manifest.items():
        problem = cache.pin(core, document)
        if problem is not None:
            raise InvalidManifest(
                f"trusted documents manifest {path}: {manifest_entry(text, key)}: {problem}"
            )
    cache.close()
    return manifest


def _read_manifest(path: Path) -> tuple[str, dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"trusted documents manifest {path}: cannot be read: {exc}") from exc
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidManifest(
            f"trusted documents manifest {path}: line {exc.lineno} column {exc.colno}: not "
            f"JSON ({exc.msg})"
        ) from exc
    if not isinstance(parsed, dict):
        raise InvalidManifest(
            f"trusted documents manifest {path}: must be a JSON object of hash to document"
        )
    for key, document in parsed.items():
        if not isinstance(document, str) or not key:
            raise InvalidManifest(
                f"trusted documents manifest {path}: {manifest_entry(text, key)}: the document "
                "must be a string of GraphQL"
            )
    return text, parsed


def manifest_entry(text: str, key: str) -> str:
    """`entry "<hash>" (line N)`, for messages about one entry of a manifest's `text`."""
    needle = json.dumps(key)
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return f"entry {needle} (line {number})"
    return f"entry {needle}"


def requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The hash of `extensions.persistedQuery`, checked; None when the request has none."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryError(
            400,
            "`extensions.persistedQuery` must be {version: 1, sha256Hash: <hex SHA-256>}.",
            PERSISTED_QUERY_INVALID,
        )
    value = persisted.get("sha256Hash")
    if not isinstance(value, str) or not value:
        raise PersistedQueryError(
            400, "`extensions.persistedQuery.sha256Hash` must be a string.", PERSISTED_QUERY_INVALID
        )
    return value


class PersistedQueries:
    """Resolves the query a request runs from its text and `extensions.persistedQuery`.

    With `trusted` (hash to document), only those documents are named; without, APQ.
    """

    def __init__(self, trusted: Mapping[str, str] | None = None, *, prefix: str = "experience"):
        self.trusted = dict(trusted) if trusted is not None else None
        self._local: OrderedDict[str, str] = OrderedDict()
        self._link: RedisLink | None = None
        self._prefix = f"{prefix}:apq:"

    def attach(self, link: RedisLink | None) -> None:
        """Share registered queries through Redis (None: this process only)."""
        self._link = link

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The query to run; raises `PersistedQueryError` for an unknown or mismatched hash."""
        digest = requested_hash(extensions)
        if digest is None:
            return query  # a text not in a trusted manifest is refused by the document cache
        if self.trusted is not None:
            return self._trusted(query, digest)
        digest = digest.lower()
        if _SHA256.fullmatch(digest) is None:
            raise PersistedQueryError(
                400,
                "`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits.",
                PERSISTED_QUERY_INVALID,
            )
        if query is None:
            found = await self._lookup(digest)
            if found is None:
                raise PersistedQueryError(
                    200, PERSISTED_QUERY_NOT_FOUND_MESSAGE, PERSISTED_QUERY_NOT_FOUND
                )
            return found
        if sha256_hex(query) != digest:
            raise _mismatch()
        await self._register(digest, query)
        return query

    def _trusted(self, query: str | None, digest: str) -> str:
        assert self.trusted is not None
        document = self.trusted.get(digest)
        if document is None:
            raise PersistedQueryError(
                400,
                f"Document {digest!r} is not in this server's trusted documents manifest.",
                UNKNOWN_DOCUMENT,
            )
        if query is not None and query != document and sha256_hex(query) != digest:
            raise _mismatch()
        return document

    async def _lookup(self, digest: str) -> str | None:
        query = self._local.get(digest)
        if query is not None:
            self._local.move_to_end(digest)
            return query
        link = self._link
        if link is None or not link.up:
            return None
        try:
            stored = await link.redis.get(self._prefix + digest)
        except REDIS_ERRORS as exc:
            link.failed(exc)
            return None
        if not isinstance(stored, bytes | str):
            return None
        query = stored.decode() if isinstance(stored, bytes) else stored
        if sha256_hex(query) != digest:  # never trust a shared store blindly
            return None
        self._remember(digest, query)
        return query

    async def _register(self, digest: str, query: str) -> None:
        known = digest in self._local
        self._remember(digest, query)
        link = self._link
        if known or link is None or not link.up:
            return
        try:
            await link.redis.set(self._prefix + digest, query, ex=APQ_REDIS_TTL_SECONDS)
        except REDIS_ERRORS as exc:
            link.failed(exc)

    def _remember(self, digest: str, query: str) -> None:
        self._local[digest] = query
        self._local.move_to_end(digest)
        if len(self._local) > APQ_MAX_ENTRIES:
            self._local.popitem(last=False)


def _mismatch() -> PersistedQueryError:
    return PersistedQueryError(
        400,
        "`extensions.persistedQuery.sha256Hash` does not match the query sent with it.",
        PERSISTED_QUERY_HASH_MISMATCH,
    )
