"""README's "For frontend teams" shows only code the frontend tests run.

Each of its JavaScript blocks must appear verbatim in a file of `tests/frontend/clients/snippets/`,
which `test_js_clients.py`'s scenarios import, or in `examples/web/app.js`, the TypeScript
client's page that `browser/test_web_example.py` runs in Chromium; so the README and the tested
code cannot drift. Every snippet file is shown in the README, and so is the page's use of the
TypeScript client, so nothing tested goes undocumented.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = Path(__file__).parent / "clients" / "snippets"
WEB_EXAMPLE = ROOT / "examples" / "web" / "app.js"
SECTION = "## For frontend teams"
JS_BLOCK = re.compile(r"^```js\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def frontend_section() -> str:
    readme = (ROOT / "README.md").read_text()
    assert SECTION in readme, f"README.md has no {SECTION!r} section"
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start : end if end != -1 else None]


def test_every_readme_js_block_is_a_tested_snippet() -> None:
    blocks = JS_BLOCK.findall(frontend_section())
    assert blocks, "the section shows no ```js block"
    tested = [path.read_text() for path in [*sorted(SNIPPETS.glob("*.mjs")), WEB_EXAMPLE]]
    untested = [block for block in blocks if not any(block in text for text in tested)]
    assert not untested, "README blocks found in no snippet file:\n\n" + "\n---\n".join(untested)


def test_every_snippet_file_is_shown_in_the_readme() -> None:
    blocks = JS_BLOCK.findall(frontend_section())
    shown = {
        path.name
        for path in SNIPPETS.glob("*.mjs")
        if any(block in path.read_text() for block in blocks)
    }
    assert shown == {path.name for path in SNIPPETS.glob("*.mjs")}


def test_the_typescript_clients_use_is_shown_from_the_tested_page() -> None:
    page = WEB_EXAMPLE.read_text()
    shown = [block for block in JS_BLOCK.findall(frontend_section()) if block in page]
    assert any("new ExperiencePlaneClient(" in block for block in shown), (
        "the section shows no excerpt of examples/web/app.js constructing the TypeScript client"
    )


def test_the_scenarios_import_every_snippet() -> None:
    scenarios = "".join(path.read_text() for path in SNIPPETS.parent.glob("*.mjs"))
    for path in SNIPPETS.glob("*.mjs"):
        assert f'"./snippets/{path.name}"' in scenarios, f"no scenario imports {path.name}"
