"""Turn linked items, their neighbours and attribute swaps into ranked candidates.

For "yellow school bus": colour swaps ("red school bus", kind colour), the same attributes on a
look-alike type ("yellow minibus", kind type), then the look-alike types alone ("minibus").
Nothing the caller or the ontology marks as the positive itself, a synonym or an ancestor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.ontology.linking import AttributeVocab, Parsed, pop_factor
from hardneg.miners.ontology.neighbours import Neighbour
from hardneg.miners.ontology.terms import compact_id
from hardneg.miners.types import Candidate, Kind

SOURCE = "ontology"
MAX_SWAPS_PER_ATTRIBUTE = 10
SWAP_SCORE = 0.95
ATTR_ON_TYPE = 0.95  # "yellow minibus": a look-alike type that keeps the positive's attributes
BARE_TYPE_WITH_ATTRS = 0.8  # "minibus" when the positive said "yellow school bus"


Evidence = Callable[[], dict[str, object]]  # built only for the candidates that are returned


@dataclass
class Composer:
    """Collects candidates for one positive, keeping the best score per phrase (by match key)."""

    positive: str
    excluded: set[str]  # match keys that must never come out
    found: dict[str, tuple[float, str, Kind, Evidence]]

    @classmethod
    def start(cls, positive: str, excluded: Iterable[str]) -> Composer:
        return cls(positive, {match_key(x) for x in excluded if x}, {})

    def add(self, phrase: str, kind: Kind, score: float, evidence: Evidence) -> None:
        key = match_key(phrase)
        if not key or key in self.excluded:
            return
        prior = self.found.get(key)
        if prior is None or prior[0] < score:
            self.found[key] = (score, phrase, kind, evidence)

    def ranked(self, k: int) -> list[Candidate]:
        top = sorted(self.found.values(), key=lambda c: (-c[0], c[1]))[:k]
        return [
            Candidate(
                phrase=phrase,
                for_positive=self.positive,
                source=SOURCE,
                kind=kind,
                score=round(score, 4),
                evidence=evidence(),
            )
            for score, phrase, kind, evidence in top
        ]


def swap_phrase(parsed: Parsed, surface: str, new: str) -> str:
    words = [new if s == surface else s for s, _ in parsed.attributes]
    return " ".join([*words, *parsed.modifiers, parsed.head])


def add_swaps(c: Composer, parsed: Parsed, vocab: AttributeVocab, weight: float) -> None:
    """Same head, another value of the same attribute from another group ("red school bus")."""
    head_ids = [compact_id(link.item) for link in parsed.primary()[:1]]
    for surface, value in parsed.attributes:
        for other in vocab.swaps(value)[:MAX_SWAPS_PER_ATTRIBUTE]:
            prop, attr = value.via
            path = [
                compact_id(value.group),
                prop,
                compact_id(attr),
                "^" + prop,
                compact_id(other.group),
            ]
            if value.value != value.group:
                path[:0] = [compact_id(value.value), "wdt:P279*"]
            evidence: dict[str, object] = {
                "relation": f"{value.kind} swap",
                "qids": [*head_ids, compact_id(value.value), compact_id(other.value)],
                "path": path,
            }
            score = SWAP_SCORE * weight * pop_factor(other.pop)
            phrase = swap_phrase(parsed, surface, other.label)
            c.add(phrase, Kind(value.kind), score, _constant(evidence))


def _constant(evidence: dict[str, object]) -> Evidence:
    return lambda: evidence


def add_neighbours(
    c: Composer, parsed: Parsed, neighbours: list[Neighbour], weights: dict[str, float]
) -> None:
    """Look-alike types, with the positive's attribute words when it had some. Other words
    before the head ("bottle" in "bottle opener" read as opener) are never glued onto a
    neighbour: "bottle corkscrew" is no thing."""
    prefix = " ".join(s for s, _ in parsed.attributes)
    for nb in neighbours:
        w = weights.get(nb.source, 0.0) * pop_factor(nb.pop)
        evidence = nb.evidence
        if prefix:
            c.add(f"{prefix} {nb.label}", Kind.type, nb.score * ATTR_ON_TYPE * w, evidence)
            c.add(nb.label, Kind.type, nb.score * BARE_TYPE_WITH_ATTRS * w, evidence)
        else:
            c.add(nb.label, Kind.type, nb.score * w, evidence)
