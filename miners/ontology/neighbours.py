"""Look-alike types from the class graph: siblings, leaf uncles, cousins, second cousins.

SAM 3's ontology-driven negatives are sibling, cousin and uncle nodes of the positive. Each level
is one ``.rq`` query over all linked items at once; every candidate keeps its relation path
(item ids and properties) as evidence. Broad uncles ("vehicle" next to "public transport") are
left out: an uncle must be a leaf, and cousins stay in the positive's generation.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardneg.miners.ontology import queries
from hardneg.miners.ontology.linking import popularity
from hardneg.miners.ontology.sparql import Bindings
from hardneg.miners.ontology.terms import P279, WDT, compact_id

UP = "?up"  # the first step up (P279 for a class, P31 for an instance) and the last step down


@dataclass(frozen=True)
class Level:
    query: str
    relation: str
    score: float
    steps: tuple[tuple[str, str, bool], ...]  # (node var, property, forward?) from ?item on


LEVELS: tuple[Level, ...] = (
    Level("siblings", "sibling", 1.0, (("n1", UP, True), ("cand", UP, False))),
    Level("uncles", "uncle", 0.65, (("n1", UP, True), ("n2", P279, True), ("cand", P279, False))),
    Level(
        "cousins",
        "cousin",
        0.7,
        (("n1", UP, True), ("n2", P279, True), ("m1", P279, False), ("cand", UP, False)),
    ),
    Level(
        "second_cousins",
        "second cousin",
        0.5,
        (
            ("n1", UP, True),
            ("n2", P279, True),
            ("n3", P279, True),
            ("m2", P279, False),
            ("m1", P279, False),
            ("cand", UP, False),
        ),
    ),
    Level(
        "wider",
        "wider family",
        0.35,
        (("n1", UP, True), ("n2", P279, True), ("n3", P279, True), ("cand", P279 + "+", False)),
    ),
    Level(
        "widest",
        "wider family",
        0.25,
        (
            ("n1", UP, True),
            ("n2", P279, True),
            ("n3", P279, True),
            ("n4", P279, True),
            ("cand", P279 + "+", False),
        ),
    ),
)


@dataclass(frozen=True)
class Neighbour:
    """A type related to a linked item; the path is built only for candidates that are kept."""

    item: str  # IRI
    label: str
    relation: str
    score: float
    pop: int
    source: str  # the linked item it was reached from
    level: Level
    row: dict[str, str]

    @property
    def nodes(self) -> list[str]:
        return [self.row["item"], *(self.row[var] for var, _, _ in self.level.steps)]

    @property
    def path(self) -> list[str]:
        out = [compact_id(self.row["item"])]
        for var, prop, forward in self.level.steps:
            out += [
                _prop(self.row["up"] if prop == UP else prop, forward),
                compact_id(self.row[var]),
            ]
        return out

    def evidence(self) -> dict[str, object]:
        path = self.path
        return {"relation": self.relation, "qids": path[::2], "path": path}


def _prop(iri: str, forward: bool) -> str:
    short = "wdt:" + iri.rsplit("/", 1)[-1] if iri.startswith(WDT) else iri
    return short if forward else "^" + short


_ORDER = ("item", "n1", "n2", "n3", "n4", "m2", "m1")


def neighbours_from_rows(level: Level, rows: Bindings) -> list[Neighbour]:
    """One neighbour per candidate item: the row with the smallest path (stable on any engine)."""
    best: dict[str, dict[str, str]] = {}
    for r in rows:
        prior = best.get(r["cand"])
        if prior is None or [r.get(v, "") for v in _ORDER] < [prior.get(v, "") for v in _ORDER]:
            best[r["cand"]] = r
    return [
        Neighbour(c, r["label"], level.relation, level.score, popularity(r), r["item"], level, r)
        for c, r in sorted(best.items())
    ]


def level_query(level: Level, items: list[str]) -> str:
    return queries.render(level.query, items=[queries.iri(i) for i in items])
