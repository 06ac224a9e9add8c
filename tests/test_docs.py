"""The README documents every setting the service reads."""

from __future__ import annotations

from pathlib import Path

from experience_plane.settings import environment_names

ROOT = Path(__file__).resolve().parents[1]


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in environment_names() if f"`{name}`" not in readme]
    assert not missing, f"README.md's configuration table lacks: {', '.join(missing)}"
