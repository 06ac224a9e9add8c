"""Node.js for the frontend tests: finding it (npm projects are installed by `tests.support.node`).

The frontend tests run real JavaScript clients and a real browser, so they need Node.js 20+ and
npm. In CI (`CI=true`) a missing Node is a failure; on a developer's machine the tests are left
out and the run ends with a loud banner saying why (`tests/frontend/conftest.py`): never a
silent skip.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MIN_NODE_MAJOR = 20
FRONTEND_TESTS = Path(__file__).resolve().parents[1] / "frontend"


@dataclass(frozen=True)
class NodeTools:
    """The `node` and `npm` executables the frontend tests run."""

    node: str
    npm: str


def in_ci() -> bool:
    """True on CI, where a frontend test that cannot run must fail, not be left out."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@functools.cache
def find_node() -> NodeTools | str:
    """Node.js and npm when both are usable, else the reason (for the failure or the banner)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        return (
            f"{missing} not found on PATH: install Node.js {MIN_NODE_MAJOR} or later "
            "(Debian/Ubuntu: `apt-get install nodejs npm`, or https://nodejs.org)"
        )
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip()
    major = version.lstrip("v").split(".", 1)[0]
    if not major.isdigit() or int(major) < MIN_NODE_MAJOR:
        return f"{node} is Node.js {version or '(unknown)'}; the tests need {MIN_NODE_MAJOR}+"
    return NodeTools(node=node, npm=npm)


def report_frontend_not_run(reporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """End the run with a loud banner when tests/frontend was asked for but Node.js is missing.

    Called from the controller's summary (the xdist workers deselect the tests themselves), so
    it looks at the arguments, not at the collected items.
    """
    if in_ci() or isinstance(find_node(), NodeTools):
        return
    asked = [Path(config.rootpath, arg.split("::", 1)[0]).resolve() for arg in config.args]
    if not any(
        path.is_relative_to(FRONTEND_TESTS) or FRONTEND_TESTS.is_relative_to(path) for path in asked
    ):
        return
    reporter.section("FRONTEND TESTS DID NOT RUN", sep="!", red=True, bold=True)
    reporter.write_line(
        f"tests/frontend/ was deselected: {find_node()}. On CI (CI=true) it fails instead.",
        red=True,
        bold=True,
    )
