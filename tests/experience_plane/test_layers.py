"""GraphQL and REST are sibling surfaces over the services: neither imports the other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "experience_plane"
SIBLINGS = ("graphql", "rest")


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """Every module `path` imports (line, dotted name), relative imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = package.split(".")
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # `from experience_plane import rest` imports the package by its member name.
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
            found.append((node.lineno, module))
    return found


def crossings(surface: str) -> list[str]:
    other = next(name for name in SIBLINGS if name != surface)
    forbidden = f"experience_plane.{other}"
    problems: list[str] = []
    for path in sorted((PACKAGE / surface).rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        package = ".".join(parts if path.name == "__init__.py" else parts[:-1])
        for line, module in imported_modules(path, package):
            if module == forbidden or module.startswith(f"{forbidden}."):
                where = path.relative_to(PACKAGE.parents[1])
                problems.append(f"{where}:{line} imports {module}")
    return problems


@pytest.mark.parametrize("surface", SIBLINGS)
def test_a_surface_does_not_import_its_sibling(surface: str) -> None:
    problems = crossings(surface)
    assert not problems, "move what both need down into experience_plane.services:\n" + "\n".join(
        problems
    )


def test_the_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from ..graphql.errors import PublicError\n"
        "from .. import graphql\n"
        "import experience_plane.graphql.schema\n",
        encoding="utf-8",
    )
    names = [name for _, name in imported_modules(module, "experience_plane.rest")]
    assert "experience_plane.graphql.errors" in names
    assert "experience_plane.graphql" in names
    assert "experience_plane.graphql.schema" in names
