"""Finding join keys between sources from their values, and joining their records.

**Join keys.** Candidate column pairs from two sources are those feeding the same canonical field
(when either is an identifier or both hold mostly distinct values) and those that are both
identifier-like. Their overlap is |A∩B| / min(|A|, |B|) over the distinct non-null values; the
pair with the highest overlap (plus a preference for a shared field and for identifiers) joins,
if the overlap is at least 0.5. The first content ref is the anchor; each further source joins
onto the sources joined so far.

**Records.** A full outer join: one canonical record per key value, holding the fields of every
source that has a row with that key; rows with no match, or no key, become records of their own.
**Conflicts**: when two rows give one field different values, the first non-null value wins (in
content_refs order, then row order); conflicts are counted per field and reported as issues.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_runtime.realms.alignment import Alignment, MashError, MashSource
from reference_runtime.realms.tabular import coerce, is_null, normalised_value

MIN_KEY_OVERLAP = 0.5
HIGH_DISTINCTNESS = 0.9
SAME_FIELD_BONUS = 0.2
IDENTIFIER_BONUS = 0.1


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
    """The joined records and what happened on the way."""

    records: list[dict[str, Any]]
    origins: list[set[int]]
    conflicts: Counter[str] = field(default_factory=Counter)
    duplicate_keys: int = 0
    issues: list[str] = field(default_factory=list)


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


def join_records(
    sources: list[MashSource], alignment: Alignment, plan: list[KeyPair]
) -> JoinResult:
    """Full outer join of every source's rows on the planned keys (see the module docstring)."""
    types = {f.name: f.type for f in alignment.fields}
    result = JoinResult(records=[], origins=[])

    def values_of(si: int, row: list[Any]) -> dict[str, Any]:
        out = {}
        for ci, raw in enumerate(row):
            name = alignment.by_column[si, ci].field
            value = coerce(raw, types[name])
            if value is not None:
                out[name] = value
        return out

    def merge(index: int, values: dict[str, Any], si: int) -> None:
        record = result.records[index]
        for name, value in values.items():
            current = record.get(name)
            if current is None:
                record[name] = value
            elif key_of(current) != key_of(value):
                result.conflicts[name] += 1
        result.origins[index].add(si)

    def add(values: dict[str, Any], si: int) -> int:
        result.records.append({})
        result.origins.append(set())
        merge(len(result.records) - 1, values, si)
        return len(result.records) - 1

    counted: set[tuple[int, int]] = set()

    def grouped(si: int, ci: int) -> tuple[dict[Any, list[list[Any]]], list[list[Any]]]:
        groups: defaultdict[Any, list[list[Any]]] = defaultdict(list)
        keyless = []
        for row in sources[si].table.rows:
            if is_null(row[ci]):
                keyless.append(row)
            else:
                groups[key_of(row[ci])].append(row)
        if (si, ci) not in counted:
            counted.add((si, ci))
            duplicates = sum(1 for rows in groups.values() if len(rows) > 1)
            result.duplicate_keys += duplicates
            if duplicates:
                column = sources[si].table.columns[ci]
                result.issues.append(
                    f"{duplicates} value(s) of '{column}' occur more than once in "
                    f"{sources[si].filename}; their rows were merged into one record per value"
                )
        if keyless:
            column = sources[si].table.columns[ci]
            result.issues.append(
                f"{len(keyless)} row(s) of {sources[si].filename} have no '{column}'; "
                "kept as records of their own"
            )
        return groups, keyless

    if not plan:
        for row in sources[0].table.rows:
            add(values_of(0, row), 0)
        return result

    anchor_groups, anchor_keyless = grouped(0, plan[0].left_column)
    for rows in anchor_groups.values():
        index = add(values_of(0, rows[0]), 0)
        for row in rows[1:]:
            merge(index, values_of(0, row), 0)
    for row in anchor_keyless:
        add(values_of(0, row), 0)

    for pair in plan:
        _join_one(sources, pair, result, values_of, merge, add, grouped)
    return result


def _join_one(
    sources: list[MashSource],
    pair: KeyPair,
    result: JoinResult,
    values_of: Callable[[int, list[Any]], dict[str, Any]],
    merge: Callable[[int, dict[str, Any], int], None],
    add: Callable[[dict[str, Any], int], int],
    grouped: Callable[[int, int], tuple[dict[Any, list[list[Any]]], list[list[Any]]]],
) -> None:
    si = pair.right_source
    index: defaultdict[Any, list[int]] = defaultdict(list)
    for position, record in enumerate(result.records):
        if record.get(pair.field) is not None:
            index[key_of(record[pair.field])].append(position)
    groups, keyless = grouped(si, pair.right_column)
    unmatched = 0
    for key, rows in groups.items():
        targets = index.get(key)
        if targets is None:
            unmatched += len(rows)
            targets = [add(values_of(si, rows[0]), si)]
            rows = rows[1:]
        for row in rows:
            values = values_of(si, row)
            for target in targets:
                merge(target, values, si)
    for row in keyless:
        add(values_of(si, row), si)
    if unmatched:
        total = len(sources[si].table.rows)
        result.issues.append(
            f"{unmatched} of {total} row(s) of {sources[si].filename} matched no record on "
            f"'{pair.field}'; kept as records of their own"
        )
