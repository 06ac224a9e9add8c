"""Joining the sources' rows as planned (`planning`), a column at a time.
A record being joined is a position in `JoinResult.rows`: for each source, the index of its row in
that record, or -1 for none. The fact's rows start as the records, in their order.

A reference join is a left join that never multiplies or drops a record: a record gets the row
whose key its referencing column holds, or none (the reference dangles, or the record has no
value), and both are counted; referenced rows that no record names are counted, and kept as
records of their own only in a full join (`options.join: "full"`). A shared-key join is a full
outer join with multiplicity: every record pairs with every matching row of the new source,
unmatched records and rows stay records of their own, and a many-to-many join beyond
`MAX_JOINED_RECORDS` fails with `MashError` before any record is built. A record without a row of
the joining column's source takes its key from another column feeding the same field.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_runtime.realms.alignment import Alignment, MashError, MashSource
from reference_runtime.realms.keys import Column, KeyIndex
from reference_runtime.realms.planning import JoinPlan, JoinStep

# The most records a mash may have; only a many-to-many join can exceed it (rows on both sides
# repeat a key value), and building them would exhaust memory long before anyone read them.
MAX_JOINED_RECORDS = 1_000_000
# Dangling values quoted as examples in the quality report.
DANGLING_EXAMPLES = 3
NO_ROW = -1


@dataclass(frozen=True, slots=True)
class ReferenceOutcome:
    """What a reference join found: references that dangle or are missing, and referenced rows
    that no record names (`emitted` when a full join kept them as records)."""

    step: JoinStep
    dangling: int
    dangling_values: int
    examples: tuple[str, ...]
    missing: int
    unreferenced: int
    emitted: bool


@dataclass(slots=True)
class JoinResult:
    """The joined records and what happened on the way.

    `rows[si][p]` is the index of source `si`'s row in record `p`, or `NO_ROW`;
    `repeats[column]` is how many values of a shared key column occur more than once in its
    source; `references` has one outcome per reference join.
    """

    rows: list[list[int]]
    repeats: dict[Column, int] = field(default_factory=dict)
    references: list[ReferenceOutcome] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many records there are."""
        return len(self.rows[0]) if self.rows else 0

    @property
    def duplicate_keys(self) -> int:
        """Values of shared key columns occurring more than once within one source."""
        return sum(self.repeats.values())

    def add(self, si: int, row: int) -> None:
        """A record of its own for row `row` of source `si`."""
        for other, positions in enumerate(self.rows):
            positions.append(row if other == si else NO_ROW)


def join_records(
    sources: list[MashSource],
    alignment: Alignment,
    index: KeyIndex,
    plan: JoinPlan,
    *,
    full: bool = False,
    checkpoint: Callable[[], None] | None = None,
) -> JoinResult:
    """Join every source's rows as planned (see the module docstring); `checkpoint` is called
    after each join."""
    fact_rows = len(sources[plan.fact].table.rows)
    result = JoinResult(
        [
            list(range(fact_rows)) if si == plan.fact else [NO_ROW] * fact_rows
            for si in range(len(sources))
        ]
    )
    for step in plan.steps:
        if step.kind == "reference":
            _reference_join(sources, alignment, index, step, result, full)
        else:
            _shared_join(sources, alignment, index, step, result)
        if checkpoint is not None:
            checkpoint()
    return result


def _record_keys(
    alignment: Alignment, index: KeyIndex, step: JoinStep, result: JoinResult
) -> list[Any]:
    """Each record's key on the left of `step`: its row's in the left column, else (no row of
    that source) the first other column feeding the same field that has one."""
    left = step.left[0]
    row_keys = [*index.row_keys(step.left), None]  # index NO_ROW (-1) reads the None
    keys = [row_keys[row] for row in result.rows[left]]
    if NO_ROW not in result.rows[left]:
        return keys
    name = alignment.by_column[step.left].field
    others = [
        (si, [*index.row_keys((si, ci)), None])
        for (si, ci), mapping in sorted(alignment.by_column.items())
        if mapping.field == name and si not in (left, step.right[0])
    ]
    for position, row in enumerate(result.rows[left]):
        if row != NO_ROW:
            continue
        for si, other_keys in others:
            key = other_keys[result.rows[si][position]]
            if key is not None:
                keys[position] = key
                break
    return keys


