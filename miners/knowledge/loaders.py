"""Readers of the shipped knowledge files: the WordNet noun graph and the attribute lexicon.

Both are plain data loaded from this package (no WordNet install, no ``../shared``); the files
and their formats are described in ``README.md`` beside this module.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

from hardneg.miners.knowledge.normalize import match_key, normalize

VOCAB_FILE = "vocab_lvis_coco.json.gz"
GRAPH_FILE = "wordnet_nouns.json.gz"
ATTRIBUTES_FILE = "attributes.json"
RELATIONS_FILE = "wordnet_relations.json.gz"
DATA_FILES = (VOCAB_FILE, GRAPH_FILE, ATTRIBUTES_FILE, "morphology.json.gz", RELATIONS_FILE)


def read_bytes(name: str) -> bytes:
    return resources.files("hardneg.miners.knowledge.data").joinpath(name).read_bytes()


def read_json(name: str) -> Any:
    raw = read_bytes(name)
    return json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)


@dataclass
class NounGraph:
    """WordNet 3.0 nouns (below physical_entity.n.01, closed upwards) with is-a links by int id."""

    names: list[str]
    lemmas: list[list[str]]
    parents: list[tuple[int, ...]]
    outside: frozenset[int]  # ancestors-only synsets (not below physical_entity.n.01)
    by_name: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NounGraph:
        """Parents are WordNet hypernyms + instance hypernyms + the documented patches."""
        lemmas = [s.split("|") for s in data["lemmas"]]
        names = [
            f"{ls[0].lower().replace(' ', '_')}.n.{sense:02d}"
            for ls, sense in zip(lemmas, data["sense"], strict=True)
        ]
        parents = [
            list(h) + list(i)
            for h, i in zip(data["hypernyms"], data["instance_hypernyms"], strict=True)
        ]
        for child, parent, _why in data["patches"]:
            parents[child].append(parent)
        return cls(names, lemmas, [tuple(p) for p in parents], frozenset(data["outside"]))

    @cached_property
    def lemma_index(self) -> dict[str, tuple[int, ...]]:
        """match_key of a lemma -> synsets below physical_entity that have it."""
        return self._index(match_key)

    @cached_property
    def spelling_index(self) -> dict[str, tuple[int, ...]]:
        """normalize() of a lemma -> synsets: "roads" (roadstead) is not looked up for "road"."""
        return self._index(normalize)

    def _index(self, form: Callable[[str], str]) -> dict[str, tuple[int, ...]]:
        index: dict[str, list[int]] = {}
        for i, lemmas in enumerate(self.lemmas):
            if i in self.outside:
                continue
            for lemma in lemmas:
                hits = index.setdefault(form(lemma), [])
                if i not in hits:
                    hits.append(i)
        return {k: tuple(v) for k, v in index.items()}

    def lookup(self, phrase: str) -> tuple[int, ...]:
        """Synsets of a phrase: those spelled exactly like it if any, else any spelling variant."""
        exact = self.spelling_index.get(normalize(phrase))
        return exact if exact else self.lemma_index.get(match_key(phrase), ())

    def ancestors(self, ids: Iterable[int]) -> set[int]:
        """Every transitive parent of ``ids`` (the ids themselves excluded unless reached)."""
        seen: set[int] = set()
        todo = [p for i in ids for p in self.parents[i]]
        while todo:
            i = todo.pop()
            if i not in seen:
                seen.add(i)
                todo.extend(self.parents[i])
        return seen

    def phrases(self, ids: Iterable[int]) -> set[str]:
        return {normalize(lemma) for i in ids for lemma in self.lemmas[i]}

    @cached_property
    def depth(self) -> list[int]:
        """Shortest is-a distance from the top (entity.n.01 = 0)."""
        depth: list[int] = [-1] * len(self.names)
        for start in range(len(self.names)):
            stack = [start]
            while stack:
                i = stack[-1]
                pending = [p for p in self.parents[i] if depth[p] < 0]
                if pending:
                    stack.extend(pending)
                    continue
                stack.pop()
                depth[i] = 1 + min((depth[p] for p in self.parents[i]), default=-1)
        return depth


@dataclass(frozen=True)
class AttributeWord:
    kinds: tuple[str, ...]
    canonical: dict[str, str]


@dataclass
class AttributeLexicon:
    """Colour / material / size / pattern words, longest match first ("navy blue", "polka dot")."""

    words: dict[str, AttributeWord]
    kind_order: tuple[str, ...]
    colour_modifiers: frozenset[str]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttributeLexicon:
        words = {
            w: AttributeWord(tuple(v["kinds"]), dict(v["canonical"]))
            for w, v in data["words"].items()
        }
        return cls(words, tuple(data["kind_order"]), frozenset(data["colour_modifiers"]))

    @cached_property
    def max_tokens(self) -> int:
        return max(len(w.split()) for w in self.words)

    def match(self, tokens: list[str], start: int) -> tuple[str, str, int] | None:
        """(kind, words, n tokens) of the attribute starting at ``tokens[start]``, if any."""
        for n in range(min(self.max_tokens, len(tokens) - start), 0, -1):
            phrase = " ".join(tokens[start : start + n])
            if phrase in self.words:
                return self.words[phrase].kinds[0], phrase, n
        if tokens[start] in self.colour_modifiers and start + 1 < len(tokens):
            inner = self.match(tokens, start + 1)
            if inner is not None and inner[0] == "colour":
                return "colour", f"{tokens[start]} {inner[1]}", inner[2] + 1
        return None

    def canonical(self, phrase: str) -> dict[str, str]:
        """kind -> canonical form of an attribute phrase (modifier kept: "dark grey" -> gray)."""
        if phrase in self.words:
            return self.words[phrase].canonical
        modifier, _, rest = phrase.partition(" ")
        if not rest:
            return {}  # not an attribute word
        return {k: f"{modifier} {v}" for k, v in self.canonical(rest).items()}
