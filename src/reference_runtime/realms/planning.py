"""Planning the joins from the key candidates (`keys`).
The fact is the source from which the most others can be reached by references (the first in
content_refs order on a tie): its rows are the records' grain. Each two sources are related by
their best reference (and, when it is one-to-one, its mirror image). Sources join one at a time
onto those already joined: by the best reference from a joined source where there is one, else
by the best shared key (a reference the other way round counts as one); with neither, the mash
fails with `MashError` naming the candidates tried and why each was refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_runtime.realms.alignment import Alignment, MashError, MashSource
from reference_runtime.realms.keys import Candidate, Column, KeyIndex, find_candidates

# Candidates named in the message of a mash that found no key.
EXPLAINED_CANDIDATES = 5


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
        message += f" (and {more} more)" if more > 0 else ""
    else:
        message += (
            "no column of one has its values in a unique column of the other, and they have no "
            "identifier-like columns in common"
        )
    return message + (
        ". Add a column holding the other file's key values (such as a customer id) to one of "
        "the files, or mash them separately."
    )