def _reference_join(
    sources: list[MashSource],
    alignment: Alignment,
    index: KeyIndex,
    step: JoinStep,
    result: JoinResult,
    full: bool,
) -> None:
    left, right = step.left[0], step.right[0]
    right_keys = index.row_keys(step.right)
    by_key = {key: row for row, key in enumerate(right_keys) if key is not None}  # unique
    keys = _record_keys(alignment, index, step, result)
    get = by_key.get
    matched = [get(key, NO_ROW) for key in keys]
    result.rows[right] = matched
    raw = index.values(step.left)
    dangling_keys: set[Any] = set()
    examples: list[str] = []
    dangling = missing = 0
    for own, key, match in zip(result.rows[left], keys, matched, strict=True):
        if own == NO_ROW:
            continue
        if key is None:
            missing += 1
        elif match == NO_ROW:
            dangling += 1
            if key not in dangling_keys and len(examples) < DANGLING_EXAMPLES:
                examples.append(str(raw[own]).strip())
            dangling_keys.add(key)
    referenced = set(matched)
    unreferenced = [row for row in range(len(right_keys)) if row not in referenced]
    if full:
        for row in unreferenced:
            result.add(right, row)
    outcome = ReferenceOutcome(
        step, dangling, len(dangling_keys), tuple(examples), missing, len(unreferenced), full
    )
    result.references.append(outcome)
    result.issues.extend(_reference_issues(sources, outcome, len(right_keys)))


def _reference_issues(
    sources: list[MashSource], outcome: ReferenceOutcome, right_rows: int
) -> list[str]:
    step = outcome.step
    fact, dimension = sources[step.left[0]], sources[step.right[0]]
    column = fact.table.columns[step.left[1]]
    issues = []
    if outcome.dangling:
        quoted = ", ".join(repr(e) for e in outcome.examples)
        issues.append(
            f"{outcome.dangling:,} record(s) reference a '{column}' that {dimension.filename} "
            f"does not have ({outcome.dangling_values:,} distinct value(s), e.g. {quoted}): "
            f"kept, with the fields of {dimension.filename} empty"
        )
    if outcome.missing:
        issues.append(
            f"{outcome.missing:,} row(s) of {fact.filename} have no '{column}': kept, with the "
            f"fields of {dimension.filename} empty"
        )
    if outcome.unreferenced:
        kept = (
            "kept as records of their own (full join)"
            if outcome.emitted
            else 'counted, not emitted (options.join "full" keeps them)'
        )
        issues.append(
            f"{outcome.unreferenced:,} of {right_rows:,} row(s) of {dimension.filename} are "
            f"referenced by no record: {kept}"
        )
    return issues


