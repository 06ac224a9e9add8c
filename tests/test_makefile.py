"""`make run` starts the stack; its port variables reach `experience-plane dev`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_dry_run(*args: str) -> list[str]:
    """The commands `make -n` would run (the install step, if due, is printed, not run)."""
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed; the README's first command needs it")
    # make reads its variables from the environment too.
    env = {k: v for k, v in os.environ.items() if k not in {"PORT", "RUNTIME_PORT"}}
    result = subprocess.run(
        [make, "--no-print-directory", "-n", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return result.stdout.splitlines()


def dev_command(*args: str) -> list[str]:
    [line] = [line for line in make_dry_run("run", *args) if "experience-plane dev" in line]
    return line.split()[1:]


def test_make_run_passes_port_and_runtime_port_to_dev() -> None:
    assert dev_command("PORT=1234", "RUNTIME_PORT=4321") == [
        "dev", "--port", "1234", "--runtime-port", "4321",
    ]  # fmt: skip
    assert dev_command("PORT=1234") == ["dev", "--port", "1234"]


def test_make_run_without_ports_uses_dev_defaults() -> None:
    assert dev_command() == ["dev"]
