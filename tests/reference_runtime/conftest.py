"""Fixtures for the reference Runtime's tests: the session's shared Runtime process.

Tests that share it use their own tenant each, which the Runtime keeps apart; tests that need a
process of their own (restarts, settings) start a `RuntimeProcess` directly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reference_runtime.support import RuntimeApi
from tests.support.processes import RuntimeProcess, SharedRuntimeProcess


@pytest.fixture
def shared_runtime(shared_async_runtime: SharedRuntimeProcess) -> SharedRuntimeProcess:
    """The session's asynchronous-mode Runtime, its faults and counters reset for this test."""
    shared_async_runtime.reset()
    return shared_async_runtime


@pytest.fixture
def api(shared_runtime: RuntimeProcess) -> Iterator[RuntimeApi]:
    """A client for the shared Runtime, speaking for a tenant of this test's own."""
    client = RuntimeApi(shared_runtime.url)
    yield client
    client.close()
