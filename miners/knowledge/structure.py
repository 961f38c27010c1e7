"""What WordNet says beyond is-a: which sense of a word is the visual one, how closely two senses
are related, the parts of a thing, and the colours a natural kind comes in.

Read from ``wordnet_relations.json.gz`` (see ``data/README.md``), with the same synset ids as the
noun graph. Every answer is a pure function of the shipped data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from hardneg.miners.knowledge.loaders import NounGraph

__all__ = ["NATURAL_LEXFILES", "PHYSICAL_LEXFILES", "Structure"]

# WordNet lexicographer files of things one can photograph (wndb lexnames).
PHYSICAL_LEXFILES = frozenset({5, 6, 8, 13, 17, 20})  # animal artifact body food object plant
# Natural kinds: they come only in the colours they really have (a purple crow is no negative).
NATURAL_LEXFILES = frozenset({5, 13, 17, 20})  # animal food object(natural) plant
PERSON_LEXFILE = 18
# Common ancestors this shallow say nothing about likeness (whole, object, artifact, organism).
GENERIC_DEPTH = 4
# Parts are inherited from ancestors this many is-a steps up (a school bus has a car's wheels).
PART_LEVELS = 5


class Structure:
    """Sense order, relatedness, parts and attested colours over the noun graph."""

    def __init__(self, graph: NounGraph, relations: dict[str, Any]) -> None:
        self.graph = graph
        self.lexfile: list[int] = relations["lexfile"]
        self._parts = {int(k): tuple(v) for k, v in relations["parts"].items()}
        self._colours = {int(k): tuple(v) for k, v in relations["gloss_colours"].items()}
        self._sense_no = [int(n.rsplit(".", 1)[1]) for n in graph.names]

    def order(self, ids: Iterable[int], word: str = "") -> tuple[int, ...]:
        """Visual senses first (physical lexicographer files, people last), then WordNet's
        sense-frequency order of ``word`` (a synset named after another lemma, "tender.n.05"
        for "cutter", has no known rank for it and comes after those named after the word)."""
        stem = word.lower().replace(" ", "_") + ".n."

        def rank(i: int) -> tuple[int, int, int]:
            lex = self.lexfile[i]
            group = 0 if lex in PHYSICAL_LEXFILES else 2 if lex == PERSON_LEXFILE else 1
            own = self.graph.names[i].startswith(stem)
            return group, 0 if own else 1, self._sense_no[i]

        return tuple(sorted(set(ids), key=rank))

    def is_physical(self, i: int) -> bool:
        return self.lexfile[i] in PHYSICAL_LEXFILES

    def is_natural(self, i: int) -> bool:
        return self.lexfile[i] in NATURAL_LEXFILES

    @cached_property
    def children(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.graph.names]
        for i, parents in enumerate(self.graph.parents):
            for p in parents:
                out[p].append(i)
        return out

    def below(self, ids: Iterable[int], limit: int = 20_000) -> set[int]:
        """Every transitive hyponym of ``ids`` (bounded: "entity" has the whole graph below)."""
        seen: set[int] = set()
        todo = [c for i in ids for c in self.children[i]]
        while todo and len(seen) < limit:
            i = todo.pop()
            if i not in seen:
                seen.add(i)
                todo.extend(self.children[i])
        return seen

    def breadth(self, i: int) -> float:
        """0 for a leaf, 1 for a sense with 20,000 kinds below it (log scale): how general."""
        memo = self.__dict__.setdefault("_breadth", {})
        if i not in memo:
            memo[i] = math.log1p(len(self.below([i], limit=20_000))) / math.log1p(20_000)
        return float(memo[i])

    def lcs_depth(self, a: Iterable[int], b: Iterable[int]) -> int:
        """Depth of the deepest common ancestor (or self) of any sense in ``a`` and in ``b``;
        -1 when either side is empty. 0-4 is generic (entity ... artifact), 8+ is close kin."""
        a, b = list(a), list(b)
        if not a or not b:
            return -1
        g = self.graph
        common = (g.ancestors(a) | set(a)) & (g.ancestors(b) | set(b))
        return max((g.depth[i] for i in common), default=0)

    def parts(self, ids: Iterable[int]) -> set[int]:
        """Part meronyms of ``ids`` and of their specific ancestors up to PART_LEVELS steps
        (a school bus has a wheeled vehicle's wheels)."""
        g = self.graph
        level = set(ids)
        wholes = set(level)
        for _ in range(PART_LEVELS):
            level = {p for i in level for p in g.parents[i] if g.depth[p] > GENERIC_DEPTH + 1}
            wholes |= level
        # Direct parts only: what lies below a part is not always one (below a bird's flesh
        # lies goose meat, below the material glass "water glass" the chemical).
        return {p for w in wholes for p in self._parts.get(w, ())}

    def attested_colours(self, ids: Iterable[int]) -> set[str]:
        """Basic colours named in the glosses of ``ids`` and of their hyponyms ("black swan":
        swans come in white and black) or in their hyponyms' names ("brown bear")."""
        ids = set(ids)
        scope = ids | self.below(ids, limit=5_000)
        found = {c for i in scope for c in self._colours.get(i, ())}
        for i in scope:
            for lemma in self.graph.lemmas[i]:
                first = lemma.lower().replace("_", " ").split(" ", 1)[0]
                if first in _LEMMA_COLOURS:
                    found.add(_LEMMA_COLOURS[first])
        return found


_LEMMA_COLOURS = {
    "black": "black", "white": "white", "red": "red", "green": "green", "yellow": "yellow",
    "blue": "blue", "brown": "brown", "orange": "orange", "pink": "pink", "purple": "purple",
    "gray": "gray", "grey": "gray", "silver": "silver", "golden": "gold", "gold": "gold",
}  # fmt: skip
