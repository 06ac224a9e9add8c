"""The record table: one plain line per record off a terminal, fitted to a terminal's width."""

from __future__ import annotations

import io

from rich.cells import cell_len

from experience_plane_sdk.render import MAX_CELL, RecordTable

WIDE = {f"column_{index}": f"value_{index}" for index in range(12)}
RECORDS = [
    {"customer_id": "C001", "name": "Ada Lovelace", "notes": "x" * 60, "score": 7},
    {"customer_id": "C002", "name": "[bold]Grace[/bold]", "notes": None, "score": {"a": 1}},
]


def test_off_a_terminal_each_record_is_one_plain_line_with_long_cells_cut() -> None:
    out = io.StringIO()
    table = RecordTable(out)
    table.write(RECORDS[:1])
    table.write(RECORDS[1:])  # a later batch keeps the first one's columns
    header, *rows = out.getvalue().splitlines()
    assert header.split() == ["customer_id", "name", "notes", "score"]
    assert rows[0].split() == ["C001", "Ada", "Lovelace", "x" * (MAX_CELL - 1) + "…", "7"]
    # Values are data, never markup; JSON for what is not a string.
    assert rows[1].split() == ["C002", "[bold]Grace[/bold]", '{"a":1}']
    assert "\x1b" not in out.getvalue()
    assert all(line == line.rstrip() for line in out.getvalue().splitlines())


def test_off_a_terminal_a_wide_record_is_not_cut_to_80_columns() -> None:
    out = io.StringIO()
    RecordTable(out).write([WIDE])
    header, row = out.getvalue().splitlines()
    assert header.split() == list(WIDE)
    assert row.split() == list(WIDE.values())


def test_on_a_narrow_terminal_the_table_fits_its_width() -> None:
    out = io.StringIO()
    RecordTable(out, width=40).write(RECORDS)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("customer")
    assert all(cell_len(line) <= 40 for line in lines), lines
    # Nothing is dropped: narrow columns fold their cells.
    for fragment in ("C001", "C002", "score", "7", '{"a":1'):
        assert fragment in out.getvalue()
