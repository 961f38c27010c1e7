"""Phrase normalisation: a display form, and a comparison key that merges spelling variants.

``match_key`` is what the exclusion guard compares: "School_Buses", "school-bus" and "schoolbus"
all become "schoolbus". Singular forms come from WordNet 3.0 (its noun lemmas and irregular
plurals, shipped in ``data/morphology.json.gz``); pure Python, the data loads on first use.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["Morphology", "default_morphology", "match_key", "normalize", "tokens"]

MORPHOLOGY_FILE = "morphology.json.gz"

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212_"
_DASH_RE = re.compile(f"[{re.escape(_DASHES)}]")
_SPACE_RE = re.compile(r"\s+")
_EDGE = "\"'`.,;:!?*#~^|/\\<>[]{}«»“”„‘’‚‹›¡¿…·•"
_APOSTROPHES = "'’`´"
_POSSESSIVE_RE = re.compile(f"[{_APOSTROPHES}]s\\b")
_WORD_RE = re.compile(r"[^\W_]+")
# Suffix rules of WordNet's morphy for nouns, then "oes" -> "o" (potatoes) as a last resort.
_RULES = (
    ("ies", "y"),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("s", ""),
)
_SINGULAR_ENDINGS = ("ss", "us", "is", "ous")


def normalize(phrase: str) -> str:
    """Display/canonical form: NFKC, lowercase, ``_``/``-`` -> space, outer punctuation stripped."""
    s = unicodedata.normalize("NFKC", phrase).lower()
    s = _SPACE_RE.sub(" ", _DASH_RE.sub(" ", s)).strip()
    while s:
        if s[0] in _EDGE or s[-1] in _EDGE:
            s = s.strip(_EDGE).strip()
        elif s[0] == "(" and s[-1] == ")" and _balanced(s[1:-1]):
            s = s[1:-1].strip()
        elif s[-1] == ")" and s.count(")") > s.count("("):
            s = s[:-1].strip()
        elif s[0] == "(" and s.count("(") > s.count(")"):
            s = s[1:].strip()
        else:
            break
    return s


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def tokens(phrase: str) -> list[str]:
    """Word tokens of the normalised phrase, possessive 's dropped ("men's shirt" -> men, shirt)."""
    return _WORD_RE.findall(_POSSESSIVE_RE.sub("", normalize(phrase)))


def _fold_accents(s: str) -> str:
    decomposed = unicodedata.normalize("NFKD", s)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Morphology:
    """Noun singularisation from WordNet's lowercase noun lemmas and its irregular plurals."""

    nouns: frozenset[str]
    exceptions: dict[str, str]
    keep: frozenset[str]

    def singular(self, word: str) -> str:
        """Singular of one lowercase token; unknown words get conservative suffix rules."""
        if word in self.keep or len(word) <= 2:
            return word
        if word in self.exceptions:
            return self.exceptions[word]
        known = self._known_singular(word)
        if known is not None:
            return known
        if word in self.nouns:
            return word
        return self._compound_singular(word) or self._guess_singular(word)

    def _known_singular(self, word: str) -> str | None:
        for suffix, repl in _RULES:
            if suffix == "s" and word.endswith("ss"):
                continue  # "pass" is not the plural of "pas"
            if word.endswith(suffix) and len(word) > len(suffix):
                base = word[: -len(suffix)] + repl
                if base in self.nouns and base != word:
                    return base
        if word.endswith("oes") and word[:-2] in self.nouns:
            return word[:-2]
        return None

    def _compound_singular(self, word: str) -> str | None:
        """ "schoolbuses" -> "schoolbus": singularise the longest known noun ending the word."""
        for i in range(1, len(word) - 2):
            tail = word[i:]
            if tail in self.exceptions:
                return word[:i] + self.exceptions[tail]
            base = None if tail in self.keep else self._known_singular(tail)
            if base is not None:
                return word[:i] + base
            if tail in self.keep or tail in self.nouns:
                return None  # a known singular ends the word: it is singular already
        return None

    @staticmethod
    def _guess_singular(word: str) -> str:
        if not word.endswith("s") or word.endswith(_SINGULAR_ENDINGS):
            return word
        if word.endswith("ies") and len(word) > 4:
            return word[:-3] + "y"
        if word.endswith(("sses", "xes", "zes", "ches", "shes")):
            return word[:-2]
        return word[:-1]

    def key(self, phrase: str) -> str:
        """Comparison key: tokens singularised, accents folded, spaces and punctuation dropped."""
        words = tokens(phrase)
        return "".join(_fold_accents(w if w.isdigit() else self.singular(w)) for w in words)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Morphology:
        nouns = data["nouns"]
        exceptions = data["exceptions"]
        keep = data["keep"]
        if not (
            isinstance(nouns, list) and isinstance(exceptions, dict) and isinstance(keep, list)
        ):
            raise ValueError("morphology data: expected lists 'nouns', 'keep', dict 'exceptions'")
        return cls(frozenset(nouns), dict(exceptions), frozenset(keep))


@lru_cache(maxsize=1)
def default_morphology() -> Morphology:
    """The shipped WordNet 3.0 morphology (loaded once)."""
    raw = resources.files("hardneg.miners.knowledge.data").joinpath(MORPHOLOGY_FILE).read_bytes()
    return Morphology.from_json(json.loads(gzip.decompress(raw)))


@lru_cache(maxsize=65536)
def match_key(phrase: str) -> str:
    """Comparison key: "School_Buses" == "school-bus" == "schoolbus" -> "schoolbus"."""
    return default_morphology().key(phrase)
