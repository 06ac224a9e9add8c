"""Fixtures shared by every test: real reference Runtime processes on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import RuntimeProcess


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[RuntimeProcess]:
    """A reference Runtime in its default asynchronous mode."""
    with RuntimeProcess(tmp_path / "runtime") as process:
        yield process


@pytest.fixture
def platform_runtime(tmp_path: Path) -> Iterator[RuntimeProcess]:
    """A reference Runtime behaving like the platform's current Runtime."""
    with RuntimeProcess(tmp_path / "platform-runtime", mode="platform") as process:
        yield process
