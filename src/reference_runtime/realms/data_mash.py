"""The data mash realm: compose tabular sources into one canonical, joined, quality-checked view.
`build_mash` aligns the columns onto the domain's canonical model (`alignment`), finds the join
keys from the columns' values (`keys`: a column whose values are contained in a unique column of
another source references it), plans the joins (`planning`: one record per row of the fact, the
source the others are reached from by references) and runs them (`joining`; shared keys join as
a full outer join), separates same-named columns of different entities into fields of their own,
and emits the records one at a time (`materialise`) with their quality counted; its result is the
`data_mash` artifact's payload, listing every key candidate considered with its containment and
uniqueness, and the chosen ones.

A record's entity is the fact's own when a reference was joined (`order` for orders referencing
customers and products), else the "many" side's own in a one-to-many shared join (the last such
join decides), else the entity the first join key identifies, else the first identifier among
the fields, else the domain's default. Quality: `completeness` is the share of records with a row
from every source, `null_density` the share of empty cells, `duplicate_keys` the values of shared
key columns repeated within a source (informative), `type_conflicts` the fields fed incompatible
types, `dangling_references` per reference join the records whose key the referenced source does
not have (and those without a key), `unreferenced_rows` per referenced source the rows no record
names; sources of one record disagreeing on a field are issues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from reference_runtime.realms.alignment import (
    CONFIDENCE_THRESHOLDS,
    Alignment,
    MashError,
    MashSource,
    align,
    separate,
)
from reference_runtime.realms.joining import JoinResult, join_records, source_entity
from reference_runtime.realms.keys import Candidate, Column, KeyIndex
from reference_runtime.realms.materialise import RecordStats, emit_all, materialise
from reference_runtime.realms.planning import JoinPlan, plan_joins
from reference_runtime.realms.vocabularies import UnknownDomain, Vocabulary, get_vocabulary

__all__ = [
    "JOIN_MODES",
    "MashError",
    "MashOptions",
    "MashSource",
    "build_mash",
    "parse_options",
]

# `left`: one record per fact row, unreferenced rows of referenced sources counted only;
# `full`: those rows are records of their own too.
JOIN_MODES = ("left", "full")
# The candidates a mash artifact lists (the chosen ones and the best of the others).
LISTED_CANDIDATES = 30
# How often, in records, building them stops at a checkpoint.
CHECKPOINT_RECORDS = 50_000


@dataclass(frozen=True, slots=True)
class MashOptions:
    """What the caller asked for: domain, confidence level, join mode and an optional name."""

    target_domain: str = "general"
    confidence_level: str = "medium"
    name: str | None = None
    join: str = "left"


def parse_options(raw: object) -> MashOptions:
    """Validate the `options` parameter, with messages naming the accepted values."""
    if raw is None:
        return MashOptions()
    if not isinstance(raw, dict):
        raise MashError("parameters.options must be an object")
    domain = raw.get("target_domain") or "general"
    level = raw.get("confidence_level") or "medium"
    name = raw.get("name")
    join = raw.get("join") or "left"
    if not isinstance(domain, str):
        raise MashError("options.target_domain must be a string")
    try:
        get_vocabulary(domain)
    except UnknownDomain as exc:
        raise MashError(str(exc)) from exc
    if level not in CONFIDENCE_THRESHOLDS:
        known = ", ".join(CONFIDENCE_THRESHOLDS)
        raise MashError(f"Unknown confidence_level {level!r}; use one of: {known}")
    if name is not None and not isinstance(name, str):
        raise MashError("options.name must be a string")
    if join not in JOIN_MODES:
        raise MashError(
            f"Unknown join {join!r}; use one of: left (one record per fact row, the default), "
            "full (rows no record references are records too)"
        )
    return MashOptions(target_domain=domain, confidence_level=level, name=name or None, join=join)


def build_mash(
    mash_id: str,
    sources: list[MashSource],
    options: MashOptions,
    emit: Callable[[dict[str, Any]], None],
    *,
    checkpoint: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Compose `sources` (at least one) into a data mash: each record is handed to `emit` as
    it is built, and the artifact payload returned; or raise `MashError` saying why not (before
    any record is emitted). `checkpoint`, when given, is called between steps and every
    `CHECKPOINT_RECORDS` records: it may raise to stop the mash there."""
    if not sources:
        raise MashError("A data mash needs at least one content ref")
    tick = checkpoint or (lambda: None)
    tick()
    vocabulary = get_vocabulary(options.target_domain)
    index = KeyIndex(sources)
    names = align(sources, vocabulary, options.confidence_level)
    tick()
    plan = plan_joins(sources, names, index)
    tick()
    alignment = separate(
        names,
        sources,
        plan.order,
        plan.groups(),
        plan.reference_keys(),
    )
    joined = join_records(
        sources, alignment, index, plan, full=options.join == "full", checkpoint=tick
    )
    records, stats = materialise(sources, alignment, index, joined)
    tick()
    emit_all(records, emit, CHECKPOINT_RECORDS, tick)
    return _payload(mash_id, sources, options, vocabulary, alignment, plan, joined, stats)