def _shared_join(
    sources: list[MashSource],
    alignment: Alignment,
    index: KeyIndex,
    step: JoinStep,
    result: JoinResult,
) -> None:
    right = step.right[0]
    name = alignment.by_column[step.left].field
    right_keys = index.row_keys(step.right)
    groups: defaultdict[Any, list[int]] = defaultdict(list)
    for row, key in enumerate(right_keys):
        if key is not None:
            groups[key].append(row)
    for column in (step.left, step.right):
        _note_key_column(sources, alignment, index, column, result)
    keys = _record_keys(alignment, index, step, result)
    matched = {key for key in keys if key is not None and key in groups}
    leftover = [row for row, key in enumerate(right_keys) if key is None or key not in matched]
    size = len(leftover) + sum(len(groups[k]) if k in matched else 1 for k in keys)
    # Without a key repeating on both sides a join gives at most one record per input row; past
    # that, it multiplies rows (many-to-many), which is what the limit guards against.
    if size > MAX_JOINED_RECORDS and size > len(keys) + len(right_keys):
        raise MashError(_blow_up_message(sources, index, step, name, keys, groups, size))

    joined: list[list[int]] = [[] for _ in result.rows]
    for position, key in enumerate(keys):
        pairs = groups[key] if key in matched else (NO_ROW,)
        for row in pairs:
            for si, positions in enumerate(joined):
                positions.append(row if si == right else result.rows[si][position])
    result.rows = joined
    for row in leftover:
        result.add(right, row)

    left_counts = Counter(key for key in keys if key in matched)
    both = sum(1 for key, count in left_counts.items() if count > 1 and len(groups[key]) > 1)
    filename = sources[right].filename
    if both:
        result.issues.append(
            f"{both} value(s) of {name} repeat on both sides of the join with {filename}: "
            "every pairing of their rows is a record (many-to-many)"
        )
    unmatched = sum(len(rows) for key, rows in groups.items() if key not in matched)
    if unmatched:
        result.issues.append(
            f"{unmatched} of {len(right_keys)} row(s) of {filename} matched no record on "
            f"'{name}'; kept as records of their own"
        )


def _note_key_column(
    sources: list[MashSource],
    alignment: Alignment,
    index: KeyIndex,
    column: Column,
    result: JoinResult,
) -> None:
    # Once per shared key column: how many of its values repeat, and how many rows have none.
    if column in result.repeats:
        return
    si, ci = column
    source, name = sources[si], alignment.by_column[column].field
    keys = index.row_keys(column)
    counts = Counter(k for k in keys if k is not None)
    repeated = sum(1 for count in counts.values() if count > 1)
    result.repeats[column] = repeated
    if repeated:
        entity = source_entity(sources, alignment, si, ci)
        per = entity if entity else f"row of {source.filename}"
        values = "value" if repeated == 1 else "values"
        result.issues.append(
            f"{name} repeats in {source.filename} for {repeated} {values}: one record per {per}"
        )
    keyless = keys.count(None)
    if keyless:
        result.issues.append(
            f"{keyless} row(s) of {source.filename} have no '{source.table.columns[ci]}'; "
            "kept as records of their own"
        )


def _blow_up_message(
    sources: list[MashSource],
    index: KeyIndex,
    step: JoinStep,
    name: str,
    keys: list[Any],
    groups: dict[Any, list[int]],
    size: int,
) -> str:
    left, right = sources[step.left[0]], sources[step.right[0]]
    left_column, right_column = left.table.columns[step.left[1]], right.table.columns[step.right[1]]
    left_counts = Counter(key for key in keys if key in groups)
    worst = max(left_counts, key=lambda key: left_counts[key] * len(groups[key]))
    shown = index.values(step.right)[groups[worst][0]]  # as written, not case-folded
    repeated_left = sum(1 for count in left_counts.values() if count > 1)
    repeated_right = sum(1 for rows in groups.values() if len(rows) > 1)
    return (
        f"Joining {right.filename} on '{name}' ('{left_column}' ~ '{right_column}') would give "
        f"{size:,} records, more than the limit of {MAX_JOINED_RECORDS:,}: {repeated_left:,} "
        f"key value(s) repeat among the {len(keys):,} record(s) joined so far from "
        f"{left.filename} and {repeated_right:,} among the {len(right.table.rows):,} row(s) of "
        f"{right.filename} (the value {shown!r} alone pairs {left_counts[worst]:,} rows with "
        f"{len(groups[worst]):,}). Join on a more specific key, remove the repeated rows from "
        "one side, or mash fewer files."
    )


def source_entity(
    sources: list[MashSource], alignment: Alignment, si: int, key_column: int | None = None
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
