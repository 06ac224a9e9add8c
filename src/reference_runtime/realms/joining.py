"""Finding join keys between sources from their values, and joining their records.
Candidate key pairs feed the same canonical field (when either is an identifier or both hold
mostly distinct values) or are both identifier-like; the pair with the highest overlap, |A∩B| /
min(|A|, |B|) over distinct non-null values (preferring a shared field and identifiers), joins
if it is at least 0.5, each source joining onto those before it (the first content ref is the
anchor). The join is a full outer join with multiplicity that never drops or merges an accepted
row: every record pairs with every matching row of the new source, unmatched records and rows
(and rows without a key value) stay records of their own, a record's key is its left column's
value (else its canonical field's from the other sources), and a many-to-many join beyond
`MAX_JOINED_RECORDS` fails with `MashError` before any record is built. When sources of one
record feed a field different values, the earliest source's wins and the conflict is reported
as an issue, as are duplicate key values within a source (informative).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from reference_runtime.realms.alignment import Alignment, MashError, MashSource
from reference_runtime.realms.tabular import coerce, is_null, normalised_value

MIN_KEY_OVERLAP = 0.5
HIGH_DISTINCTNESS = 0.9
SAME_FIELD_BONUS = 0.2
IDENTIFIER_BONUS = 0.1
# The most records a mash may have; only a many-to-many join can exceed it (rows on both sides
# repeat a key value), and building them would exhaust memory long before anyone read them.
MAX_JOINED_RECORDS = 1_000_000

Row = list[Any]
# A record being joined: one row (or None, no row) per source, in content_refs order.
Partial = list[Row | None]


@dataclass(frozen=True, slots=True)
class KeyPair:
    """Two columns, in a source already joined (left) and a new one (right), that join them."""

    left_source: int
    left_column: int
    right_source: int
    right_column: int
    field: str
    overlap: float
    score: float


@dataclass(slots=True)
class JoinResult:
    """The joined records and what happened on the way.

    `origins[i]` are the indexes of the sources with a row in `records[i]`; `conflicts` counts,
    per field, the records whose sources disagree on it; `repeats[(source, column)]` is how many
    values of a key column occur more than once in its source.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    origins: list[set[int]] = field(default_factory=list)
    conflicts: Counter[str] = field(default_factory=Counter)
    repeats: dict[tuple[int, int], int] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    @property
    def duplicate_keys(self) -> int:
        """Key values occurring more than once within one source, over every key column."""
        return sum(self.repeats.values())


def key_of(value: Any) -> Any:
    """The form in which key values are compared: `7`, `"7"` and `7.0` are the same key."""
    normal = normalised_value(value)
    if isinstance(normal, float) and normal.is_integer():
        return int(normal)
    return normal.casefold() if isinstance(normal, str) else normal


class _ValueSets:
    """Distinct key values per (source, column), computed once."""

    def __init__(self, sources: list[MashSource]) -> None:
        self.sources = sources
        self._cache: dict[tuple[int, int], set[Any]] = {}

    def get(self, si: int, ci: int) -> set[Any]:
        if (si, ci) not in self._cache:
            values = self.sources[si].table.column_values(ci)
            self._cache[si, ci] = {key_of(v) for v in values if not is_null(v)}
        return self._cache[si, ci]


def _is_distinct(source: MashSource, ci: int) -> bool:
    profile = source.profiles[ci]
    present = len(source.table.rows) - profile.null_count
    return present > 0 and profile.distinct_count / present >= HIGH_DISTINCTNESS


def _pairs(
    sources: list[MashSource], alignment: Alignment, values: _ValueSets, left: int, right: int
) -> list[KeyPair]:
    pairs = []
    for lc in range(len(sources[left].table.columns)):
        left_field = alignment.field_of(left, lc)
        for rc in range(len(sources[right].table.columns)):
            right_field = alignment.field_of(right, rc)
            same = left_field.name == right_field.name
            identifiers = left_field.spec.identifier and right_field.spec.identifier
            either_id = left_field.spec.identifier or right_field.spec.identifier
            distinct = _is_distinct(sources[left], lc) and _is_distinct(sources[right], rc)
            if not ((same and (either_id or distinct)) or identifiers):
                continue
            a, b = values.get(left, lc), values.get(right, rc)
            if not a or not b:
                continue
            overlap = len(a & b) / min(len(a), len(b))
            bonus = (SAME_FIELD_BONUS if same else 0.0) + (IDENTIFIER_BONUS if identifiers else 0.0)
            pairs.append(KeyPair(left, lc, right, rc, left_field.name, overlap, overlap + bonus))
    return pairs


