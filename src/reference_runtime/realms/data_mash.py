"""The data mash realm: compose tabular sources into one canonical, joined, quality-checked view.
`build_mash` aligns the columns onto the domain's canonical model (`alignment`), finds the join
keys from value overlap and joins the records (`joining`: one record per joined pair of rows, no
accepted row dropped or merged), then reports quality and lineage; its payload is the
`data_mash` artifact's, the records are stored beside it by `mash_id`. A record's entity is the
"many" side's own in a one-to-many join (`policy` for customers + policies; the last such join
decides), else the entity the first join key identifies, else the first identifier among the
fields, else the domain's default. Quality: `completeness` is the share of records with a row
from every source, `null_density` the share of empty cells, `duplicate_keys` the key values
repeated within a source (informative), `type_conflicts` the fields fed incompatible types;
sources of one record disagreeing on a field are issues.
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
)
from reference_runtime.realms.joining import (
    JoinResult,
    KeyPair,
    join_records,
    plan_joins,
    source_entity,
)
from reference_runtime.realms.vocabularies import UnknownDomain, Vocabulary, get_vocabulary

__all__ = ["MashError", "MashOptions", "MashOutcome", "MashSource", "build_mash", "parse_options"]


@dataclass(frozen=True, slots=True)
class MashOptions:
    """What the caller asked for: domain, confidence level and an optional name."""

    target_domain: str = "general"
    confidence_level: str = "medium"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MashOutcome:
    """The artifact payload and the joined records."""

    payload: dict[str, Any]
    records: list[dict[str, Any]]


def parse_options(raw: object) -> MashOptions:
    """Validate the `options` parameter, with messages naming the accepted values."""
    if raw is None:
        return MashOptions()
    if not isinstance(raw, dict):
        raise MashError("parameters.options must be an object")
    domain = raw.get("target_domain") or "general"
    level = raw.get("confidence_level") or "medium"
    name = raw.get("name")
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
    return MashOptions(target_domain=domain, confidence_level=level, name=name or None)


def _entity(
    sources: list[MashSource],
    alignment: Alignment,
    plan: list[KeyPair],
    joined: JoinResult,
    vocabulary: Vocabulary,
) -> str:
    # See the module docstring.
    for pair in reversed(plan):
        left_repeats = joined.repeats.get((pair.left_source, pair.left_column), 0) > 0
        right_repeats = joined.repeats.get((pair.right_source, pair.right_column), 0) > 0
        if left_repeats != right_repeats:
            many, column = (
                (pair.right_source, pair.right_column)
                if right_repeats
                else (pair.left_source, pair.left_column)
            )
            entity = source_entity(sources, alignment, many, column)
            if entity:
                return entity
            break
    if plan:
        key_field = next(f for f in alignment.fields if f.name == plan[0].field)
        if key_field.spec.entity:
            return key_field.spec.entity
    for canonical in alignment.fields:
        if canonical.spec.entity and canonical.spec.entity != "record":
            return canonical.spec.entity
    return vocabulary.default_entity


def _quality(sources: list[MashSource], alignment: Alignment, joined: JoinResult) -> dict[str, Any]:
    records, names = joined.records, [f.name for f in alignment.fields]
    cells = len(records) * len(names)
    nulls = sum(1 for record in records for name in names if record.get(name) is None)
    complete = sum(1 for origin in joined.origins if len(origin) == len(sources))
    issues = [*alignment.issues, *joined.issues]
    for name, count in joined.conflicts.most_common():
        issues.append(
            f"Conflicting values for '{name}' in {count} record(s): the value from the earlier "
            "source (content_refs order) was kept"
        )
    if len(sources) > 1:
        for si, source in enumerate(sources):
            missing = sum(1 for origin in joined.origins if si not in origin)
            if missing:
                issues.append(f"{missing} record(s) have no data from {source.filename}")
    if not records:
        issues.append("The sources have no rows: the mash is empty")
    return {
        "completeness": round(complete / len(records), 4) if records else 0.0,
        "null_density": round(nulls / cells, 4) if cells else 0.0,
        "duplicate_keys": joined.duplicate_keys,
        "type_conflicts": alignment.type_conflicts,
        "issues": issues,
    }


def _no_checkpoint() -> None:
    return None


def build_mash(
    mash_id: str,
    sources: list[MashSource],
    options: MashOptions,
    checkpoint: Callable[[], None] = _no_checkpoint,
) -> MashOutcome:
    """Compose `sources` (at least one) into a data mash, or raise `MashError` saying why not.

    `checkpoint` runs between the stages (aligning, planning the joins, joining, reporting):
    the safe points where a cancelled execution stops (it raises)."""
    if not sources:
        raise MashError("A data mash needs at least one content ref")
    vocabulary = get_vocabulary(options.target_domain)
    checkpoint()
    alignment = align(sources, vocabulary, options.confidence_level)
    checkpoint()
    plan = plan_joins(sources, alignment)
    checkpoint()
    joined = join_records(sources, alignment, plan)
    checkpoint()
    names = [f.name for f in alignment.fields]
    records = [{name: record.get(name) for name in names} for record in joined.records]
    file_of = [source.file_id for source in sources]
    payload = {
        "mash_id": mash_id,
        "name": options.name or " + ".join(PurePath(s.filename).stem for s in sources),
        "entity": _entity(sources, alignment, plan, joined, vocabulary),
        "target_domain": options.target_domain,
        "confidence_level": options.confidence_level,
        "canonical_fields": [
            {
                "name": canonical.name,
                "type": canonical.type,
                "confidence": round(canonical.confidence, 2),
                "sources": [
                    {
                        "file_id": file_of[m.source_index],
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
                "field": pair.field,
                "sources": [
                    {
                        "file_id": file_of[pair.left_source],
                        "column": sources[pair.left_source].table.columns[pair.left_column],
                    },
                    {
                        "file_id": file_of[pair.right_source],
                        "column": sources[pair.right_source].table.columns[pair.right_column],
                    },
                ],
                "overlap": round(pair.overlap, 4),
            }
            for pair in plan
        ],
        "row_count": len(records),
        "quality_report": _quality(sources, alignment, joined),
        "lineage": [
            {"field": m.field, "file_id": file_of[m.source_index], "column": m.column}
            for canonical in alignment.fields
            for m in canonical.mappings
        ],
    }
    return MashOutcome(payload=payload, records=records)
