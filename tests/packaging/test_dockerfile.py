"""The Dockerfile cannot be built here (no Docker engine), so it is linted and checked instead."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint is missing: install the dev extra (make install)"
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "info", "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_really_checking() -> None:
    """A Dockerfile with a known fault must fail, or the test above proves nothing."""
    result = subprocess.run(
        [hadolint(), "--no-color", "-"],
        input="FROM python:latest\nRUN cd /tmp && pip install httpx\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


def test_image_runs_the_service_as_non_root_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2, "multi-stage build expected"
    assert all("slim" in line for line in stages)
    assert "\nUSER 10001:10001\n" in text
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    assert 'CMD ["serve"]' in text
    assert 'ENTRYPOINT ["experience-plane"]' in text
