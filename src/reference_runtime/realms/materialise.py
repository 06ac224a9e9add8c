"""Turning joined rows into canonical records, one record at a time.
A record has every canonical field, in the alignment's order. A field's value is the first
non-null one its sources give, in content_refs order; a different value from a later source is a
conflict, counted once per field and record. Values take their field's type (`tabular.coerce`),
each distinct raw value of a column converted once; the rows of every source but the fact are
converted once however many records they join.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_runtime.realms.alignment import Alignment, MashSource
from reference_runtime.realms.joining import Partial
from reference_runtime.realms.keys import Row, key_of
from reference_runtime.realms.tabular import coerce

# Distinct raw values remembered per column: enough for any code or category, bounded for a
# column of unique values (whose values are converted once anyway).
MEMO_LIMIT = 100_000

Converted = list[tuple[int, Any]]  # (field position, non-null value) of one row


def _converter(target: str) -> Callable[[Any], Any]:
    memo: dict[Any, Any] = {}

    def convert(raw: Any) -> Any:
        try:
            return memo[raw]
        except KeyError:
            value = coerce(raw, target)
            if len(memo) < MEMO_LIMIT:
                memo[raw] = value
            return value
        except TypeError:  # a nested JSON object or array
            return coerce(raw, target)

    return convert


@dataclass(slots=True)
class RecordStats:
    """What the records built so far hold: for the quality report."""

    records: int = 0
    nulls: int = 0
    complete: int = 0
    conflicts: Counter[str] = field(default_factory=Counter)
    without: Counter[int] = field(default_factory=Counter)  # records without a row of source i


class RecordBuilder:
    """Builds canonical records from partial ones and keeps `stats` about them."""

    def __init__(self, sources: list[MashSource], alignment: Alignment, fact: int) -> None:
        self.names = [f.name for f in alignment.fields]
        position = {name: index for index, name in enumerate(self.names)}
        types = {f.name: f.type for f in alignment.fields}
        feeds = Counter(m.field for m in alignment.by_column.values())
        self._shared = {position[name] for name, count in feeds.items() if count > 1}
        self._feeds = [
            [
                (ci, position[alignment.by_column[si, ci].field])
                for ci in range(len(source.table.columns))
            ]
            for si, source in enumerate(sources)
        ]
        self._convert = [
            [
                _converter(types[alignment.by_column[si, ci].field])
                for ci in range(len(source.table.columns))
            ]
            for si, source in enumerate(sources)
        ]
        self._fact = fact
        self._cache: list[dict[int, Converted]] = [{} for _ in sources]
        self._width = len(sources)
        self.stats = RecordStats()

    def _converted(self, si: int, row: Row) -> Converted:
        if si != self._fact:
            cached = self._cache[si].get(id(row))
            if cached is not None:
                return cached
        converters = self._convert[si]
        pairs = []
        for ci, at in self._feeds[si]:
            value = converters[ci](row[ci])
            if value is not None:
                pairs.append((at, value))
        if si != self._fact:
            self._cache[si][id(row)] = pairs
        return pairs

    def build(self, partial: Partial) -> dict[str, Any]:
        """The canonical record of one partial record."""
        values: list[Any] = [None] * len(self.names)
        conflicted: set[int] = set()
        present = 0
        for si, row in enumerate(partial):
            if row is None:
                self.stats.without[si] += 1
                continue
            present += 1
            for at, value in self._converted(si, row):
                current = values[at]
                if current is None:
                    values[at] = value
                elif (
                    at in self._shared
                    and at not in conflicted
                    and current != value
                    and key_of(current) != key_of(value)
                ):
                    conflicted.add(at)
        stats = self.stats
        stats.records += 1
        stats.nulls += values.count(None)
        stats.complete += present == self._width
        for at in conflicted:
            stats.conflicts[self.names[at]] += 1
        return dict(zip(self.names, values, strict=True))
