"""Builds the word-level data files from WordNet 3.0: ``morphology.json.gz`` and ``attributes.json``.

Called by ``vocab`` (the one entry point for all shipped data); split out to keep modules
small. Curated inputs come from ``curated.py``; everything else is read from WordNet.
"""

from __future__ import annotations

from typing import Any

from hardneg.miners.build import curated
from hardneg.miners.build.wordnet import Synset, WordNetDB
from hardneg.miners.knowledge.normalize import Morphology, normalize

KIND_ORDER = ("colour", "material", "size", "pattern")


def build_morphology(db: WordNetDB) -> dict[str, Any]:
    """Lowercase one-word noun lemmas, irregular plurals (first base), curated keep-list."""
    nouns: set[str] = set()
    for s in db.synsets.values():
        if s.pos == "n":
            nouns.update(lemma for lemma in s.lemmas if lemma.isalpha() and lemma.islower())
    exceptions: dict[str, str] = {}
    for plural, bases in sorted(db.noun_exceptions.items()):
        if plural.isalpha() and bases[0].isalpha() and plural != bases[0]:
            exceptions[plural] = bases[0]
    exceptions.update(curated.EXTRA_PLURALS)
    return {
        "nouns": sorted(nouns),
        "exceptions": dict(sorted(exceptions.items())),
        "keep": sorted(curated.KEEP_AS_IS),
    }


def morphology_from(data: dict[str, Any]) -> Morphology:
    return Morphology.from_json(data)


def _noun_senses(db: WordNetDB, word: str) -> list[Synset]:
    lemma = word.replace(" ", "_")
    found = [s for s in db.synsets.values() if s.pos == "n" and lemma in s.lemmas]
    return sorted(found, key=lambda s: s.name)


def _canonical(word: str) -> str:
    """One spelling per attribute ("dark grey" -> "dark gray"); synonyms stay distinct colours."""
    return " ".join(curated.SPELLING.get(w, w) for w in word.split())


def _colours(db: WordNetDB) -> dict[str, dict[str, Any]]:
    """Every lemma under chromatic_color.n.01 / achromatic_color.n.01, minus abstract nouns."""
    words: dict[str, dict[str, Any]] = {}
    for root in ("chromatic_color.n.01", "achromatic_color.n.01"):
        for s in db.closure(db.by_name[root], ("~",)):
            for lemma in s.lemmas:
                w = normalize(lemma)
                if w in curated.COLOUR_DROP or w.endswith(("ness", "ity")) or "'" in w:
                    continue
                words.setdefault(w, {"canonical": _canonical(w), "synset": s.name})
    for adj, noun in sorted(curated.COLOUR_ADJECTIVES.items()):
        words[adj] = {"canonical": words[noun]["canonical"], "synset": words[noun]["synset"]}
    return words


def _materials(db: WordNetDB) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Curated material words kept only where WordNet files a noun sense under a material root."""
    roots = {db.by_name[name].offset for name in curated.MATERIAL_ROOTS}
    words: dict[str, dict[str, Any]] = {}
    dropped: list[str] = []
    for word in curated.MATERIAL_WORDS:
        hit = None
        for s in _noun_senses(db, word):
            ancestors = {a.offset for a in db.closure(s, ("@", "@i"))} | {s.offset}
            if ancestors & roots:
                hit = s
                break
        if hit is None:
            dropped.append(word)
            continue
        words[word] = {"canonical": _canonical(word), "synset": hit.name}
    for adj, noun in sorted(curated.MATERIAL_ADJECTIVES.items()):
        if noun in words:
            words[adj] = dict(words[noun])
    return words, dropped


def build_attributes(db: WordNetDB) -> tuple[dict[str, Any], list[str]]:
    """The attribute lexicon: word -> kinds (in KIND_ORDER), canonical form, WordNet synset."""
    colours = _colours(db)
    materials, dropped = _materials(db)
    by_kind: dict[str, dict[str, dict[str, Any]]] = {
        "colour": colours,
        "material": materials,
        "size": {w: {"canonical": w, "synset": None} for w in curated.SIZE_WORDS},
        "pattern": {
            normalize(w): {"canonical": _canonical(normalize(w)), "synset": None}
            for w in curated.PATTERN_WORDS
        },
    }
    words: dict[str, dict[str, Any]] = {}
    for kind in KIND_ORDER:
        for w, info in sorted(by_kind[kind].items()):
            entry = words.setdefault(w, {"kinds": [], "canonical": {}, "synset": {}})
            entry["kinds"].append(kind)
            entry["canonical"][kind] = info["canonical"]
            if info["synset"]:
                entry["synset"][kind] = info["synset"]
    lexicon = {
        "kind_order": list(KIND_ORDER),
        "colour_modifiers": sorted(curated.COLOUR_MODIFIERS),
        "words": dict(sorted(words.items())),
    }
    return lexicon, dropped
