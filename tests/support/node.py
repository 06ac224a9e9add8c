"""Node.js for the tests that run real JavaScript clients and a real browser (tests/frontend).

Each JavaScript test project has its own package.json and committed lockfile; `npm_project`
installs its node_modules with `npm ci` when they are missing or older than the lockfile.
Without Node the tests fail, saying what to install: they never skip.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

# Written into node_modules after `npm ci`: the lockfile they were installed from.
_STAMP = ".installed-from-lockfile-sha256"


class NodeMissing(RuntimeError):
    """Node.js or npm is not installed."""


def node_binary() -> str:
    """The path of `node`, or `NodeMissing` saying what to install."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise NodeMissing(
            "Node.js 20+ with npm is needed by the frontend tests (GraphiQL in Chromium, the "
            "JavaScript clients) and is not installed: install it (https://nodejs.org, or "
            "Debian's `nodejs` and `npm`), then run the tests again."
        )
    return node


def npm_project(project: Path) -> Path:
    """`project` with its node_modules installed from its lockfile (`npm ci`, only when they are
    missing or were installed from another lockfile)."""
    node_binary()
    npm = shutil.which("npm")
    assert npm is not None
    lockfile = (project / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lockfile).hexdigest()
    stamp = project / "node_modules" / _STAMP
    if stamp.is_file() and stamp.read_text() == digest:
        return project
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=project, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed in {project}:\n{result.stdout}\n{result.stderr}")
    stamp.write_text(digest)
    return project
