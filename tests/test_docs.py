"""The README documents every setting the service reads."""

from __future__ import annotations

from pathlib import Path

from experience_plane.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    prefix = Settings.model_config.get("env_prefix", "")
    missing = [
        f"{prefix}{name}".upper()
        for name in Settings.model_fields
        if f"`{prefix}{name}`".upper() not in readme.upper()
    ]
    assert not missing, f"README.md's configuration table lacks: {', '.join(missing)}"
