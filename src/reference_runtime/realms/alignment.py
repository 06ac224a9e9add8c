"""Aligning the columns of several tables onto one canonical model.
A column maps onto a canonical field with a confidence: 1.0 when its normalised name is the
field's, 0.85 when it is one of the field's synonyms in the domain vocabulary, 0.8 when it is
once a prefix such as `cust_` is looked past, 0.75 * r when merely similar (difflib ratio r ≥
0.75 to the name or a synonym), multiplied by 0.6 when the field cannot hold its value type. The
confidence level decides which mappings are made (low ≥ 0.5, medium ≥ 0.7, high ≥ 0.9); within
one source a field takes at most one column, the most confident one. Unmapped columns are kept,
each as a canonical field of its own named after the column's normalised name (prefixed with the
source's file stem, as in `policies_premium`, when that name is a field the column did not map
onto), so no data is dropped; later sources can map onto such a field like onto any other. Once
the joins are planned, `separate` gives each pair of key columns one field and keeps columns of
different entities apart (a product's `status` is not an order's).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from reference_runtime.realms.tabular import ColumnProfile, Table, types_compatible, unify_types
from reference_runtime.realms.vocabularies import FieldSpec, Vocabulary

CONFIDENCE_THRESHOLDS = {"low": 0.5, "medium": 0.7, "high": 0.9}
EXACT = 1.0
SYNONYM = 0.85
PREFIXED = 0.8
FUZZY_WEIGHT = 0.75
FUZZY_MIN_RATIO = 0.75
TYPE_MISMATCH_FACTOR = 0.6

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_ID_SUFFIX = re.compile(r"^(?P<stem>[a-z0-9_]+?)_(?:id|no|num|number|key|code|ref)$")


class MashError(ValueError):
    """The sources cannot be mashed; the message says what to change."""


def normalise_name(raw: str) -> str:
    """A column name in lower snake_case: `CustomerID`, `customer-id` → `customer_id`."""
    spaced = _CAMEL_BOUNDARY.sub("_", raw.strip())
    return _NON_ALNUM.sub("_", spaced.lower()).strip("_")


def entity_of_identifier(name: str) -> str | None:
    """What an identifier-like normalised name identifies (`station_id` → `station`)."""
    match = _ID_SUFFIX.match(name)
    return match["stem"] if match else None


@dataclass(frozen=True, slots=True)
class MashSource:
    """One tabular file taking part in a mash."""

    file_id: str
    filename: str
    table: Table
    profiles: list[ColumnProfile]

    @property
    def stem(self) -> str:
        """The file name without extension, normalised (`Policies 2024.json` → `policies_2024`)."""
        return normalise_name(PurePath(self.filename).stem) or "source"


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """One source column feeding one canonical field."""

    source_index: int
    column_index: int
    column: str
    field: str
    confidence: float
    how: str  # exact, synonym, prefix, fuzzy or own


@dataclass(slots=True)
class CanonicalField:
    """A field of the canonical model and the columns feeding it."""

    spec: FieldSpec
    mappings: list[ColumnMapping] = field(default_factory=list)
    type: str = "empty"

    @property
    def name(self) -> str:
        """The field's name."""
        return self.spec.name

    @property
    def confidence(self) -> float:
        """The least confident of its mappings: the field is as trustworthy as its weakest feed."""
        return min((m.confidence for m in self.mappings), default=1.0)


@dataclass(slots=True)
class Alignment:
    """The canonical model: fields in order of first appearance, and where each column went."""

    fields: list[CanonicalField]
    by_column: dict[tuple[int, int], ColumnMapping]
    mapping_issues: list[str] = field(default_factory=list)
    type_conflicts: int = 0
    type_issues: list[str] = field(default_factory=list)

    @property
    def issues(self) -> list[str]:
        """Columns kept apart for want of confidence, then fields fed incompatible types."""
        return [*self.mapping_issues, *self.type_issues]

    def field_of(self, source_index: int, column_index: int) -> CanonicalField:
        """The canonical field a source column feeds."""
        name = self.by_column[source_index, column_index].field
        return next(f for f in self.fields if f.name == name)


