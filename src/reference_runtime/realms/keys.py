"""Join key candidates, found from the columns' values: inclusion dependencies between sources.
A column references another source when its distinct non-null values are (almost) all contained
in a column of that source whose values are unique: a foreign key, whatever the names. Such a
`reference` candidate needs a containment of at least `MIN_CONTAINMENT` (so a few dangling
references still join), or `MIN_NAMED_CONTAINMENT` when the names agree (one canonical field, or
a word in common such as `cust` and `customers`): the names are then evidence too, and the rest
is dangling references to report, not a reason to refuse the key. Candidates rank by containment,
then name agreement, whether the referenced column looks like a key and how much of it is
referenced. Containment proves nothing when the values are small whole numbers inside a numbered
column (`quantity` in `customer_no` 1..50,000) or decimals (measurements): without agreeing
names, such a candidate is refused. A `shared` candidate is the older notion: two columns feeding
one canonical field (either one an identifier, or both mostly distinct), or two identifiers,
sharing at least `MIN_SHARED_OVERLAP` of their values; a name shared by columns unique on neither
side (a year, a status) is listed and refused. Every candidate says why it was refused, in words
a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from reference_runtime.realms.alignment import (
    Alignment,
    MashSource,
    entity_of_identifier,
    normalise_name,
)
from reference_runtime.realms.tabular import is_null, normalised_value

MIN_CONTAINMENT = 0.9
MIN_NAMED_CONTAINMENT = 0.5
MIN_SHARED_OVERLAP = 0.5
HIGH_DISTINCTNESS = 0.9
# Listed at all: a reference candidate at least this contained, or any candidate whose names agree.
LISTED_CONTAINMENT = 0.5
# Integers of a referenced column at least this dense (distinct / span) number its rows.
DENSE_NUMBERING = 0.5
AGREEMENT_WEIGHT = 0.3
KEY_LIKE_BONUS = 0.1
COVERAGE_WEIGHT = 0.1
SAME_FIELD_BONUS = 0.2
IDENTIFIER_BONUS = 0.1
# Words that say a column is a key without saying of what.
GENERIC_KEY_WORDS = frozenset({"id", "no", "nr", "num", "number", "key", "code", "ref", "uid"})
UNKEYABLE_TYPES = frozenset({"boolean", "empty"})

Column = tuple[int, int]  # (source index, column index)


def key_of(value: Any) -> Any:
    """The form in which key values are compared: `7`, `"7"` and `7.0` are the same key."""
    normal = normalised_value(value)
    if isinstance(normal, float) and normal.is_integer():
        return int(normal)
    return normal.casefold() if isinstance(normal, str) else normal


@dataclass(frozen=True, slots=True)
class ColumnKeys:
    """The distinct keys of one column and how many of its rows have a value."""

    keys: frozenset[Any]
    present: int
    rows: int

    @property
    def unique(self) -> bool:
        """Whether no key value repeats (rows without a value aside)."""
        return self.present > 0 and len(self.keys) == self.present

    @property
    def uniqueness(self) -> float:
        """Distinct values per row with a value: 1.0 for a key."""
        return len(self.keys) / self.present if self.present else 0.0


class KeyIndex:
    """The columns of the sources and their keys, computed once, on demand.

    A source's rows are turned into columns once (`values`). Only a column's distinct raw values
    (found at C speed) are turned into keys, so a column of a few dozen codes over 300,000 rows
    costs a few dozen `key_of` calls.
    """

    def __init__(self, sources: list[MashSource]) -> None:
        self.sources = sources
        self._columns: dict[int, list[Sequence[Any]]] = {}
        self._keys: dict[Column, ColumnKeys] = {}
        self._row_keys: dict[Column, list[Any]] = {}
        self._lookups: dict[Column, dict[Any, Any] | None] = {}
        self._distinct: dict[Column, int] = {}

    def values(self, column: Column) -> Sequence[Any]:
        """The column's raw values, one per row."""
        si, ci = column
        if si not in self._columns:
            table = self.sources[si].table
            columns: list[Sequence[Any]] = list(zip(*table.rows, strict=True))
            self._columns[si] = columns or [() for _ in table.columns]
        return self._columns[si][ci]

    def stats(self, column: Column) -> ColumnKeys:
        """The column's distinct keys and counts."""
        if column not in self._keys:
            values = self.values(column)
            lookup = self._lookup(column)
            if lookup is None:
                present = [k for k in self.row_keys(column) if k is not None]
                self._keys[column] = ColumnKeys(frozenset(present), len(present), len(values))
            else:
                missing = sum(values.count(raw) for raw in set(values) - lookup.keys())
                self._keys[column] = ColumnKeys(
                    frozenset(lookup.values()), len(values) - missing, len(values)
                )
        return self._keys[column]

    def distinct_values(self, column: Column) -> int:
        """How many distinct raw values the column has (nulls included): a bound on its keys,
        known at C speed, before any key is computed."""
        if column not in self._distinct:
            try:
                self._distinct[column] = len(set(self.values(column)))
            except TypeError:  # unhashable values: their keys are the bound
                self._distinct[column] = len(self.stats(column).keys) + 1
        return self._distinct[column]

    def row_keys(self, column: Column) -> list[Any]:
        """The key of each row in the column (None for a row without a value)."""
        if column not in self._row_keys:
            values = self.values(column)
            lookup = self._lookup(column)
            if lookup is None:
                self._row_keys[column] = [None if is_null(v) else key_of(v) for v in values]
            else:
                get = lookup.get
                self._row_keys[column] = [get(v) for v in values]
        return self._row_keys[column]

    def _lookup(self, column: Column) -> dict[Any, Any] | None:
        if column not in self._lookups:
            self._lookups[column] = _lookup(self.values(column))
        return self._lookups[column]


