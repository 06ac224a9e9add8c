"""Fixtures shared by every test: real reference Runtime processes on free loopback ports.

`runtime` and `platform_runtime` lend each test one of two processes started once per session
(per xdist worker), reset to resting faults and zero counters first; the tests that share them
keep apart by tenant, session and idempotency key, as the Runtime's callers do. A test that
stops, kills, restarts or reconfigures its Runtime is marked `@pytest.mark.own_runtime` and gets
a process of its own, started for it alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.frontend import report_frontend_not_run
from tests.support.processes import RuntimeProcess, SharedRuntimeProcess

OWN_RUNTIME = "own_runtime"
DATA_DIR_ENV = "EXPERIENCE_DATA_DIR"
_made_data_dir: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # The service keeps its execution index in a per-user data directory by default: tests
    # (apps in process, API processes inheriting the environment) keep theirs in a temporary one.
    if DATA_DIR_ENV not in os.environ:
        made = tempfile.mkdtemp(prefix="experience-data-")
        _made_data_dir.append(made)
        os.environ[DATA_DIR_ENV] = made


def pytest_unconfigure(config: pytest.Config) -> None:
    for made in _made_data_dir:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop(DATA_DIR_ENV, None)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    # Here, not in tests/frontend/conftest.py: the xdist controller does not load that one.
    report_frontend_not_run(terminalreporter, config)


@pytest.fixture(scope="session")
def shared_async_runtime(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SharedRuntimeProcess]:
    """The asynchronous-mode Runtime behind `runtime` (and the Runtime's own API tests)."""
    data_dir = tmp_path_factory.mktemp("shared-async") / "runtime"
    with SharedRuntimeProcess(data_dir, defaults={}) as process:
        yield process


@pytest.fixture(scope="session")
def shared_platform_runtime(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SharedRuntimeProcess]:
    """The platform-mode Runtime behind `platform_runtime`."""
    data_dir = tmp_path_factory.mktemp("shared-platform") / "runtime"
    with SharedRuntimeProcess(data_dir, defaults={}, mode="platform") as process:
        yield process


def _lend(request: pytest.FixtureRequest, tmp_path: Path, mode: str) -> Iterator[RuntimeProcess]:
    if request.node.get_closest_marker(OWN_RUNTIME):
        with RuntimeProcess(tmp_path / f"{mode}-runtime", mode=mode) as process:
            yield process
        return
    shared: SharedRuntimeProcess = request.getfixturevalue(f"shared_{mode}_runtime")
    shared.reset()
    yield shared


@pytest.fixture
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RuntimeProcess]:
    """A reference Runtime in its default asynchronous mode."""
    yield from _lend(request, tmp_path, "async")


@pytest.fixture
def platform_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RuntimeProcess]:
    """A reference Runtime behaving like the platform's current Runtime."""
    yield from _lend(request, tmp_path, "platform")
