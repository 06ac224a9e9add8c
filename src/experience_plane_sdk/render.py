"""How the CLI shows results: JSON documents for scripts, concise aligned text for people.
Kept apart from `cli` so the command logic reads without formatting noise.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TextIO

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from experience_plane_sdk.models import ContentFile, DataMash, Execution

MAX_CELL = 24


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        # The API's own format: RFC 3339 in UTC with `Z` (naive taken as UTC).
        instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (
            instant.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
        )
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def execution_json(execution: Execution) -> dict[str, Any]:
    """The execution as a JSON-ready dict: the dataclass fields, artifacts tagged by `type`."""
    data: dict[str, Any] = _plain(dataclasses.asdict(execution))
    data["error"] = execution.error  # a property now; kept for scripts reading it
    data["artifacts"] = [
        {"type": type(artifact).__name__, **_plain(dataclasses.asdict(artifact))}
        for artifact in execution.artifacts
    ]
    return data


def dumps(document: Any) -> str:
    """One compact JSON line (non-ASCII kept readable)."""
    return json.dumps(_plain(document), ensure_ascii=False, separators=(",", ":"), default=str)


def _size(size: int | None) -> str:
    if size is None:
        return "? B"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def _progress(execution: Execution) -> str:
    if execution.progress is None:
        return ""
    return f"{execution.progress.phase} {execution.progress.percent:.0f}%"


def status_line(execution: Execution) -> str:
    """One line: id, state and progress (the plain, non-TTY update line)."""
    parts = [execution.id, f"{execution.state.value:<9}", _progress(execution)]
    if execution.failure is not None:
        parts.append(f"{execution.failure.code.value}: {execution.failure.message}")
    return "  ".join(part for part in parts if part).rstrip()


def _pairs(rows: Iterable[tuple[str, str]]) -> list[str]:
    rows = [(key, value) for key, value in rows if value]
    width = max((len(key) for key, _ in rows), default=0)
    return [f"{key:<{width}}  {value}" for key, value in rows]


def _file_lines(artifact: ContentFile) -> list[str]:
    facts = [
        artifact.name or "",
        artifact.mime_type or "",
        _size(artifact.size),
        artifact.format or "",
        "" if artifact.row_count is None else f"{artifact.row_count} rows",
    ]
    lines = [f"file {artifact.file_id}  " + "  ".join(f for f in facts if f)]
    for column in artifact.columns or ():
        nulls = "" if not column.null_count else f"  {column.null_count} empty"
        lines.append(f"  {column.name:<20} {column.type}{nulls}")
    return lines


def _mash_lines(mash: DataMash) -> list[str]:
    facts = [
        mash.name or "",
        f"entity {mash.entity}" if mash.entity else "",
        "" if mash.row_count is None else f"{mash.row_count} records",
    ]
    lines = [f"data mash {mash.mash_id}  " + "  ".join(f for f in facts if f)]
    for field in mash.canonical_fields:
        sources = ", ".join(f"{s.column} ({s.file_id})" for s in field.sources)
        lines.append(f"  {field.name:<20} {field.type or '?':<9} <- {sources}")
    for key in mash.join_keys:
        overlap = "" if key.overlap is None else f"  overlap {key.overlap:.0%}"
        lines.append(f"  joined on {key.field}{overlap}")
    report = mash.quality_report
    if report is not None:
        completeness = "?" if report.completeness is None else f"{report.completeness:.0%}"
        lines.append(
            f"  quality: {completeness} complete, {report.duplicate_keys or 0} duplicate keys, "
            f"{report.type_conflicts or 0} type conflicts"
        )
        lines.extend(f"  ! {issue}" for issue in report.issues)
    return lines


def _failure(execution: Execution) -> str:
    failure = execution.failure
    return "" if failure is None else f"{failure.code.value}: {failure.message}"


def execution_text(execution: Execution) -> str:
    """A short aligned description of an execution and what it produced."""
    lines = _pairs(
        [
            ("execution", execution.id),
            ("intent", execution.intent_type or ""),
            ("state", execution.state.value),
            ("progress", _progress(execution)),
            ("failure", _failure(execution)),
            ("created", _plain(execution.created_at) if execution.created_at else ""),
            ("updated", _plain(execution.updated_at) if execution.updated_at else ""),
        ]
    )
    for artifact in execution.artifacts:
        if isinstance(artifact, ContentFile):
            lines.extend(_file_lines(artifact))
        else:
            lines.extend(_mash_lines(artifact))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else dumps(value)


def _text(cell: str) -> Text:
    # Text, not a str: a record's value is data, never Rich markup.
    text = Text(cell)
    text.truncate(MAX_CELL, overflow="ellipsis")
    return text


class RecordTable:
    """Records as a Rich table that streams, batch by batch: the columns come from the first
    batch, cells have at most `MAX_CELL` characters (cut with `…`).

    On a terminal each batch is a table that fits its width (narrow columns fold their cells, the
    header is bold and heads every batch); elsewhere each record is one plain line, however
    wide, for `grep` and `cut`, aligned on the widest cell seen so far.
    """

    def __init__(self, out: TextIO, *, width: int | None = None) -> None:
        self.out = out
        self.console = Console(file=out, width=width, highlight=False)
        self.fit = self.console.is_terminal or width is not None
        self.columns: list[str] = []
        self.widths: list[int] = []

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Print a batch of records (the header before the first one)."""
        if not records:
            return
        first = not self.columns
        if first:
            for record in records:
                self.columns.extend(k for k in record if k not in self.columns)
            self.widths = [cell_len(column) for column in self.columns]
        rows = [[_text(_cell(record.get(column))) for column in self.columns] for record in records]
        table = Table(box=None, pad_edge=False, show_header=first or self.fit, header_style="bold")
        if self.fit:
            for column in self.columns:
                table.add_column(Text(column), overflow="fold")
        else:
            self.widths = [
                max(width, *(cell_len(row[index].plain) for row in rows))
                for index, width in enumerate(self.widths)
            ]
            for column, width in zip(self.columns, self.widths, strict=True):
                table.add_column(Text(column), width=width, no_wrap=True)
        for row in rows:
            table.add_row(*row)
        if self.fit:
            self.console.print(table)
            return
        # Off a terminal nothing limits the width, and no line ends in padding.
        self.console.width = sum(self.widths) + 2 * len(self.widths)
        with self.console.capture() as captured:
            self.console.print(table)
        for line in captured.get().splitlines():
            print(line.rstrip(), file=self.out)