def _strip_prefix(name: str, prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return None


def score(
    name: str, column_type: str, spec: FieldSpec, prefixes: tuple[str, ...]
) -> tuple[float, str]:
    """How confidently a column (normalised name, inferred type) maps onto `spec`, and why."""
    names = (spec.name, *spec.synonyms)
    stripped = _strip_prefix(name, prefixes)
    if name == spec.name:
        confidence, how = EXACT, "exact"
    elif name in spec.synonyms:
        confidence, how = SYNONYM, "synonym"
    elif stripped is not None and stripped in names:
        confidence, how = PREFIXED, "prefix"
    else:
        forms = (name,) if stripped is None else (name, stripped)
        ratio = max(difflib.SequenceMatcher(None, a, b).ratio() for a in forms for b in names)
        if ratio < FUZZY_MIN_RATIO:
            return 0.0, "none"
        confidence, how = FUZZY_WEIGHT * ratio, "fuzzy"
    if (
        spec.types
        and column_type != "empty"
        and not any(types_compatible(column_type, t) for t in spec.types)
    ):
        confidence *= TYPE_MISMATCH_FACTOR
    return round(confidence, 4), how


def _own_field_name(name: str, source: MashSource, taken: set[str], vocabulary: Vocabulary) -> str:
    if name not in taken and vocabulary.spec(name) is None:
        return name
    base = f"{source.stem}_{name}"
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}_{counter}", counter + 1
    return candidate


def align(sources: list[MashSource], vocabulary: Vocabulary, level: str) -> Alignment:
    """Map every column of every source onto a canonical field (see the module docstring)."""
    threshold = CONFIDENCE_THRESHOLDS[level]
    candidates: list[FieldSpec] = list(vocabulary.fields)
    fields: dict[str, CanonicalField] = {}
    by_column: dict[tuple[int, int], ColumnMapping] = {}
    issues: list[str] = []

    def assign(spec: FieldSpec, mapping: ColumnMapping) -> None:
        fields.setdefault(spec.name, CanonicalField(spec)).mappings.append(mapping)
        by_column[mapping.source_index, mapping.column_index] = mapping

    for si, source in enumerate(sources):
        names = [
            normalise_name(column) or f"column_{ci + 1}"
            for ci, column in enumerate(source.table.columns)
        ]
        options: list[tuple[float, int, FieldSpec, str]] = []
        rejected: dict[int, tuple[float, str]] = {}
        for ci, (name, profile) in enumerate(zip(names, source.profiles, strict=True)):
            for spec in candidates:
                confidence, how = score(name, profile.type, spec, vocabulary.prefixes)
                if confidence >= threshold:
                    options.append((confidence, ci, spec, how))
                elif confidence > rejected.get(ci, (0.0, ""))[0]:
                    rejected[ci] = (confidence, spec.name)
        options.sort(key=lambda option: (-option[0], option[1]))
        used_columns: set[int] = set()
        used_fields: set[str] = set()
        for confidence, ci, spec, how in options:
            if ci in used_columns or spec.name in used_fields:
                continue
            used_columns.add(ci)
            used_fields.add(spec.name)
            column = source.table.columns[ci]
            assign(spec, ColumnMapping(si, ci, column, spec.name, confidence, how))
        for ci, name in enumerate(names):
            if ci in used_columns:
                continue
            column = source.table.columns[ci]
            own = _own_field_name(name, source, set(fields) | used_fields, vocabulary)
            column_type = source.profiles[ci].type
            entity = entity_of_identifier(own)
            if ci in rejected:
                # `cust_id` kept apart at a high level still identifies what `customer_id` does.
                near = vocabulary.spec(rejected[ci][1])
                entity = near.entity if near is not None and near.entity else entity
            spec = FieldSpec(own, (), () if column_type == "empty" else (column_type,), entity)
            candidates.append(spec)
            used_fields.add(own)
            assign(spec, ColumnMapping(si, ci, column, own, EXACT, "own"))
            if ci in rejected:
                best, target = rejected[ci]
                issues.append(
                    f"Column '{column}' of {source.filename} kept as its own field '{own}': its "
                    f"best match, '{target}', scored {best:.2f}, below the {level} threshold "
                    f"{threshold}"
                )
    return _settle(sources, list(fields.values()), issues, list(range(len(sources))))