def _payload(
    mash_id: str,
    sources: list[MashSource],
    options: MashOptions,
    vocabulary: Vocabulary,
    alignment: Alignment,
    plan: JoinPlan,
    joined: JoinResult,
    stats: RecordStats,
) -> dict[str, Any]:
    def column(c: Column) -> dict[str, str]:
        return {"file_id": sources[c[0]].file_id, "column": sources[c[0]].table.columns[c[1]]}

    chosen = {id(step.candidate) for step in plan.steps}
    return {
        "mash_id": mash_id,
        "name": options.name or " + ".join(PurePath(s.filename).stem for s in sources),
        "entity": _entity(sources, alignment, plan, joined, vocabulary),
        "target_domain": options.target_domain,
        "confidence_level": options.confidence_level,
        "join": options.join,
        "fact": sources[plan.fact].file_id,
        "canonical_fields": [
            {
                "name": canonical.name,
                "type": canonical.type,
                "confidence": round(canonical.confidence, 2),
                "sources": [
                    {
                        "file_id": sources[m.source_index].file_id,
                        "column": m.column,
                        "confidence": round(m.confidence, 2),
                    }
                    for m in canonical.mappings
                ],
            }
            for canonical in alignment.fields
        ],
        "join_keys": [
            {
                "field": alignment.by_column[step.left].field,
                "kind": step.kind,
                "sources": [column(step.left), column(step.right)],
                "overlap": step.candidate.containment,
                "containment": step.candidate.containment,
                "uniqueness": step.candidate.uniqueness,
            }
            for step in plan.steps
        ],
        "join_candidates": [
            _candidate_json(c, column, id(c) in chosen)
            for c in sorted(plan.candidates, key=lambda c: id(c) not in chosen)[:LISTED_CANDIDATES]
        ],
        "row_count": stats.records,
        "quality_report": _quality(sources, alignment, plan, joined, stats, column),
        "lineage": [
            {"field": m.field, "file_id": sources[m.source_index].file_id, "column": m.column}
            for canonical in alignment.fields
            for m in canonical.mappings
        ],
    }


def _candidate_json(
    candidate: Candidate, column: Callable[[Column], dict[str, str]], chosen: bool
) -> dict[str, Any]:
    return {
        "kind": candidate.kind,
        "column": column(candidate.column),
        "references": column(candidate.references),
        "containment": candidate.containment,
        "uniqueness": candidate.uniqueness,
        "score": candidate.score,
        "chosen": chosen,
        "reason": candidate.reason
        if candidate.reason is not None or chosen
        else "another candidate joins these sources better",
    }


def _entity(
    sources: list[MashSource],
    alignment: Alignment,
    plan: JoinPlan,
    joined: JoinResult,
    vocabulary: Vocabulary,
) -> str:
    # See the module docstring.
    if any(step.kind == "reference" for step in plan.steps):
        entity = source_entity(sources, alignment, plan.fact)
        if entity:
            return entity
    for step in reversed(plan.steps):
        if step.kind != "shared":
            continue
        left_repeats = joined.repeats.get(step.left, 0) > 0
        right_repeats = joined.repeats.get(step.right, 0) > 0
        if left_repeats != right_repeats:
            many = step.right if right_repeats else step.left
            entity = source_entity(sources, alignment, many[0], many[1])
            if entity:
                return entity
            break
    if plan.steps:
        key_field = alignment.field_of(*plan.steps[0].left)
        if key_field.spec.entity:
            return key_field.spec.entity
    for canonical in alignment.fields:
        if canonical.spec.entity and canonical.spec.entity != "record":
            return canonical.spec.entity
    return vocabulary.default_entity


def _quality(
    sources: list[MashSource],
    alignment: Alignment,
    plan: JoinPlan,
    joined: JoinResult,
    stats: RecordStats,
    column: Callable[[Column], dict[str, str]],
) -> dict[str, Any]:
    cells = stats.records * len(alignment.fields)
    issues = [*alignment.issues, *joined.issues]
    for name, count in stats.conflicts.most_common():
        issues.append(
            f"Conflicting values for '{name}' in {count} record(s): the value from the earlier "
            "source (content_refs order) was kept"
        )
    referenced = {step.right[0] for step in plan.steps if step.kind == "reference"}
    if len(sources) > 1:
        for si, source in enumerate(sources):
            missing = stats.without[si]
            if missing and si not in referenced:  # references explain their own gaps
                issues.append(f"{missing} record(s) have no data from {source.filename}")
    if not stats.records:
        issues.append("The sources have no rows: the mash is empty")
    return {
        "completeness": round(stats.complete / stats.records, 4) if stats.records else 0.0,
        "null_density": round(stats.nulls / cells, 4) if cells else 0.0,
        "duplicate_keys": joined.duplicate_keys,
        "type_conflicts": alignment.type_conflicts,
        "dangling_references": [
            {
                "field": alignment.by_column[outcome.step.left].field,
                **column(outcome.step.left),
                "references": column(outcome.step.right),
                "count": outcome.dangling,
                "distinct": outcome.dangling_values,
                "missing": outcome.missing,
                "examples": list(outcome.examples),
            }
            for outcome in joined.references
        ],
        "unreferenced_rows": [
            {
                **column(outcome.step.right),
                "count": outcome.unreferenced,
                "emitted": outcome.emitted,
            }
            for outcome in joined.references
        ],
        "issues": issues,
    }
