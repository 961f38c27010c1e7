"""Static knowledge of concepts: the LVIS+COCO vocabulary, WordNet 3.0 synonyms and ancestors,
and an attribute lexicon (colour / material / size / pattern).

The exclusion guard asks it what a phrase's synonyms and ancestors are; the vocabulary miner
reads its vocabulary. Everything is loaded from the files shipped in ``hardneg.miners.knowledge.data``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hardneg.miners.base import Related
from hardneg.miners.knowledge.loaders import (
    ATTRIBUTES_FILE,
    DATA_FILES,
    GRAPH_FILE,
    RELATIONS_FILE,
    VOCAB_FILE,
    AttributeLexicon,
    NounGraph,
    read_bytes,
    read_json,
)
from hardneg.miners.knowledge.normalize import match_key, normalize, tokens
from hardneg.miners.knowledge.structure import Structure
from hardneg.miners.types import Kind

__all__ = ["Knowledge", "VocabEntry"]

SNAPSHOT_PREFIX = "lvis-v1+coco2017+wn30"
# Words after which the head of a noun phrase has ended ("cup of coffee" -> "cup").
_PREPOSITIONS = frozenset({"of", "with", "on", "in", "for", "from", "at", "under", "without"})
# Common ancestors at or above this depth say nothing about likeness (artifact, organism...).
_GENERIC_DEPTH = 4


@dataclass(frozen=True)
class VocabEntry:
    """One concept of the default vocabulary (an LVIS category, or a COCO-only category)."""

    phrase: str
    synonyms: tuple[str, ...]
    synset: str | None
    lvis_id: int | None
    coco_id: int | None
    frequency: str | None
    definition: str | None
    qualifier: str | None = None  # LVIS "bow_(weapon)" -> phrase "bow", qualifier "weapon"


@dataclass(frozen=True)
class _Hit:
    """What an exact lookup found: synset ids, LVIS phrases, synset names (also unshipped)."""

    ids: tuple[int, ...]
    phrases: tuple[str, ...]
    names: tuple[str, ...]


_MEMO_SIZE = 200_000

# LVIS synonym lists audited: pairs that are not synonyms, each with its reason. An override
# removes the synonym (so the guard no longer blocks it as the positive itself).
SYNONYM_OVERRIDES: dict[tuple[str, str], str] = {
    ("plastic bag", "paper bag"): "a paper bag is another material, a good hard negative",
}


def synonym_override(phrase: str, synonym: str) -> str | None:
    """Why LVIS's ``synonym`` of ``phrase`` is not kept, or None."""
    key = (normalize(phrase), normalize(synonym))
    return SYNONYM_OVERRIDES.get(key)


