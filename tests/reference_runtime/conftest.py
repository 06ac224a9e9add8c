"""Fixtures for the reference Runtime's tests: one shared Runtime process per test module.

Tests that share it use their own tenant each, which the Runtime keeps apart; tests that need a
process of their own (restarts, settings) use the `runtime` fixture or `RuntimeProcess` directly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reference_runtime.support import RuntimeApi
from tests.support.processes import RuntimeProcess


@pytest.fixture(scope="module")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    """An asynchronous-mode Runtime shared by the tests of one module."""
    with RuntimeProcess(tmp_path_factory.mktemp("shared") / "runtime") as process:
        yield process


@pytest.fixture
def api(shared_runtime: RuntimeProcess) -> Iterator[RuntimeApi]:
    """A client for the shared Runtime, speaking for a tenant of this test's own."""
    shared_runtime.set_faults(latency=0, status_error_rate=0, drop_rate=0, phase_delay=0)
    client = RuntimeApi(shared_runtime.url)
    yield client
    client.close()
