"""`experience-plane upload|mash|status|watch|records` are the SDK's client commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.processes import free_port


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experience_plane", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_client_command_reaches_the_sdk_cli() -> None:
    closed = f"http://127.0.0.1:{free_port()}/graphql"
    result = run_cli("status", "exec-1", "--url", closed)
    assert result.returncode == 3  # the SDK CLI's "unreachable" code
    assert "Cannot connect to the API" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_client_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("upload", "mash", "status", "watch", "records"):
        assert command in result.stdout
    upload_help = run_cli("upload", "--help")
    assert upload_help.returncode == 0
    assert "--wait" in upload_help.stdout


def test_global_options_before_the_client_command(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/graphql"
    upload = tmp_path / "a.csv"
    upload.write_text("id\n1\n")
    for args in (
        ("--json", "upload", str(upload), "--url", closed),
        ("--json", "--url", closed, "upload", str(upload)),
        ("--url=" + closed, "--request-timeout", "5", "status", "exec-1", "--json"),
    ):
        result = run_cli(*args)
        assert result.returncode == 3, (args, result.stderr)  # reached the SDK CLI and the URL
        assert "invalid choice" not in result.stderr
        assert "Cannot connect to the API" in result.stderr
