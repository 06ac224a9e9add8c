"""Settings from the environment and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_runtime.cli import settings_from_args
from reference_runtime.settings import RuntimeMode, RuntimeSettings, default_data_dir


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REFERENCE_RUNTIME_PORT", "9000")
    monkeypatch.setenv("REFERENCE_RUNTIME_MODE", "platform")
    monkeypatch.setenv("REFERENCE_RUNTIME_PHASE_DELAY", "0.25")
    from_env = settings_from_args([])
    assert (from_env.port, from_env.mode, from_env.phase_delay) == (
        9000,
        RuntimeMode.PLATFORM,
        0.25,
    )
    flagged = settings_from_args(["--port", "9100", "--mode", "async", "--data-dir", str(tmp_path)])
    assert (flagged.port, flagged.mode, flagged.data_dir) == (9100, RuntimeMode.ASYNC, tmp_path)
    assert flagged.phase_delay == 0.25


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PORT", "MODE", "PHASE_DELAY", "CONTROL_ENABLED", "DATA_DIR", "HOST"):
        monkeypatch.delenv(f"REFERENCE_RUNTIME_{name}", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = RuntimeSettings()
    assert (settings.host, settings.port, settings.mode) == ("127.0.0.1", 8001, RuntimeMode.ASYNC)
    assert settings.control_enabled is False
    assert settings.phase_delay == 0.0
    assert settings.data_dir == tmp_path / "reference-runtime" == default_data_dir()


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(SystemExit):
        settings_from_args(["--mode", "sync"])
