"""Every relative link in the repository's Markdown resolves to a file inside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Inline links and images, `[text](target)`, and reference definitions, `[label]: target`.
_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(ROOT / name for name in listed if (ROOT / name).is_file())


def relative_targets(text: str) -> list[str]:
    """The link targets in `text` that point at files (no scheme, no bare anchor)."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    targets = _INLINE.findall(prose) + _REFERENCE.findall(prose)
    return [
        target
        for target in targets
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) and not target.startswith("#")
    ]


def test_the_link_finder_sees_inline_reference_and_image_links() -> None:
    text = (
        "See [the contract](docs/runtime-contract.md#submit), ![a](img/x.png 'title'),\n"
        "[web](https://example.org), [here](#top), `[code](not/a/link.md)`.\n\n"
        "[ref]: ../outside.md\n"
        "```\n[fenced](also/not.md)\n```\n"
    )
    assert relative_targets(text) == [
        "docs/runtime-contract.md#submit",
        "img/x.png",
        "../outside.md",
    ]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(path: Path) -> None:
    broken = []
    for target in relative_targets(path.read_text(encoding="utf-8")):
        file_part = target.split("#", 1)[0].split("?", 1)[0]
        if not file_part:
            continue
        resolved = (path.parent / file_part).resolve()
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
    assert not broken, f"{path.relative_to(ROOT)} has links a clone cannot follow: {broken}"