class Knowledge:
    """Synonyms, ancestors and attributes of phrases, from LVIS, COCO and WordNet 3.0."""

    def __init__(
        self,
        entries: list[VocabEntry],
        graph: NounGraph,
        lexicon: AttributeLexicon,
        snapshot_id: str,
        relations: dict[str, Any] | None = None,
    ) -> None:
        self.snapshot_id = snapshot_id
        self.structure = Structure(graph, relations or _no_relations(graph))
        self._entries = entries
        self._graph = graph
        self._lexicon = lexicon
        self._related_memo: dict[str, Related] = {}
        self._ancestor_memo: dict[str, frozenset[str]] = {}
        self._vocab_index: dict[str, list[int]] = {}
        for i, e in enumerate(entries):
            forms = [e.phrase, *e.synonyms]
            if e.qualifier:
                forms.append(f"{e.phrase} ({e.qualifier})")
            for key in {match_key(f) for f in forms}:
                self._vocab_index.setdefault(key, []).append(i)

    @classmethod
    def from_data(
        cls,
        vocab: dict[str, Any],
        graph: dict[str, Any],
        attributes: dict[str, Any],
        snapshot_id: str,
        relations: dict[str, Any] | None = None,
    ) -> Knowledge:
        """Build from the parsed JSON of the data files (see miners/knowledge/data/README.md)."""
        entries = [
            VocabEntry(
                phrase=e["phrase"],
                synonyms=tuple(s for s in e["synonyms"] if not synonym_override(e["phrase"], s)),
                synset=e["synset"],
                lvis_id=e["lvis_id"],
                coco_id=e["coco_id"],
                frequency=e["frequency"],
                definition=e["definition"],
                qualifier=e["qualifier"],
            )
            for e in vocab["entries"]
        ]
        graph_ = NounGraph.from_json(graph)
        lexicon = AttributeLexicon.from_json(attributes)
        return cls(entries, graph_, lexicon, snapshot_id, relations)

    @classmethod
    def load_default(cls) -> Knowledge:
        """The shipped LVIS v1 + COCO 2017 + WordNet 3.0 knowledge (loaded once per process)."""
        return _load_default()

    def vocabulary(self) -> list[VocabEntry]:
        return list(self._entries)

    # --- lookups -------------------------------------------------------------------------------
    def _known(self, phrase: str) -> bool:
        key = match_key(phrase)
        return key in self._vocab_index or key in self._graph.lemma_index

    def _lookup(self, phrase: str) -> _Hit | None:
        """LVIS/COCO categories first (their chosen sense), else every WordNet noun sense."""
        key = match_key(phrase)
        if key in self._vocab_index:
            entries = [self._entries[i] for i in self._vocab_index[key]]
            names = tuple(sorted({e.synset for e in entries if e.synset}))
            ids = tuple(self._graph.by_name[n] for n in names if n in self._graph.by_name)
            phrases = tuple(p for e in entries for p in (e.phrase, *e.synonyms))
            return _Hit(ids, phrases, names)
        ids = self._graph.lookup(phrase)
        if not ids:
            return None
        return _Hit(ids, (), tuple(self._graph.names[i] for i in ids))

    def _from_hit(self, hit: _Hit) -> tuple[set[str], set[str]]:
        synonyms = {normalize(p) for p in hit.phrases} | self._graph.phrases(hit.ids)
        ancestors = self._graph.phrases(self._graph.ancestors(hit.ids))
        return synonyms, ancestors

    def related(self, phrase: str) -> Related:
        """Synonyms and ancestors of ``phrase`` (memoised: treat the result as read-only)."""
        memo = self._related_memo
        hit = memo.get(phrase)
        if hit is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            hit = memo[phrase] = self._related(phrase)
            hit.synonyms -= {s for s in hit.synonyms if synonym_override(phrase, s)}
        return hit

    def ancestor_keys(self, phrase: str) -> frozenset[str]:
        """match_keys of every ancestor of ``phrase`` (memoised; the guard's hot path)."""
        memo = self._ancestor_memo
        keys = memo.get(phrase)
        if keys is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            keys = memo[phrase] = frozenset(match_key(a) for a in self.related(phrase).ancestors)
        return keys

    def shared_ancestor_keys(self, phrase: str) -> frozenset[str]:
        """match_keys of the ancestors every WordNet sense of the exact phrase has: whatever
        sense LVIS chose, a "crock pot" is a cooker (LVIS files it as an earthen crock)."""
        ids = self._graph.lookup(phrase)
        if not ids:
            return frozenset()
        g = self._graph
        common = set.intersection(*(g.ancestors([i]) for i in ids))
        return frozenset(match_key(a) for a in g.phrases(common))

    def _related(self, phrase: str) -> Related:
        """Synonyms and ancestors of ``phrase``: exact match, else its head, else a known suffix.

        For "yellow school bus" (unknown as a whole) the head "school bus", its synonyms and its
        ancestors are all ancestors: a yellow school bus is a school bus.
        """
        key = match_key(phrase)
        hit = self._lookup(phrase) if key else None
        if hit is not None:
            synonyms, ancestors = self._from_hit(hit)
            evidence: dict[str, Any] = {"synsets": list(hit.names), "via": "exact"}
            if not hit.ids:  # an LVIS category WordNet 3.0 lacks (stop sign): ancestors of its head
                head = self._head_related(phrase, strip_attributes=False)
                if head is not None:
                    ancestors |= head[1]
                    evidence.update(via="exact+suffix", head=head[0], head_synsets=head[2])
            return self._finish(key, synonyms, ancestors, evidence)
        head = self._head_related(phrase, strip_attributes=True)
        if head is None:
            return Related(evidence={"synsets": [], "via": "unknown"})
        head_phrase, ancestors, names, via = head
        return self._finish(
            key, set(), ancestors, {"synsets": names, "via": via, "head": head_phrase}
        )

    @staticmethod
    def _finish(key: str, synonyms: set[str], ancestors: set[str], ev: dict[str, Any]) -> Related:
        synonyms = {s for s in synonyms if match_key(s) != key}
        ancestors = {a for a in ancestors if match_key(a) != key}
        return Related(synonyms=synonyms, ancestors=ancestors, evidence=ev)

    def _head_related(
        self, phrase: str, strip_attributes: bool
    ) -> tuple[str, set[str], list[str], str] | None:
        """(head, head + its synonyms + its ancestors, synsets, via) for the phrase's head noun."""
        for head, via in self._heads(phrase, strip_attributes):
            hit = self._lookup(head)
            if hit is not None and hit.ids:
                synonyms, ancestors = self._from_hit(hit)
                return head, {normalize(head)} | synonyms | ancestors, list(hit.names), via
        return None

    def _heads(self, phrase: str, strip_attributes: bool) -> list[tuple[str, str]]:
        """Candidate heads, most specific first: attribute-free, before a preposition, suffixes."""
        words = tokens(phrase)
        out: list[tuple[str, str]] = []
        if strip_attributes:
            attrs, head = self.split_attributes(phrase)
            if attrs and head:
                out.append((head, "head"))
                words = head.split()
        cut = next((i for i, w in enumerate(words) if i and w in _PREPOSITIONS), None)
        if cut is not None:
            out.append((" ".join(words[:cut]), "head"))
            words = words[:cut]
        out.extend((" ".join(words[i:]), "suffix") for i in range(1, len(words)))
        return out

    # --- senses, relatedness, parts (miners/knowledge/structure.py) ----------------------------
    def senses(self, phrase: str) -> tuple[int, ...]:
        """Synset ids of a phrase, the visual sense first: its LVIS synset when it is an LVIS
        category, else WordNet's senses (physical ones first, in sense-frequency order); for an
        unknown phrase, those of its head noun ("rusty bicycle" -> bicycle)."""
        hit = self._lookup(phrase) if match_key(phrase) else None
        if hit is not None and hit.ids:
            return hit.ids if hit.phrases else self.structure.order(hit.ids, normalize(phrase))
        for head, _ in self._heads(phrase, strip_attributes=True):
            hit = self._lookup(head)
            if hit is not None and hit.ids:
                return hit.ids if hit.phrases else self.structure.order(hit.ids, normalize(head))
        return ()

    def is_word(self, phrase: str) -> bool:
        """Whether the phrase is a WordNet lemma or a vocabulary phrase (as ``match_key`` reads)."""
        return self._known(phrase)

    def sense_names(self, ids: Sequence[int]) -> list[str]:
        return [self._graph.names[i] for i in ids]

    def is_physical_sense(self, name: str) -> bool:
        i = self._graph.by_name.get(name)
        return i is not None and self.structure.is_physical(i)

    def relatedness(self, positive: str, candidate: str) -> int:
        """Depth of the deepest common ancestor of the positive's visual sense and any of the
        candidate's two most likely senses (-1: either is unknown). Tortoise vs tortilla: 2."""
        return self.structure.lcs_depth(self.senses(positive)[:1], self.senses(candidate)[:2])

    def breadth(self, phrase: str) -> float:
        """How general the phrase's visual sense is (0 leaf .. 1 "entity"; 0 when unknown)."""
        first = self.senses(phrase)[:1]
        return self.structure.breadth(first[0]) if first else 0.0

    def same_lexfile(self, a: str, b: str) -> bool:
        """Whether both visual senses are filed as the same kind of thing (artifact, animal...)."""
        sa, sb = self.senses(a)[:1], self.senses(b)[:1]
        lex = self.structure.lexfile
        return bool(sa and sb) and lex[sa[0]] == lex[sb[0]]

    def parts_of(self, phrase: str) -> set[str]:
        """Phrases of the parts of the phrase's visual sense ("wheel", "roof" for a bus)."""
        return self._graph.phrases(self.structure.parts(self.senses(phrase)[:1]))

    def is_natural(self, phrase: str) -> bool:
        """Whether the phrase's visual sense is a natural kind (animal, plant, food, natural object)."""
        first = self.senses(phrase)[:1]
        return bool(first) and self.structure.is_natural(first[0])

    def attested_colours(self, phrase: str) -> set[str]:
        """Basic colours WordNet attests for the phrase's visual sense and its kinds."""
        return self.structure.attested_colours(self.senses(phrase)[:1])

    def under(self, phrase: str, synset: str) -> bool:
        """Whether the phrase's visual sense is ``synset`` or below it."""
        target = self._graph.by_name.get(synset)
        first = self.senses(phrase)[:1]
        if target is None or not first:
            return False
        return target == first[0] or target in self._graph.ancestors(first)

    def phrases_of(self, synset: str) -> set[str]:
        """Lemma phrases of a named synset (empty when the name is unknown)."""
        i = self._graph.by_name.get(synset)
        return set() if i is None else self._graph.phrases([i])

    # --- attributes ----------------------------------------------------------------------------
    def split_attributes(self, phrase: str) -> tuple[list[tuple[Kind, str]], str]:
        """Leading attribute words and the head: "yellow school bus" -> ([(colour, yellow)], ...).

        A phrase known as a whole keeps its words ("red fox" is a species, not a red fox).
        """
        words = tokens(phrase)
        attrs: list[tuple[Kind, str]] = []
        i = 0
        while len(words) - i > 1 and not self._known(" ".join(words[i:])):
            m = self._lexicon.match(words, i)
            if m is None or i + m[2] >= len(words):
                break
            attrs.append((Kind(m[0]), m[1]))
            i += m[2]
        return attrs, " ".join(words[i:])

    def canonical_attribute(self, word: str) -> dict[str, str]:
        """kind -> canonical form of an attribute word ({"colour": "gray"} for "grey")."""
        return self._lexicon.canonical(word)

    def attribute_values(self, attrs: Sequence[tuple[Kind, str]]) -> frozenset[str]:
        """Canonical attribute words, spelling variants merged ({"gray"} for "grey" or "gray")."""
        return frozenset(v for _, w in attrs for v in self._lexicon.canonical(w).values())

    def _attribute_sets(self, attrs: list[tuple[Kind, str]]) -> dict[str, set[str]]:
        """kind -> canonical attribute values, each word counted under every kind it can be."""
        out: dict[str, set[str]] = {}
        for _, word in attrs:
            for kind, canon in self._lexicon.canonical(word).items():
                out.setdefault(kind, set()).add(canon)
        return out

    def kind_of(self, positive: str, negative: str) -> Kind:
        """How ``negative`` differs from ``positive``: an attribute kind, type, or other."""
        p_attrs, p_head = self.split_attributes(positive)
        n_attrs, n_head = self.split_attributes(negative)
        p_sets, n_sets = self._attribute_sets(p_attrs), self._attribute_sets(n_attrs)
        if match_key(p_head) != match_key(n_head):
            if p_attrs and n_attrs and p_sets != n_sets:
                return Kind.other  # both the thing and its attributes differ
            return Kind.type if self._alike(p_head, n_head) else Kind.other
        differing = [k for k in self._lexicon.kind_order if p_sets.get(k) != n_sets.get(k)]
        if not differing:
            return Kind.other
        changed = {w for _, w in p_attrs} ^ {w for _, w in n_attrs}
        for kind in differing:  # the first kind every changed word can be
            if all(kind in self._lexicon.canonical(w) for w in changed):
                return Kind(kind)
        return Kind.other

    def _alike(self, a: str, b: str) -> bool:
        """False when both heads are known and share only generic ancestors (bus vs road)."""
        ha, hb = self._lookup(a), self._lookup(b)
        if ha is None or hb is None or not ha.ids or not hb.ids:
            return True
        g = self._graph
        common = (g.ancestors(ha.ids) | set(ha.ids)) & (g.ancestors(hb.ids) | set(hb.ids))
        return any(g.depth[i] > _GENERIC_DEPTH for i in common)


@lru_cache(maxsize=1)
def _load_default() -> Knowledge:
    digest = hashlib.sha256()
    for name in DATA_FILES:
        digest.update(read_bytes(name))
    snapshot = f"{SNAPSHOT_PREFIX}@{digest.hexdigest()[:8]}"
    return Knowledge.from_data(
        read_json(VOCAB_FILE),
        read_json(GRAPH_FILE),
        read_json(ATTRIBUTES_FILE),
        snapshot,
        read_json(RELATIONS_FILE),
    )


def _no_relations(graph: NounGraph) -> dict[str, Any]:
    return {"lexfile": [-1] * len(graph.names), "parts": {}, "gloss_colours": {}}
