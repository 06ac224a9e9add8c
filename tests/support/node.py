"""Node.js for the tests that run real JavaScript clients and a real browser (tests/frontend).

Each JavaScript test project has its own package.json and committed lockfile; `npm_project`
installs its node_modules with `npm ci` when they are missing or older than the lockfile, and
`npm_built` also runs its build when its sources changed. Without Node the tests fail, saying
what to install: they never skip.

Test modules run in parallel (pytest-xdist, `--dist loadfile`) and several use one project (the
browser tests share tests/frontend/browser; the TypeScript client's test and the web example's
both need clients/typescript built), so installing and building hold a per-project file lock:
one worker's `npm ci` never deletes node_modules under another's feet.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.support.frontend import NodeTools, find_node

# Written into node_modules after `npm ci`: the lockfile they were installed from.
_STAMP = ".installed-from-lockfile-sha256"
# Written into the build's output directory after `npm run build`: the inputs it was built from.
_BUILD_STAMP = ".built-from-sha256"
NPM_TIMEOUT = 600


class NodeMissing(RuntimeError):
    """Node.js or npm is not installed."""


def node_binary() -> str:
    """The path of `node`, or `NodeMissing` saying what to install."""
    found = find_node()
    if not isinstance(found, NodeTools):
        raise NodeMissing(f"The frontend tests need Node.js: {found}")
    return found.node


@contextlib.contextmanager
def _project_lock(project: Path) -> Iterator[None]:
    """Hold an exclusive lock on `project` (across processes) while it is installed or built."""
    name = hashlib.sha256(str(project.resolve()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"experience-plane-npm-{name}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm() -> str:
    node_binary()
    found = find_node()
    assert isinstance(found, NodeTools)
    return found.npm


def _install(project: Path) -> None:
    lockfile = (project / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lockfile).hexdigest()
    stamp = project / "node_modules" / _STAMP
    if stamp.is_file() and stamp.read_text() == digest:
        return
    result = subprocess.run(
        [_npm(), "ci", "--no-audit", "--no-fund"],
        cwd=project, capture_output=True, text=True, check=False, timeout=NPM_TIMEOUT,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed in {project}:\n{result.stdout}\n{result.stderr}")
    stamp.write_text(digest)


def npm_project(project: Path) -> Path:
    """`project` with its node_modules installed from its lockfile (`npm ci`, only when they are
    missing or were installed from another lockfile)."""
    node_binary()
    with _project_lock(project):
        _install(project)
    return project


def npm_built(project: Path, output: Path, inputs: Iterable[Path]) -> Path:
    """`project` installed, and built into `output` by `npm run build` unless `output` was
    already built from exactly these `inputs` (files, or directories read recursively)."""
    node_binary()
    digest = hashlib.sha256()
    for root in inputs:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for file in (path for path in files if path.is_file()):
            digest.update(f"{file.resolve()}\0".encode() + file.read_bytes() + b"\0")
    stamp = output / _BUILD_STAMP
    with _project_lock(project):
        _install(project)
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return project
        result = subprocess.run(
            [_npm(), "run", "build"],
            cwd=project, capture_output=True, text=True, check=False, timeout=NPM_TIMEOUT,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"npm run build failed in {project}:\n{result.stdout}\n{result.stderr}"
            )
        stamp.write_text(digest.hexdigest())
    return project
