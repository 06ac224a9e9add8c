"""Shared subscription work: one execution of an operation per event, however many subscribe.
Strawberry runs every subscription on its own: each subscriber follows the execution, runs the
selection set on every snapshot and serialises its own `next` payload, although subscribers of
the same operation (same document, variables, operation name and tenant) get the very same
payload. `SharedSubscriptions` runs such an operation once, as a `SharedOperation`: one
`schema.stream(...)` whose results are serialised once into JSON text; each subscriber only
frames that text with its own message id and sends it (see `graphql.websockets`).
The results fan out through a `Broadcast` (`executions.broadcast`): a subscriber joining a
running operation starts at its latest result (what a fresh subscription would get first), then
receives every later one in order; a subscriber that falls more than
`HISTORY` results behind resumes at the oldest kept. The operation stops when its stream ends
or its last subscriber leaves. What depends on the subscriber, not the operation, stays with the
subscriber: its token's expiry (the shared operation runs without one, see
`shared_principal`) and its message ids.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import replace
from functools import lru_cache
from typing import TypeAlias

from graphql import DocumentNode, GraphQLError, OperationType, get_operation_ast, parse

from experience_plane.auth import Principal
from experience_plane.executions.broadcast import Broadcast

# Results a subscriber may be more than this far behind before it skips to the oldest kept;
# statuses change a handful of times per execution, so this is never reached in practice.
HISTORY = 32
# Documents parsed to tell subscriptions from queries and mutations, which are never shared.
PARSED_DOCUMENTS = 256

OperationKey: TypeAlias = tuple[str, str, str | None, str, frozenset[str]]
"""(document, canonical variables JSON, operation name, tenant id, roles)."""

SharedItem: TypeAlias = "str | object"
"""A result serialised as the JSON text of a `next` payload, or a result the subscriber must
handle itself (a pre-execution error, an incremental-delivery frame): passed through as is."""

ResultSource: TypeAlias = Callable[[], Awaitable[AsyncGenerator[object, None]]]
Encoder: TypeAlias = Callable[[object], str | None]


@lru_cache(maxsize=PARSED_DOCUMENTS)
def _parse(document: str) -> DocumentNode | None:
    try:
        return parse(document)
    except GraphQLError:
        return None


def is_subscription(document: str, operation_name: str | None) -> bool:
    """Whether `document`'s chosen operation is a subscription (False if it cannot be told:
    the unshared path then reports the problem exactly as Strawberry does)."""
    parsed = _parse(document) if isinstance(document, str) else None
    if parsed is None:
        return False
    operation = get_operation_ast(parsed, operation_name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


def operation_key(
    document: str,
    variables: dict[str, object] | None,
    operation_name: str | None,
    principal: Principal,
) -> OperationKey | None:
    """The sharing key; None for variables that cannot be compared as JSON (not shared)."""
    try:
        canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return (document, canonical, operation_name, principal.tenant_id, principal.roles)


def shared_principal(principal: Principal) -> Principal:
    """The caller the shared operation runs as: the same tenant and roles, never expiring.

    Expiry belongs to each subscriber (one token's expiry must not end its neighbours'
    subscriptions), so the subscriber's side enforces it; the user and token id are the
    first subscriber's and are not used by subscription resolvers.
    """
    return replace(principal, expires_at=None)


class SharedOperation:
    """One running subscription operation, whose results its subscribers replay."""

    def __init__(self, key: OperationKey, hub: SharedSubscriptions) -> None:
        self.key = key
        self.broadcast: Broadcast[SharedItem] = Broadcast(HISTORY)
        self._hub = hub

    async def run(self, source: ResultSource, encode: Encoder) -> None:
        """Publish each result of `source()`, serialised once by `encode` when it can be."""
        error: Exception | None = None
        try:
            async with aclosing(await source()) as results:
                async for result in results:
                    encoded = encode(result)
                    self._hub.results_published += 1
                    self.broadcast.publish(encoded if encoded is not None else result)
        except Exception as exc:  # every subscriber reports it, as Strawberry would
            error = exc
        finally:
            self.broadcast.finish(error)
            self._hub.forget(self)


class SharedSubscriptions:
    """The running shared operations of one application, by `OperationKey`.

    `results_published` counts results produced (each one executed and serialised once for all
    its subscribers); `subscribers_joined` counts subscriptions served; the ratio is what
    sharing saves.
    """

    def __init__(self) -> None:
        self._operations: dict[OperationKey, SharedOperation] = {}
        self.results_published = 0
        self.subscribers_joined = 0

    @property
    def active_operations(self) -> int:
        """Shared operations currently running."""
        return len(self._operations)

    async def subscribe(
        self, key: OperationKey, source: ResultSource, encode: Encoder
    ) -> AsyncGenerator[SharedItem, None]:
        """Join the operation for `key`, starting it with `source()` if none runs; yield its
        results (see `Broadcast.subscribe`). Leaving (closing the generator, cancellation)
        stops the operation when this was its last subscriber."""
        operation = self._operations.get(key)
        if operation is None:
            operation = SharedOperation(key, self)
            self._operations[key] = operation
            operation.broadcast.start(operation.run(source, encode), name="shared-subscription")
        self.subscribers_joined += 1
        try:
            async with aclosing(operation.broadcast.subscribe()) as results:
                async for item in results:
                    yield item
        finally:
            if operation.broadcast.subscribers == 0:
                # The broadcast has cancelled the operation's task, and does not wait for it:
                # the task closes its stream (and the tracker's) in its own time, and this
                # subscriber's cancellation must not wait on it.
                self.forget(operation)

    def forget(self, operation: SharedOperation) -> None:
        """Stop handing out `operation` to new subscribers (it has ended)."""
        if self._operations.get(operation.key) is operation:
            del self._operations[operation.key]
