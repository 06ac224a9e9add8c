"""Turning joined rows into canonical records, a field at a time.
A record has every canonical field, in the alignment's order. A field's value is the first
non-null one its sources give, in content_refs order; a different value from a later source is a
conflict, counted once per field and record. Values take their field's type (`tabular.coerce`),
each distinct raw value of a column converted once. Each field's values are gathered for every
record at once (list comprehensions over row indexes, not a loop over cells), then the records
are handed out one at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from reference_runtime.realms.alignment import Alignment, MashSource
from reference_runtime.realms.joining import NO_ROW, JoinResult
from reference_runtime.realms.keys import Column, KeyIndex, key_of
from reference_runtime.realms.tabular import coerce


@dataclass(slots=True)
class RecordStats:
    """What the records hold: for the quality report."""

    records: int = 0
    nulls: int = 0
    complete: int = 0
    conflicts: Counter[str] = field(default_factory=Counter)
    without: Counter[int] = field(default_factory=Counter)  # records without a row of source i


def _converted(values: Sequence[Any], target: str) -> list[Any]:
    """The column's values as JSON values of type `target`, then a None that index -1 reads."""
    try:
        mapping = {raw: coerce(raw, target) for raw in set(values)}
    except TypeError:  # a nested JSON object or array
        return [*(coerce(raw, target) for raw in values), None]
    return [*(mapping[raw] for raw in values), None]


def _field_values(
    index: KeyIndex, result: JoinResult, feeds: list[Column], target: str
) -> tuple[list[Any], int]:
    """One field's value in every record, and in how many records its sources disagree."""
    columns = [
        [converted[row] for row in result.rows[si]]
        for si, converted in ((si, _converted(index.values((si, ci)), target)) for si, ci in feeds)
    ]
    if len(columns) == 1:
        return columns[0], 0
    values: list[Any] = []
    conflicts = 0
    for candidates in zip(*columns, strict=True):
        chosen = None
        conflicted = False
        for value in candidates:
            if value is None:
                continue
            if chosen is None:
                chosen = value
            elif not conflicted and chosen != value and key_of(chosen) != key_of(value):
                conflicted = True
        values.append(chosen)
        conflicts += conflicted
    return values, conflicts


def materialise(
    sources: list[MashSource],
    alignment: Alignment,
    index: KeyIndex,
    result: JoinResult,
) -> tuple[Iterator[dict[str, Any]], RecordStats]:
    """The records, to be read one at a time, and what they hold."""
    stats = RecordStats(records=result.count)
    names = [f.name for f in alignment.fields]
    fields: list[list[Any]] = []
    for canonical in alignment.fields:
        feeds = sorted((m.source_index, m.column_index) for m in canonical.mappings)
        values, conflicts = _field_values(index, result, feeds, canonical.type)
        fields.append(values)
        stats.nulls += values.count(None)
        if conflicts:
            stats.conflicts[canonical.name] = conflicts
    for si, rows in enumerate(result.rows):
        stats.without[si] = rows.count(NO_ROW)
    stats.complete = sum(NO_ROW not in rows for rows in zip(*result.rows, strict=True))
    if not fields:  # sources without columns: records without fields
        return iter([{} for _ in range(result.count)]), stats
    records = (dict(zip(names, values, strict=True)) for values in zip(*fields, strict=True))
    return records, stats


def emit_all(
    records: Iterator[dict[str, Any]],
    emit: Callable[[dict[str, Any]], None],
    every: int,
    checkpoint: Callable[[], None],
) -> None:
    """Hand each record to `emit`, with a checkpoint every `every` records."""
    for count, record in enumerate(records, start=1):
        emit(record)
        if count % every == 0:
            checkpoint()