def separate(
    alignment: Alignment,
    sources: list[MashSource],
    order: list[int],
    groups: dict[int, int],
    keys: list[tuple[tuple[int, int], tuple[int, int]]],
) -> Alignment:
    """The alignment once the joins are known, with its fields in join order (`order`, the
    fact first).

    `keys` pairs each referencing column with the column it references, in join order: the two
    share one key field (both sources listed), the referencing column's unless only the
    referenced one maps onto a vocabulary field naming an entity, and unless the column moving
    there comes from a source already feeding that field. `groups[si]` is the entity a source's
    rows describe (a referenced source describes one of its own): a field fed by columns of
    several groups keeps the columns of the fact's group, and every other group's column
    (`status` of a product, not of an order) becomes a field of its own named after its source
    (`products_status`); key columns always stay on their field.
    """
    target = {column: alignment.by_column[column].field for column in alignment.by_column}
    specs = {f.name: f.spec for f in alignment.fields}
    exempt: set[tuple[int, int]] = set()
    for referencing, referenced in keys:
        exempt.update((referencing, referenced))
        mine, theirs = target[referencing], target[referenced]
        if mine == theirs:
            continue
        # The referencing column's name (`product_code`, not `code`) unless only the referenced
        # one is a field of the vocabulary naming an entity (`customer_id`, not `cust_id`).
        named = specs[theirs].entity not in (None, "record")
        if (
            named
            and alignment.by_column[referencing].how == "own"
            and (alignment.by_column[referenced].how != "own")
        ):
            moving, field_name = referencing, theirs
        else:
            moving, field_name = referenced, mine
        feeds_it = any(si == moving[0] and name == field_name for (si, _), name in target.items())
        if not feeds_it:
            target[moving] = field_name
    by_field: dict[str, list[tuple[int, int]]] = {}
    for column, name in target.items():
        by_field.setdefault(name, []).append(column)
    taken = set(by_field)
    fact_group = groups[order[0]]
    for name, columns in by_field.items():
        feeding = {groups[si] for si, _ in columns}
        if len(feeding) < 2:
            continue
        for column in sorted(columns):
            si = column[0]
            if column in exempt or groups[si] == fact_group:
                continue
            own, counter = f"{sources[si].stem}_{name}", 2
            while own in taken:
                own, counter = f"{sources[si].stem}_{name}_{counter}", counter + 1
            taken.add(own)
            target[column] = own
            spec = specs[name]
            specs[own] = FieldSpec(own, (), spec.types, spec.entity)
    fields: dict[str, CanonicalField] = {}
    for column in sorted(target):
        mapping = alignment.by_column[column]
        name = target[column]
        moved = ColumnMapping(
            mapping.source_index,
            mapping.column_index,
            mapping.column,
            name,
            mapping.confidence,
            mapping.how,
        )
        fields.setdefault(name, CanonicalField(specs[name])).mappings.append(moved)
    return _settle(sources, list(fields.values()), alignment.mapping_issues, order)


def _settle(
    sources: list[MashSource],
    fields: list[CanonicalField],
    mapping_issues: list[str],
    order: list[int],
) -> Alignment:
    """The alignment of `fields`: each field's type from its columns, type conflicts noted,
    fields in the order their columns appear (sources in `order`, then column by column)."""
    alignment = Alignment(fields=[], by_column={}, mapping_issues=list(mapping_issues))
    for canonical in fields:
        for mapping in canonical.mappings:
            alignment.by_column[mapping.source_index, mapping.column_index] = mapping
        types = {sources[m.source_index].profiles[m.column_index].type for m in canonical.mappings}
        canonical.type = unify_types(types)
        real = types - {"empty"}
        if canonical.type == "string" and real != {"string"} and len(real) > 1:
            alignment.type_conflicts += 1
            feeds = ", ".join(
                f"{sources[m.source_index].filename}:{m.column} is "
                f"{sources[m.source_index].profiles[m.column_index].type}"
                for m in canonical.mappings
            )
            alignment.type_issues.append(
                f"Field '{canonical.name}' has values of incompatible types ({feeds}); kept as text"
            )
    rank = {si: position for position, si in enumerate(order)}
    alignment.fields = sorted(
        fields,
        key=lambda f: min((rank[m.source_index], m.column_index) for m in f.mappings),
    )
    return alignment
