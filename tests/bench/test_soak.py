"""A smoke run of `make soak` (`bench/soak.py --quick`): every phase (Runtime chaos, the frozen
Runtime, the rolling restart of two replicas on Redis) with small loads, every check of the full
soak. It starts its own processes, as the soak does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_quick_soak_passes_every_check() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "soak: passed" in run.stdout, report
    for phase in ("chaos:", "frozen Runtime:", "rolling restart:"):
        assert phase in run.stdout, report
