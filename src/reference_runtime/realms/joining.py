"""Planning the joins from the key candidates (`keys`), and joining the sources' rows.
The fact is the source from which the most others can be reached by references (the first in
content_refs order on a tie): its rows are the records' grain. Sources join one at a time onto
those already joined: by the best reference from a joined source where there is one, else by the
best shared key (a reference the other way round counts as one); with neither, the mash fails
with `MashError` naming the candidates tried and why each was refused.

A reference join is a left join that never multiplies or drops a record: a record gets the row
whose key its referencing column holds, or none (the reference dangles, or the record has no
value), and both are counted; referenced rows that no record names are counted, and kept as
records of their own only in a full join (`options.join: "full"`). A shared-key join is a full
outer join with multiplicity: every record pairs with every matching row of the new source,
unmatched records and rows stay records of their own, and a many-to-many join beyond
`MAX_JOINED_RECORDS` fails with `MashError` before any record is built.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_runtime.realms.alignment import Alignment, MashError, MashSource
from reference_runtime.realms.keys import Candidate, Column, KeyIndex, Row, find_candidates

# The most records a mash may have; only a many-to-many join can exceed it (rows on both sides
# repeat a key value), and building them would exhaust memory long before anyone read them.
MAX_JOINED_RECORDS = 1_000_000
# Dangling values quoted as examples in the quality report.
DANGLING_EXAMPLES = 3
# Candidates named in the message of a mash that found no key.
EXPLAINED_CANDIDATES = 5

# A record being joined: one row (or None, no row) per source, in content_refs order.
Partial = list[Row | None]


@dataclass(frozen=True, slots=True)
class JoinStep:
    """One source brought in: `right` (its column) joins `left` (a joined source's column)."""

    kind: str  # "reference" (left references right) or "shared"
    left: Column
    right: Column
    candidate: Candidate


@dataclass(slots=True)
class JoinPlan:
    """The fact, the joins in order, and every candidate considered."""

    fact: int
    steps: list[JoinStep]
    candidates: list[Candidate]

    @property
    def order(self) -> list[int]:
        """The sources in the order they join, the fact first."""
        return [self.fact, *(step.right[0] for step in self.steps)]

    def groups(self) -> dict[int, int]:
        """Which entity each source's rows describe: a referenced source one of its own, a
        source joined on a shared key that of its partner."""
        groups = {self.fact: self.fact}
        for step in self.steps:
            si = step.right[0]
            groups[si] = si if step.kind == "reference" else groups[step.left[0]]
        return groups

    def reference_keys(self) -> list[tuple[Column, Column]]:
        """(referencing, referenced) column of each reference join, in join order."""
        return [(s.left, s.right) for s in self.steps if s.kind == "reference"]


def plan_joins(sources: list[MashSource], alignment: Alignment, index: KeyIndex) -> JoinPlan:
    """The fact and the joins bringing in every other source, or `MashError` saying why not."""
    candidates = find_candidates(sources, alignment, index)
    references = _best_references(candidates)
    fact = max(range(len(sources)), key=lambda si: (len(_reach(si, references)), -si))
    joined, steps = [fact], []
    remaining = [si for si in range(len(sources)) if si != fact]
    while remaining:
        step = _next_step(candidates, references, joined, remaining)
        if step is None:
            raise MashError(_no_key_message(sources, candidates, joined, remaining))
        steps.append(step)
        joined.append(step.right[0])
        remaining.remove(step.right[0])
    return JoinPlan(fact, steps, candidates)


def _best_references(candidates: list[Candidate]) -> list[Candidate]:
    """The references relating each two sources: the best accepted one (a many-to-one one, whose
    referencing column repeats, before a one-to-one one of the same score; then the one from
    the earlier source) and, when it is one-to-one, its mirror image, so that either source can
    reach the other."""
    accepted = [c for c in candidates if c.kind == "reference" and c.accepted]
    best: dict[frozenset[int], Candidate] = {}
    for c in accepted:
        pair = frozenset(c.sources)
        current = best.get(pair)
        if current is None or _rank(c) > _rank(current):
            best[pair] = c
    chosen = list(best.values())
    mirrors = [
        c
        for c in accepted
        for b in best.values()
        if not b.many_to_one and (c.column, c.references) == (b.references, b.column)
    ]
    return chosen + mirrors


def _rank(c: Candidate) -> tuple[float, bool, int]:
    return c.score, c.many_to_one, -c.column[0]


def _reach(start: int, references: list[Candidate]) -> set[int]:
    seen, frontier = {start}, [start]
    while frontier:
        si = frontier.pop()
        for c in references:
            if c.column[0] == si and c.references[0] not in seen:
                seen.add(c.references[0])
                frontier.append(c.references[0])
    return seen


def _next_step(
    candidates: list[Candidate],
    references: list[Candidate],
    joined: list[int],
    remaining: list[int],
) -> JoinStep | None:
    options: list[JoinStep] = []
    for c in references:
        a, b = c.sources
        if a in joined and b in remaining:
            options.append(JoinStep("reference", c.column, c.references, c))
    if not options:
        for c in candidates:
            a, b = c.sources
            if c.accepted and a in remaining and b in joined:
                options.append(JoinStep("shared", c.references, c.column, c))
            elif c.accepted and c.kind == "shared" and a in joined and b in remaining:
                options.append(JoinStep("shared", c.column, c.references, c))
    if not options:
        return None
    return max(options, key=lambda s: (s.candidate.score, -s.right[0]))


def _no_key_message(
    sources: list[MashSource], candidates: list[Candidate], joined: list[int], remaining: list[int]
) -> str:
    left = ", ".join(sources[i].filename for i in joined)
    right = ", ".join(sources[i].filename for i in remaining)
    message = f"No join key found between {left} and {right}: "
    tried = [
        c
        for c in candidates
        if (c.sources[0] in joined and c.sources[1] in remaining)
        or (c.sources[1] in joined and c.sources[0] in remaining)
    ]
    if tried:
        reasons = "; ".join(str(c.reason) for c in tried[:EXPLAINED_CANDIDATES])
        more = len(tried) - EXPLAINED_CANDIDATES
        message += f"tried {len(tried)} candidate(s): {reasons}"
        message += f" (and {more} more, listed nowhere else)" if more > 0 else ""
    else:
        message += (
            "no column of one has its values in a unique column of the other, and they have no "
            "identifier-like columns in common"
        )
    return message + (
        ". Add a column holding the other file's key values (such as a customer id) to one of "
        "the files, or mash them separately."
    )


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
    """The joined partial records and what happened on the way.

    `repeats[column]` is how many values of a shared key column occur more than once in its
    source; `references` has one outcome per reference join.
    """

    partials: list[Partial]
    repeats: dict[Column, int] = field(default_factory=dict)
    references: list[ReferenceOutcome] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    @property
    def duplicate_keys(self) -> int:
        """Values of shared key columns occurring more than once within one source."""
        return sum(self.repeats.values())


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
    width = len(sources)
    partials: list[Partial] = []
    for row in sources[plan.fact].table.rows:
        partial: Partial = [None] * width
        partial[plan.fact] = row
        partials.append(partial)
    result = JoinResult(partials)
    for step in plan.steps:
        if step.kind == "reference":
            _reference_join(sources, alignment, index, step, result, full)
        else:
            _shared_join(sources, alignment, index, step, result)
        if checkpoint is not None:
            checkpoint()
    return result


def _fallback_keys(
    alignment: Alignment, index: KeyIndex, step: JoinStep
) -> list[tuple[int, Callable[[Row], Any]]]:
    """For a record without a row of the left source: the other columns feeding its field."""
    name = alignment.by_column[step.left].field
    return [
        (si, index.getter((si, ci)))
        for (si, ci), mapping in sorted(alignment.by_column.items())
        if mapping.field == name and si not in (step.left[0], step.right[0])
    ]


def _key_of(
    partial: Partial,
    left: int,
    key: Callable[[Row], Any],
    fallbacks: list[tuple[int, Callable[[Row], Any]]],
) -> Any:
    row = partial[left]
    if row is not None:
        return key(row)
    for si, other in fallbacks:
        row = partial[si]
        if row is not None:
            value = other(row)
            if value is not None:
                return value
    return None


def _reference_join(
    sources: list[MashSource],
    alignment: Alignment,
    index: KeyIndex,
    step: JoinStep,
    result: JoinResult,
    full: bool,
) -> None:
    (left, left_ci), (right, _) = step.left, step.right
    right_rows = sources[right].table.rows
    right_key, left_key = index.getter(step.right), index.getter(step.left)
    by_key = {}
    for row in right_rows:
        key = right_key(row)
        if key is not None:
            by_key[key] = row  # unique: that is what made it a reference
    fallbacks = _fallback_keys(alignment, index, step)
    referenced: set[Any] = set()
    dangling_keys: set[Any] = set()
    examples: list[str] = []
    dangling = missing = 0
    for partial in result.partials:
        key = _key_of(partial, left, left_key, fallbacks)
        own_row = partial[left]
        if key is None:
            missing += own_row is not None
            continue
        match = by_key.get(key)
        if match is None:
            if own_row is not None:
                dangling += 1
                if key not in dangling_keys and len(examples) < DANGLING_EXAMPLES:
                    examples.append(str(own_row[left_ci]).strip())
                dangling_keys.add(key)
            continue
        partial[right] = match
        referenced.add(key)
    unreferenced = [row for row in right_rows if right_key(row) not in referenced]
    if full:
        for row in unreferenced:
            alone: Partial = [None] * len(sources)
            alone[right] = row
            result.partials.append(alone)
    outcome = ReferenceOutcome(
        step, dangling, len(dangling_keys), tuple(examples), missing, len(unreferenced), full
    )
    result.references.append(outcome)
    result.issues.extend(_reference_issues(sources, outcome, len(right_rows)))


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
    left, right = step.left[0], step.right[0]
    name = alignment.by_column[step.left].field
    right_rows = sources[right].table.rows
    right_key, left_key = index.getter(step.right), index.getter(step.left)
    right_keys = [right_key(row) for row in right_rows]
    groups: defaultdict[Any, list[Row]] = defaultdict(list)
    for key, row in zip(right_keys, right_rows, strict=True):
        if key is not None:
            groups[key].append(row)
    for column, getter in ((step.left, left_key), (step.right, right_key)):
        _note_key_column(sources, alignment, column, getter, result)
    fallbacks = _fallback_keys(alignment, index, step)
    partials = result.partials
    keys = [_key_of(partial, left, left_key, fallbacks) for partial in partials]
    matched = {key for key in keys if key is not None and key in groups}
    leftover = [
        row
        for key, row in zip(right_keys, right_rows, strict=True)
        if key is None or key not in matched
    ]
    size = len(leftover) + sum(len(groups[k]) if k in matched else 1 for k in keys)
    # Without a key repeating on both sides a join gives at most one record per input row; past
    # that, it multiplies rows (many-to-many), which is what the limit guards against.
    if size > MAX_JOINED_RECORDS and size > len(partials) + len(right_rows):
        raise MashError(_blow_up_message(sources, step, name, keys, groups, size))

    joined: list[Partial] = []
    for partial, key in zip(partials, keys, strict=True):
        if key not in matched:
            joined.append(partial)
            continue
        for row in groups[key]:
            pairing = partial.copy()
            pairing[right] = row
            joined.append(pairing)
    for row in leftover:
        alone: Partial = [None] * len(sources)
        alone[right] = row
        joined.append(alone)
    result.partials = joined

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
            f"{unmatched} of {len(right_rows)} row(s) of {filename} matched no record on "
            f"'{name}'; kept as records of their own"
        )