def _lookup(values: Iterable[Any]) -> dict[Any, Any] | None:
    """Raw value → key for every distinct non-null value; None when a value is unhashable (a
    nested JSON object or array), whose key must then be computed row by row."""
    try:
        distinct = set(values)
    except TypeError:
        return None
    return {raw: key_of(raw) for raw in distinct if not is_null(raw)}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pair of columns that might join two sources, with the evidence for and against it.

    For a `reference`, `column`'s values are looked up in `references` (unique); for a `shared`
    key, the two are peers. `containment` is the share of `column`'s distinct values found in
    `references` (for a shared key, of the smaller side's); `uniqueness` is `references`'
    distinct values per row with a value. `reason` says why it cannot join (None: it can).
    """

    kind: str
    column: Column
    references: Column
    containment: float
    uniqueness: float
    score: float
    reason: str | None
    many_to_one: bool = False  # the referencing column repeats values: it is a fact's

    @property
    def accepted(self) -> bool:
        """Whether the candidate can join its sources."""
        return self.reason is None

    @property
    def sources(self) -> tuple[int, int]:
        """The two sources it would join."""
        return self.column[0], self.references[0]


class _Names:
    """Column names, their words and their canonical fields, for judging name agreement."""

    def __init__(self, sources: list[MashSource], alignment: Alignment) -> None:
        self.sources = sources
        self.alignment = alignment

    def name(self, column: Column) -> str:
        si, ci = column
        return self.sources[si].table.columns[ci]

    def label(self, column: Column) -> str:
        return f"'{self.name(column)}' ({self.sources[column[0]].filename})"

    def field(self, column: Column) -> str:
        return self.alignment.by_column[column].field

    def identifier(self, column: Column) -> bool:
        return self.alignment.field_of(*column).spec.identifier

    def key_like(self, column: Column) -> bool:
        name = normalise_name(self.name(column))
        return name in GENERIC_KEY_WORDS or entity_of_identifier(name) is not None

    def agreement(self, column: Column, references: Column) -> float:
        """1.0 for one canonical field; 0.5 when a word of the column's name (`cust`) is, or
        starts, a word of the referenced column's name or of its file's name (`customers`);
        0.0 otherwise. Words that only say "key" (`id`, `code`, ...) do not count."""
        if self.field(column) == self.field(references):
            return 1.0
        mine = _words(self.name(column))
        theirs = _words(self.name(references)) | _words(self.sources[references[0]].stem)
        for a in mine:
            for b in theirs:
                if a == b or (min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a))):
                    return 0.5
        return 0.0


def _words(name: str) -> set[str]:
    words = set()
    for word in normalise_name(name).split("_"):
        if not word or word in GENERIC_KEY_WORDS:
            continue
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
            word = word[:-1]
        words.add(word)
    return words


def find_candidates(
    sources: list[MashSource], alignment: Alignment, index: KeyIndex
) -> list[Candidate]:
    """Every candidate worth listing between every two sources, best first."""
    names = _Names(sources, alignment)
    found: list[Candidate] = []
    columns = [
        (si, ci)
        for si, source in enumerate(sources)
        for ci, profile in enumerate(source.profiles)
        if profile.type not in UNKEYABLE_TYPES and index.stats((si, ci)).present
    ]
    for a in columns:
        for b in columns:
            if a[0] == b[0]:
                continue
            reference = _reference(a, b, names, index)
            if reference is not None:
                found.append(reference)
            if a[0] < b[0]:
                found.extend(_shared(a, b, names, index))
    # A shared key is not listed beside an accepted reference between the same two columns.
    referenced = {
        frozenset((c.column, c.references)) for c in found if c.kind == "reference" and c.accepted
    }
    listed = [
        c
        for c in found
        if c.kind == "reference" or frozenset((c.column, c.references)) not in referenced
    ]
    return sorted(listed, key=lambda c: (c.accepted, c.score), reverse=True)


def _reference(a: Column, b: Column, names: _Names, index: KeyIndex) -> Candidate | None:
    kb = index.stats(b)
    if kb.uniqueness < HIGH_DISTINCTNESS:
        return None  # not a key of its source (a nearly unique one is listed, and refused)
    agreement = names.agreement(a, b)
    # Distinct raw values stand for distinct keys here (they differ from them only by spelling:
    # case, spaces, `7` and `7.0`): a column with many more values than `b` cannot be contained
    # enough to be listed, and its keys need not be computed at all (an order id, say).
    if not agreement and len(kb.keys) + 1 < LISTED_CONTAINMENT * index.distinct_values(a):
        return None
    ka = index.stats(a)
    if not agreement and len(kb.keys) < LISTED_CONTAINMENT * len(ka.keys):
        return None
    common = len(ka.keys & kb.keys)
    containment = common / len(ka.keys)
    if not common or (containment < LISTED_CONTAINMENT and not agreement):
        return None  # nothing in common, or too little and nothing else to say for it
    coverage = common / len(kb.keys)
    key_like = names.key_like(b)
    score = (
        containment
        + AGREEMENT_WEIGHT * agreement
        + (KEY_LIKE_BONUS if key_like else 0.0)
        + COVERAGE_WEIGHT * coverage
    )
    return Candidate(
        "reference",
        a,
        b,
        round(containment, 4),
        round(kb.uniqueness, 4),
        round(score, 4),
        _reference_refusal(a, b, ka, kb, containment, agreement, names, index),
        many_to_one=not ka.unique,
    )


def _reference_refusal(
    a: Column,
    b: Column,
    ka: ColumnKeys,
    kb: ColumnKeys,
    containment: float,
    agreement: float,
    names: _Names,
    index: KeyIndex,
) -> str | None:
    if not kb.unique:
        return (
            f"{names.label(b)} is not unique ({kb.present:,} rows with a value, "
            f"{len(kb.keys):,} distinct values), so a value of {names.label(a)} could match "
            "several rows: remove the repeated rows, or join on another key"
        )
    decimal = next((c for c in (a, b) if index.sources[c[0]].profiles[c[1]].type == "number"), None)
    if decimal is not None:
        return f"{names.label(decimal)} holds decimal numbers, a measurement rather than a key"
    needed = MIN_NAMED_CONTAINMENT if agreement else MIN_CONTAINMENT
    if containment < needed:
        return (
            f"only {containment:.0%} of the {len(ka.keys):,} distinct values of "
            f"{names.label(a)} are found in {names.label(b)} (a reference needs "
            f"{MIN_NAMED_CONTAINMENT:.0%} where the names agree, {MIN_CONTAINMENT:.0%} otherwise)"
        )
    span = _numbering(kb.keys)
    if not agreement and span is not None and all(type(k) is int for k in ka.keys):
        low, high = span
        return (
            f"{names.label(a)} holds whole numbers ({min(ka.keys):,} to {max(ka.keys):,}) "
            f"and {names.label(b)} numbers its rows {low:,} to {high:,}: any such column is "
            "contained in it, so the values prove nothing. If it is a reference, give the two "
            "columns agreeing names"
        )
    return None


def _numbering(keys: frozenset[Any]) -> tuple[int, int] | None:
    """(lowest, highest) when `keys` are integers densely filling their range."""
    if not keys or not all(type(k) is int for k in keys):
        return None
    low, high = min(keys), max(keys)
    return (low, high) if len(keys) >= DENSE_NUMBERING * (high - low + 1) else None


def _shared(a: Column, b: Column, names: _Names, index: KeyIndex) -> Iterator[Candidate]:
    ka, kb = index.stats(a), index.stats(b)
    same = names.field(a) == names.field(b)
    either_id = names.identifier(a) or names.identifier(b)
    identifiers = names.identifier(a) and names.identifier(b)
    distinct = ka.uniqueness >= HIGH_DISTINCTNESS and kb.uniqueness >= HIGH_DISTINCTNESS
    if not ((same and (either_id or distinct)) or identifiers):
        if same and not ka.unique and not kb.unique:
            yield Candidate(
                "shared",
                a,
                b,
                0.0,
                round(kb.uniqueness, 4),
                0.0,
                f"{names.label(a)} and {names.label(b)} share a name but are unique on neither "
                f"side ({len(ka.keys):,} distinct values in {ka.present:,} rows, "
                f"{len(kb.keys):,} in {kb.present:,}): a shared name alone is not a key",
            )
        return
    overlap = len(ka.keys & kb.keys) / min(len(ka.keys), len(kb.keys))
    if not overlap:
        return  # nothing in common: not worth listing
    bonus = (SAME_FIELD_BONUS if same else 0.0) + (IDENTIFIER_BONUS if identifiers else 0.0)
    reason = None
    if overlap < MIN_SHARED_OVERLAP:
        reason = (
            f"{names.label(a)} ~ {names.label(b)} shares only {overlap:.0%} of its values "
            f"(at least {MIN_SHARED_OVERLAP:.0%} needed)"
        )
    yield Candidate(
        "shared",
        a,
        b,
        round(overlap, 4),
        round(kb.uniqueness, 4),
        round(overlap + bonus, 4),
        reason,
    )
