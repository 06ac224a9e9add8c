"""Parsed and validated documents, cached by their text: a repeated operation is parsed and
validated once.
Strawberry's `ParserCache` and `ValidationCache` do this in two extensions, and with the token
and depth/alias limits that is four extensions whose hooks run on every request. The validation
cache also keys on the parsed document, and hashing a graphql-core AST walks all of it on every
request: on `bench/query_overhead.py` that hashing, and the hooks, cost more than the validation
they save. `DocumentCache` keys both on the query text (a document is a pure function of its
text, and validation of the document, given one schema and one set of rules), and one extension,
`CachedDocuments`, applies the token limit on parsing and the limit rules on validation.
With trusted documents (`graphql.persisted`) the cache is closed: the manifest's documents are
pinned (parsed and validated at start-up, never evicted) and any other text is refused with
`UNKNOWN_DOCUMENT`, whichever transport brought it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    SelectionSetNode,
    Visitor,
    parse,
    visit,
)
from graphql.validation import specified_rules
from strawberry.extensions import SchemaExtension

from experience_plane.strawberry_adapter import graphql_core_schema, validate_document

__all__ = ["CacheStats", "CachedDocuments", "DocumentCache", "UntrustedDocument"]

UNKNOWN_DOCUMENT = "UNKNOWN_DOCUMENT"
UNTRUSTED_MESSAGE = (
    "Only trusted documents run on this server and this one is not in its manifest: send the "
    "manifest's `documentId` (or `extensions.persistedQuery.sha256Hash`), or its exact text."
)


class UntrustedDocument(GraphQLError):
    """A query text refused because the cache is closed to texts outside the manifest."""

    def __init__(self) -> None:
        super().__init__(UNTRUSTED_MESSAGE, extensions={"code": UNKNOWN_DOCUMENT})


@dataclass(frozen=True, slots=True)
class CacheStats:
    """How often the cache answered (`hits`), how often it had to parse (`misses`) and to
    validate (`validations`), and how many documents it holds."""

    hits: int
    misses: int
    validations: int
    size: int


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    # None until the document has been validated once.
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Documents and their validation errors by query text, at most `maxsize` of them (the
    least recently used goes first). One cache per schema: its rules are fixed when it is made.

    `max_tokens` bounds parsing (a document over it is refused with a syntax error, and not
    cached); `limit_rules` are validated beside graphql-core's own rules (and Strawberry's).
    """

    def __init__(
        self, limit_rules: Sequence[type[ASTValidationRule]], *, max_tokens: int, maxsize: int
    ) -> None:
        self.rules = (*specified_rules, *limit_rules)
        self.max_tokens = max_tokens
        self.maxsize = max(1, maxsize)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Trusted documents: validated once, never evicted; `closed` refuses every other text.
        self._pinned: dict[str, _Entry] = {}
        self.closed = False
        self._hits = 0
        self._misses = 0
        self._validations = 0

    def _entry(self, query: str) -> _Entry:
        entry = self._pinned.get(query)
        if entry is not None:
            self._hits += 1
            return entry
        if self.closed:
            raise UntrustedDocument
        entry = self._entries.get(query)
        if entry is not None:
            self._hits += 1
            self._entries.move_to_end(query)
            return entry
        self._misses += 1
        entry = _Entry(parse(query, max_tokens=self.max_tokens))
        self._entries[query] = entry
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return entry

    def document(self, query: str) -> DocumentNode:
        """The parsed document; raises graphql-core's `GraphQLSyntaxError` when unparsable."""
        return self._entry(query).document

    def errors(self, schema: GraphQLSchema, query: str) -> list[GraphQLError]:
        """The document's validation errors (empty when valid), computed once per text."""
        # Parsed just before, so present unless evicted in between by a flood of other texts.
        entry = self._pinned.get(query) or self._entries.get(query) or self._entry(query)
        if entry.errors is None:
            entry.errors = self.validate(schema, entry.document)
        return entry.errors

    def validate(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        """Validate a document against these rules, without caching."""
        self._validations += 1
        empty = _empty_selection_sets(document)
        if empty:
            # graphql-core parses `{ }`, which the spec's grammar refuses, and Strawberry's depth
            # limiter then fails on it with a ValueError: answer it as the invalid document it is.
            return [GraphQLError("A selection set must select at least one field.", nodes=empty)]
        return validate_document(schema, document, self.rules)

    def pin(self, schema: GraphQLSchema, query: str) -> str | None:
        """Parse and validate a trusted document once and keep it for good; what is wrong with
        it (None: nothing)."""
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as exc:
            return f"does not parse: {_located(exc)}"
        errors = self.validate(schema, document)
        if errors:
            return f"does not validate: {_located(errors[0])}"
        self._pinned[query] = _Entry(document, errors)
        return None

    def trusts(self, query: str) -> bool:
        """Whether `query` may run: always, unless the cache is closed and it is not pinned."""
        return not self.closed or query in self._pinned

    def close(self) -> None:
        """Refuse, from now on, every text that is not pinned."""
        self.closed = True

    def stats(self) -> CacheStats:
        """The counters so far."""
        return CacheStats(self._hits, self._misses, self._validations, len(self._entries))


def _located(error: GraphQLError) -> str:
    where = error.locations[0] if error.locations else None
    suffix = f" (document line {where.line}, column {where.column})" if where else ""
    return error.message + suffix


class CachedDocuments(SchemaExtension):
    """Parsing and validation through a `DocumentCache` (with its token limit and rules)."""

    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            context.graphql_document = self.cache.document(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and context.graphql_document is not None:
            schema = graphql_core_schema(context.schema)
            if context.query is not None:
                # A copy: Strawberry and extensions may append to the request's list.
                context.pre_execution_errors = list(self.cache.errors(schema, context.query))
            else:  # a document given without its text: validated, with the limits, uncached
                context.pre_execution_errors = self.cache.validate(schema, context.graphql_document)
        yield


def cached_documents(cache: DocumentCache) -> Callable[[], SchemaExtension]:
    """The extension factory for `strawberry.Schema(extensions=...)`: one per request."""
    return lambda: CachedDocuments(cache)


class _EmptySelectionSets(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[SelectionSetNode] = []

    def enter_selection_set(self, node: SelectionSetNode, *_: object) -> None:
        if not node.selections:
            self.found.append(node)


def _empty_selection_sets(document: DocumentNode) -> list[SelectionSetNode]:
    visitor = _EmptySelectionSets()
    visit(document, visitor)
    return visitor.found