def _note_key_column(
    sources: list[MashSource],
    alignment: Alignment,
    column: Column,
    key: Callable[[Row], Any],
    result: JoinResult,
) -> None:
    # Once per shared key column: how many of its values repeat, and how many rows have none.
    if column in result.repeats:
        return
    si, ci = column
    source, name = sources[si], alignment.by_column[column].field
    keys = [key(row) for row in source.table.rows]
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
    step: JoinStep,
    name: str,
    keys: list[Any],
    groups: dict[Any, list[Row]],
    size: int,
) -> str:
    left, right = sources[step.left[0]], sources[step.right[0]]
    left_column, right_column = left.table.columns[step.left[1]], right.table.columns[step.right[1]]
    left_counts = Counter(key for key in keys if key in groups)
    worst = max(left_counts, key=lambda key: left_counts[key] * len(groups[key]))
    shown = groups[worst][0][step.right[1]]  # as written, not case-folded
    repeated_left = sum(1 for count in left_counts.values() if count > 1)
    repeated_right = sum(1 for rows in groups.values() if len(rows) > 1)
    return (
        f"Joining {right.filename} on '{name}' ('{left_column}' ~ '{right_column}') would give "
        f"{size:,} records, more than the limit of {MAX_JOINED_RECORDS:,}: {repeated_left:,} key "
        f"value(s) repeat among the {len(keys):,} record(s) joined so far from {left.filename} "
        f"and {repeated_right:,} among the {len(right.table.rows):,} row(s) of {right.filename} "
        f"(the value {shown!r} alone pairs {left_counts[worst]:,} rows with "
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