def plan_joins(sources: list[MashSource], alignment: Alignment) -> list[KeyPair]:
    """The key pairs joining every source to the anchor (the first), or `MashError`."""
    values = _ValueSets(sources)
    joined = [0]
    plan: list[KeyPair] = []
    remaining = list(range(1, len(sources)))
    while remaining:
        pairs = [
            p
            for right in remaining
            for left in joined
            for p in _pairs(sources, alignment, values, left, right)
        ]
        good = [p for p in pairs if p.overlap >= MIN_KEY_OVERLAP]
        if not good:
            raise MashError(_no_key_message(sources, joined, remaining, pairs))
        best = max(good, key=lambda p: (p.score, -p.right_source))
        plan.append(best)
        joined.append(best.right_source)
        remaining.remove(best.right_source)
    return plan


def _no_key_message(
    sources: list[MashSource], joined: list[int], remaining: list[int], pairs: list[KeyPair]
) -> str:
    left = ", ".join(sources[i].filename for i in joined)
    right = ", ".join(sources[i].filename for i in remaining)
    message = f"No join key found between {left} and {right}: "
    if pairs:
        best = max(pairs, key=lambda p: p.overlap)
        lcol = sources[best.left_source].table.columns[best.left_column]
        rcol = sources[best.right_source].table.columns[best.right_column]
        message += (
            f"the best candidate, '{lcol}' ~ '{rcol}', shares only {best.overlap:.0%} of its "
            f"values (at least {MIN_KEY_OVERLAP:.0%} needed)"
        )
    else:
        message += "they have no identifier-like columns in common"
    return message + (
        ". Add a shared key column (such as a customer id) to the files, or mash them separately."
    )


def source_entity(
    sources: list[MashSource], alignment: Alignment, si: int, key_column: int
) -> str | None:
    """What one row of source `si` is about: the entity of its own identifier, if it has one.

    That is the first column other than `key_column` feeding an identifier field (other than a
    generic record id) whose values are all present and distinct, such as `policy_number`.
    """
    source = sources[si]
    rows = len(source.table.rows)
    for ci, profile in enumerate(source.profiles):
        entity = alignment.field_of(si, ci).spec.entity
        if ci == key_column or entity in (None, "record"):
            continue
        if rows and profile.null_count == 0 and profile.distinct_count == rows:
            return entity
    return None


def join_records(
    sources: list[MashSource], alignment: Alignment, plan: list[KeyPair]
) -> JoinResult:
    """Full outer join of every source's rows on the planned keys (see the module docstring)."""
    result = JoinResult()
    width = len(sources)
    columns = _KeyColumns(sources)
    partials: list[Partial] = []
    for row in sources[0].table.rows:
        partial: Partial = [None] * width
        partial[0] = row
        partials.append(partial)
    for pair in plan:
        _note_key_column(sources, alignment, columns, pair.left_source, pair.left_column, result)
        _note_key_column(sources, alignment, columns, pair.right_source, pair.right_column, result)
        partials = _join_one(sources, alignment, columns, pair, partials, result)
    _materialise(sources, alignment, partials, result)
    return result


class _KeyColumns:
    """Per key column, computed once: each row's key (None when it has none) and the rows by key."""

    def __init__(self, sources: list[MashSource]) -> None:
        self.sources = sources
        self._cache: dict[tuple[int, int], tuple[list[Any], dict[Any, list[Row]]]] = {}

    def get(self, si: int, ci: int) -> tuple[list[Any], dict[Any, list[Row]]]:
        if (si, ci) not in self._cache:
            rows = self.sources[si].table.rows
            keys = [None if is_null(row[ci]) else key_of(row[ci]) for row in rows]
            groups: defaultdict[Any, list[Row]] = defaultdict(list)
            for key, row in zip(keys, rows, strict=True):
                if key is not None:
                    groups[key].append(row)
            self._cache[si, ci] = (keys, dict(groups))
        return self._cache[si, ci]


def _note_key_column(
    sources: list[MashSource],
    alignment: Alignment,
    columns: _KeyColumns,
    si: int,
    ci: int,
    result: JoinResult,
) -> None:
    # Once per key column: how many of its values repeat, and how many rows have none.
    if (si, ci) in result.repeats:
        return
    source, name = sources[si], alignment.field_of(si, ci).name
    keys, groups = columns.get(si, ci)
    repeated = sum(1 for rows in groups.values() if len(rows) > 1)
    result.repeats[si, ci] = repeated
    if repeated:
        entity = source_entity(sources, alignment, si, ci)
        per = entity if entity else f"row of {source.filename}"
        values = "value" if repeated == 1 else "values"
        result.issues.append(
            f"{name} repeats in {source.filename} for {repeated} {values}: one record per {per}"
        )
    keyless = keys.count(None)
    if keyless:
        column = source.table.columns[ci]
        result.issues.append(
            f"{keyless} row(s) of {source.filename} have no '{column}'; "
            "kept as records of their own"
        )


def _key_columns(alignment: Alignment, name: str) -> list[tuple[int, int]]:
    """The (source, column) pairs feeding canonical field `name`, in content_refs order."""
    return sorted(
        (m.source_index, m.column_index) for m in alignment.by_column.values() if m.field == name
    )


