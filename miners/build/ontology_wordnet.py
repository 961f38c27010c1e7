"""Build the offline ontology snapshot from WordNet 3.0, in Wikidata's vocabulary.

Every noun synset below ``physical_entity.n.01`` (plus the colour and pattern subtrees and the
size adjectives) becomes an item: hypernymy -> ``wdt:P279``, instance hypernymy -> ``wdt:P31``,
lemmas -> ``rdfs:label``/``skos:altLabel`` @en. A synset gets its real Wikidata QID when the
WordNet 3.1 -> Wikidata map (P8814) has one, reached from 3.0 through sense keys; otherwise it
lives under ``http://hardneg.dev/wn30/``. Attribute vocabularies (colour, size, material,
pattern) are declared as groups of items in the graph, so the miner reads them from there.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hardneg.miners.build import curated
from hardneg.miners.ontology.snapshot import Provenance, write_snapshot
from hardneg.miners.ontology.terms import (
    HN_ATTR,
    HNP,
    P31,
    P279,
    RDFS_LABEL,
    SKOS_ALT,
    WD,
    nt_int,
    nt_iri,
    nt_literal,
    wn30_iri,
)
from hardneg.miners.build.wordnet import (
    ATTRIBUTE,
    HYPERNYM,
    INSTANCE_HYPERNYM,
    SIMILAR,
    WordNetDict,
    WordNetFormatError,
)

SCRIPT_VERSION = "1"
PHYSICAL_ROOT = "physical_entity.n.01"
COLOUR_PARENTS = ("chromatic_color.n.01", "achromatic_color.n.01")
EXTRA_SUBTREES = ("color.n.01", "design.n.04")  # abstract, but colour/pattern values live there
SIZE_ATTRIBUTE = "size.n.01"
PATTERN_ROOTS = ("design.n.04", "fabric.n.01")
# Pattern words that are adjectives in WordNet, mapped onto the pattern noun they describe.
PATTERN_NOUNS: dict[str, str] = {
    "striped": "stripe.n.05", "stripy": "stripe.n.05", "checked": "check.n.10",
    "checkered": "check.n.10", "chequered": "check.n.10", "dotted": "polka_dot.n.01",
    "polka dotted": "polka_dot.n.01", "plaid": "tartan.n.01", "houndstooth": "houndstooth_check.n.01",
}  # fmt: skip
WIKIDATA_MAP = "wordnet31_wikidata.json"


@dataclass
class Nouns:
    """WordNet 3.0 nouns with what the builder derives from them."""

    wn: WordNetDict
    names: dict[int, str]
    by_name: dict[str, int]
    senses: dict[str, list[int]]
    tags: dict[int, int]
    parents: dict[int, list[tuple[str, int]]]  # offset -> [(P279|P31, parent offset)]
    children: dict[int, list[int]]

    @classmethod
    def read(cls, wn: WordNetDict) -> Nouns:
        synsets = wn.synsets("n")
        names = wn.noun_names()
        parents: dict[int, list[tuple[str, int]]] = defaultdict(list)
        children: dict[int, list[int]] = defaultdict(list)
        for off, s in synsets.items():
            for sym, prop in ((HYPERNYM, P279), (INSTANCE_HYPERNYM, P31)):
                for parent in s.targets(sym):
                    parents[off].append((prop, parent))
                    children[parent].append(off)
        by_name = {v: k for k, v in names.items()}
        for child_name, parent_name, _why in curated.HYPERNYM_PATCHES:  # the guard has them too
            if child_name in by_name and parent_name in by_name:
                parents[by_name[child_name]].append((P279, by_name[parent_name]))
                children[by_name[parent_name]].append(by_name[child_name])
        tags = wn.sense_index("n").tag_count
        return cls(wn, names, by_name, wn.noun_senses(), tags, parents, children)

    def subtree(self, name: str) -> set[int]:
        """The synset and everything below it (nothing when this WordNet lacks the name)."""
        todo, seen = ([self.by_name[name]] if name in self.by_name else []), set()
        while todo:
            off = todo.pop()
            if off not in seen:
                seen.add(off)
                todo.extend(self.children.get(off, ()))
        return seen

    def with_ancestors(self, offsets: Iterable[int]) -> set[int]:
        todo, seen = list(offsets), set()
        while todo:
            off = todo.pop()
            if off not in seen:
                seen.add(off)
                todo.extend(p for _, p in self.parents.get(off, ()))
        return seen

    def sense_under(self, word: str, roots: set[int]) -> int | None:
        """The first noun sense of ``word`` that lies in ``roots`` (a set of offsets)."""
        for off in self.senses.get(word.replace(" ", "_").lower(), []):
            if off in roots:
                return off
        return None


def map_qids(nouns: Nouns, wn31: WordNetDict, wikidata: dict[str, dict]) -> dict[int, dict]:
    """WordNet 3.0 offset -> Wikidata entry, through sense keys; each QID given to one synset."""
    keys30 = nouns.wn.sense_index("n").offset_to_keys
    key31 = wn31.sense_index("n").key_to_offset
    claims: dict[str, list[int]] = defaultdict(list)
    entry_of: dict[int, dict] = {}
    for off in nouns.names:
        votes = Counter(key31[k] for k in keys30.get(off, []) if k in key31)
        if not votes:
            continue
        off31 = min(votes, key=lambda o: (-votes[o], o))
        entry = wikidata.get(f"{off31:08d}-n")
        if entry:
            entry_of[off] = entry
            claims[entry["qid"]].append(off)
    owner: dict[int, dict] = {}
    for offs in claims.values():
        # Several synsets map to one item: the one naming it (label match), else the most used.
        label = entry_of[offs[0]]["label"].lower().replace(" ", "_")
        named = [o for o in offs if label in (x.lower() for x in nouns.wn.synsets("n")[o].lemmas)]
        best = min(named or offs, key=lambda o: (-nouns.tags.get(o, 0), o))
        owner[best] = entry_of[best]
    return owner


def _label_lines(iri: str, lemmas: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    s, out, seen = nt_iri(iri), [], set()
    for i, text in enumerate([*(x.replace("_", " ") for x in lemmas), *extra]):
        if text.lower() in seen or not text.strip():
            continue
        seen.add(text.lower())
        prop = RDFS_LABEL if i == 0 else SKOS_ALT
        out.append(f"{s} {nt_iri(prop)} {nt_literal(text, lang='en')} .")
    return out


class Builder:
    """Collects the N-Triples lines of the snapshot."""

    def __init__(self, nouns: Nouns, adjectives: WordNetDict, qids: dict[int, dict]) -> None:
        self.nouns, self.adj, self.qids = nouns, adjectives, qids
        self.lines: list[str] = []

    def iri(self, off: int) -> str:
        entry = self.qids.get(off)
        return WD + entry["qid"] if entry else wn30_iri(off)

    def add_nouns(self, offsets: set[int]) -> None:
        synsets = self.nouns.wn.synsets("n")
        for off in sorted(offsets):
            s, iri = synsets[off], self.iri(off)
            entry = self.qids.get(off)
            extra = [entry["label"], *entry.get("aliases", [])] if entry else []
            self.lines += _label_lines(iri, s.lemmas, extra)
            for prop, parent in self.nouns.parents.get(off, ()):
                if parent in offsets:
                    self.lines.append(f"{nt_iri(iri)} {nt_iri(prop)} {nt_iri(self.iri(parent))} .")
            name = nt_literal(self.nouns.names[off])
            self.lines.append(f"{nt_iri(iri)} {nt_iri(HNP + 'wordnet30')} {name} .")
            if self.nouns.tags.get(off):
                self.lines.append(
                    f"{nt_iri(iri)} {nt_iri(HNP + 'tagCount')} {nt_int(self.nouns.tags[off])} ."
                )

    def declare(self, kind: str, groups: Iterable[str], modifiers: dict[str, list[str]]) -> None:
        """``hn:attr/<kind>`` lists its value groups; ``hnp:modifierLabel`` adds adjective forms."""
        node = nt_iri(HN_ATTR + kind)
        self.lines.append(f"{node} {nt_iri(HNP + 'kind')} {nt_literal(kind)} .")
        self.lines.append(f"{node} {nt_iri(RDFS_LABEL)} {nt_literal(kind, lang='en')} .")
        for g in sorted(set(groups)):
            self.lines.append(f"{node} {nt_iri(HNP + 'group')} {nt_iri(g)} .")
        for iri, words in sorted(modifiers.items()):
            for w in sorted(set(words)):
                self.lines.append(
                    f"{nt_iri(iri)} {nt_iri(HNP + 'modifierLabel')} {nt_literal(w, lang='en')} ."
                )

    def add_size_adjectives(self, size_off: int) -> list[str]:
        """Head adjectives whose attribute is size (large, small) and their common satellites."""
        synsets, tags = self.adj.synsets("a"), self.adj.sense_index("a").tag_count
        heads: list[str] = []
        for off, s in sorted(synsets.items()):
            if s.pos != "a" or size_off not in s.targets(ATTRIBUTE):
                continue
            head = wn30_iri(off, "a")
            heads.append(head)
            self.lines += _label_lines(head, s.lemmas)
            self.lines.append(f"{nt_iri(head)} {nt_iri(P31)} {nt_iri(self.iri(size_off))} .")
            for sat_off in s.targets(SIMILAR):
                sat = synsets[sat_off]
                common = tags.get(sat_off, 0) > 0 or any(
                    x.replace("_", " ") in curated.SIZE_WORDS for x in sat.lemmas
                )
                if common:
                    sat_iri = wn30_iri(sat_off, "a")
                    self.lines += _label_lines(sat_iri, sat.lemmas)
                    self.lines.append(f"{nt_iri(sat_iri)} {nt_iri(P279)} {nt_iri(head)} .")
        return heads


def _material_groups(nouns: Nouns) -> tuple[set[int], dict[int, list[str]]]:
    roots: set[int] = set().union(*(nouns.subtree(r) for r in curated.MATERIAL_ROOTS))
    groups = {w: nouns.sense_under(w, roots) for w in curated.MATERIAL_WORDS}
    found = {w: off for w, off in groups.items() if off is not None}
    mods: dict[int, list[str]] = defaultdict(list)
    for adj, noun in curated.MATERIAL_ADJECTIVES.items():
        if noun in found:
            mods[found[noun]].append(adj)
    for w, off in found.items():
        if w not in (x.lower().replace("_", " ") for x in nouns.wn.synsets("n")[off].lemmas):
            mods[off].append(w)  # e.g. "aluminium" filed under aluminum.n.01's spelling
    return set(found.values()), mods


def _pattern_groups(nouns: Nouns) -> tuple[set[int], dict[int, list[str]]]:
    roots: set[int] = set().union(*(nouns.subtree(r) for r in PATTERN_ROOTS))
    groups: set[int] = set()
    mods: dict[int, list[str]] = defaultdict(list)
    for w in curated.PATTERN_WORDS:
        off = nouns.sense_under(w, roots)
        if off is None and PATTERN_NOUNS.get(w) in nouns.by_name:
            off = nouns.by_name[PATTERN_NOUNS[w]]
            mods[off].append(w)
        if off is not None:
            groups.add(off)
    return groups, mods


def _colour_groups(nouns: Nouns) -> tuple[set[int], dict[int, list[str]]]:
    groups = {
        c for p in COLOUR_PARENTS if p in nouns.by_name for c in nouns.children[nouns.by_name[p]]
    }
    mods: dict[int, list[str]] = defaultdict(list)
    for adj, noun in curated.COLOUR_ADJECTIVES.items():
        off = nouns.sense_under(noun, nouns.subtree("color.n.01"))
        if off is not None:
            mods[off].append(adj)
    return groups, mods


def build_from_wordnet(
    wordnet30: Path, wordnet31: Path, shared_data: Path, out: Path, created: str
) -> Provenance:
    """Read the three sources, write the snapshot to ``out``; returns its provenance."""
    map_path = shared_data / WIKIDATA_MAP
    if not map_path.is_file():
        raise WordNetFormatError(
            f"{shared_data}: no {WIKIDATA_MAP} (the WordNet 3.1 -> Wikidata map)"
        )
    nouns = Nouns.read(WordNetDict(wordnet30))
    if PHYSICAL_ROOT not in nouns.by_name:
        raise WordNetFormatError(f"{wordnet30}: no {PHYSICAL_ROOT}; is this WordNet 3.0?")
    qids = map_qids(nouns, WordNetDict(wordnet31), json.loads(map_path.read_text("utf-8")))
    b = Builder(nouns, nouns.wn, qids)
    colours, colour_mods = _colour_groups(nouns)
    materials, material_mods = _material_groups(nouns)
    patterns, pattern_mods = _pattern_groups(nouns)
    size = {nouns.by_name[SIZE_ATTRIBUTE]} if SIZE_ATTRIBUTE in nouns.by_name else set()
    base = nouns.subtree(PHYSICAL_ROOT).union(*(nouns.subtree(r) for r in EXTRA_SUBTREES))
    b.add_nouns(nouns.with_ancestors(base | colours | materials | patterns | size))
    size_heads = [h for off in size for h in b.add_size_adjectives(off)]
    for kind, groups, mods in (
        ("colour", colours, colour_mods),
        ("material", materials, material_mods),
        ("pattern", patterns, pattern_mods),
    ):
        b.declare(kind, [b.iri(g) for g in groups], {b.iri(o): w for o, w in mods.items()})
    b.declare("size", size_heads, {})
    prov = Provenance(
        source="WordNet 3.0 noun hierarchy + WordNet 3.1 -> Wikidata map (P8814)",
        created=created,
        script_version=SCRIPT_VERSION,
        kind="wn30-wikidata",
        notes=[
            f"roots: {PHYSICAL_ROOT}, {', '.join(EXTRA_SUBTREES)}; size adjectives of {SIZE_ATTRIBUTE}",
            f"hypernym patches: {[(c, p) for c, p, _ in curated.HYPERNYM_PATCHES]}",
            f"wikidata map: {WIKIDATA_MAP} ({len(qids)} synsets with a QID)",
        ],
    )
    return write_snapshot(b.lines, prov, out)