def _key_of_partial(
    partial: Partial, pair: KeyPair, left_keys: dict[int, Any], feeds: list[tuple[int, int]]
) -> Any:
    left = partial[pair.left_source]
    if left is not None:
        return left_keys[id(left)]
    for si, ci in feeds:
        row = partial[si]
        if row is not None and not is_null(row[ci]):
            return key_of(row[ci])
    return None


def _join_one(
    sources: list[MashSource],
    alignment: Alignment,
    columns: _KeyColumns,
    pair: KeyPair,
    partials: list[Partial],
    result: JoinResult,
) -> list[Partial]:
    si, right = pair.right_source, sources[pair.right_source]
    right_keys, groups = columns.get(si, pair.right_column)
    feeds = _key_columns(alignment, pair.field)
    # The left rows' keys, computed once per key column, looked up by row identity.
    left_rows = sources[pair.left_source].table.rows
    left_keys = dict(
        zip(map(id, left_rows), columns.get(pair.left_source, pair.left_column)[0], strict=True)
    )
    keys = [_key_of_partial(partial, pair, left_keys, feeds) for partial in partials]
    matched = {key for key in keys if key is not None and key in groups}
    leftover = [
        row
        for key, row in zip(right_keys, right.table.rows, strict=True)
        if key is None or key not in matched
    ]
    size = len(leftover) + sum(len(groups[k]) if k in matched else 1 for k in keys)
    # Without a key repeating on both sides a join gives at most one record per input row; past
    # that, it multiplies rows (many-to-many), which is what the limit guards against.
    if size > MAX_JOINED_RECORDS and size > len(partials) + len(right.table.rows):
        raise MashError(_blow_up_message(sources, pair, keys, groups, size))

    joined: list[Partial] = []
    for partial, key in zip(partials, keys, strict=True):
        if key not in matched:
            joined.append(partial)
            continue
        for row in groups[key]:
            pairing = partial.copy()
            pairing[si] = row
            joined.append(pairing)
    for row in leftover:
        alone: Partial = [None] * len(sources)
        alone[si] = row
        joined.append(alone)

    left_counts = Counter(key for key in keys if key in matched)
    both = sum(1 for key, count in left_counts.items() if count > 1 and len(groups[key]) > 1)
    if both:
        result.issues.append(
            f"{both} value(s) of {pair.field} repeat on both sides of the join with "
            f"{right.filename}: every pairing of their rows is a record (many-to-many)"
        )
    unmatched = sum(len(rows) for key, rows in groups.items() if key not in matched)
    if unmatched:
        result.issues.append(
            f"{unmatched} of {len(right.table.rows)} row(s) of {right.filename} matched no "
            f"record on '{pair.field}'; kept as records of their own"
        )
    return joined


def _blow_up_message(
    sources: list[MashSource],
    pair: KeyPair,
    keys: list[Any],
    groups: dict[Any, list[Row]],
    size: int,
) -> str:
    left, right = sources[pair.left_source], sources[pair.right_source]
    left_counts = Counter(key for key in keys if key in groups)
    worst = max(left_counts, key=lambda key: left_counts[key] * len(groups[key]))
    shown = groups[worst][0][pair.right_column]  # as written, not case-folded
    repeated_left = sum(1 for count in left_counts.values() if count > 1)
    repeated_right = sum(1 for rows in groups.values() if len(rows) > 1)
    return (
        f"Joining {right.filename} on '{pair.field}' ('{left.table.columns[pair.left_column]}' "
        f"~ '{right.table.columns[pair.right_column]}') would give {size:,} records, more than "
        f"the limit of {MAX_JOINED_RECORDS:,}: {repeated_left:,} key value(s) repeat among the "
        f"{len(keys):,} record(s) joined so far from {left.filename} and {repeated_right:,} "
        f"among the {len(right.table.rows):,} row(s) of {right.filename} (the value "
        f"{shown!r} alone pairs {left_counts[worst]:,} rows with {len(groups[worst]):,}). Join on "
        "a more specific key, remove the repeated rows from one side, or mash fewer files."
    )


def _materialise(
    sources: list[MashSource], alignment: Alignment, partials: list[Partial], result: JoinResult
) -> None:
    # Sources in content_refs order: the first non-null value of a field wins.
    types = {f.name: f.type for f in alignment.fields}
    feeds = [
        [(ci, alignment.by_column[si, ci].field) for ci in range(len(source.table.columns))]
        for si, source in enumerate(sources)
    ]
    for partial in partials:
        record: dict[str, Any] = {}
        origin: set[int] = set()
        conflicted: set[str] = set()
        for si, row in enumerate(partial):
            if row is None:
                continue
            origin.add(si)
            for ci, name in feeds[si]:
                value = coerce(row[ci], types[name])
                if value is None:
                    continue
                current = record.get(name)
                if current is None:
                    record[name] = value
                elif (
                    name not in conflicted and current != value and key_of(current) != key_of(value)
                ):
                    conflicted.add(name)
                    result.conflicts[name] += 1
        result.records.append(record)
        result.origins.append(origin)
