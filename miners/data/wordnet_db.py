"""A minimal reader of WordNet's dict files (the ``wndb(5WN)`` format): nouns and adjectives only.

Used only by ``build_vocab`` at data-build time. It names synsets the way NLTK does
(``school_bus.n.01``: first lemma + its sense number in ``index.noun``), which is how LVIS names
them, without NLTK's data-path machinery in the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HYPERNYM = "@"
INSTANCE_HYPERNYM = "@i"


@dataclass
class Synset:
    """One synset as read from ``data.<pos>``: lemmas (WordNet spelling, underscores) and links."""

    offset: int
    pos: str
    lemmas: list[str]
    gloss: str
    pointers: list[tuple[str, int, str]] = field(default_factory=list)  # (symbol, offset, pos)
    name: str = ""

    def targets(self, symbol: str, pos: str = "n") -> list[int]:
        return [off for sym, off, p in self.pointers if sym == symbol and p == pos]


@dataclass
class WordNetDB:
    """Noun and adjective synsets of one WordNet release, keyed by (pos, offset)."""

    version: str
    synsets: dict[tuple[str, int], Synset]
    by_name: dict[str, Synset]
    noun_exceptions: dict[str, list[str]]
    licence: str

    def noun(self, offset: int) -> Synset:
        return self.synsets[("n", offset)]

    def closure(self, start: Synset, symbols: tuple[str, ...]) -> list[Synset]:
        """Every synset reachable from ``start`` along ``symbols`` links (start excluded)."""
        seen: dict[int, Synset] = {}
        todo = [start]
        while todo:
            s = todo.pop()
            for sym in symbols:
                for off in s.targets(sym, s.pos):
                    if off not in seen:
                        seen[off] = self.synsets[(s.pos, off)]
                        todo.append(seen[off])
        return sorted(seen.values(), key=lambda x: x.offset)


def _data_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("  "):  # licence header lines start with two spaces
                yield line.rstrip("\n")


def parse_data_line(line: str) -> Synset:
    """Parse one ``data.<pos>`` line: offset lex_filenum ss_type w_cnt (word lex_id)* p_cnt ptrs."""
    head, _, gloss = line.partition(" | ")
    f = head.split()
    offset, ss_type, w_cnt = int(f[0]), f[2], int(f[3], 16)
    pos = "a" if ss_type == "s" else ss_type
    # adjectives may carry a syntactic marker such as "(a)" or "(p)"
    lemmas = [f[4 + 2 * i].split("(")[0] for i in range(w_cnt)]
    i = 4 + 2 * w_cnt
    p_cnt = int(f[i])
    pointers = []
    for j in range(p_cnt):
        sym, off, ppos = f[i + 1 + 4 * j : i + 4 + 4 * j]
        pointers.append((sym, int(off), "a" if ppos == "s" else ppos))
    return Synset(offset, pos, lemmas, gloss.strip(), pointers)


def _sense_order(path: Path) -> dict[str, list[int]]:
    """lemma -> its synset offsets in sense order, from ``index.<pos>``."""
    order: dict[str, list[int]] = {}
    for line in _data_lines(path):
        f = line.split()
        synset_cnt, p_cnt = int(f[2]), int(f[3])
        order[f[0]] = [int(x) for x in f[6 + p_cnt : 6 + p_cnt + synset_cnt]]
    return order


def _name_synsets(synsets: list[Synset], order: dict[str, list[int]]) -> None:
    for s in synsets:
        lemma = s.lemmas[0].lower()
        sense = order[lemma].index(s.offset) + 1
        s.name = f"{lemma}.{s.pos}.{sense:02d}"


def read_wordnet(root: Path) -> WordNetDB:
    """Read nouns and adjectives of the WordNet dict directory ``root``."""
    if not (root / "data.noun").is_file():
        raise FileNotFoundError(f"{root} holds no WordNet data.noun (expected a WordNet dict dir)")
    synsets: dict[tuple[str, int], Synset] = {}
    for stem in ("noun", "adj"):
        found = [parse_data_line(line) for line in _data_lines(root / f"data.{stem}")]
        _name_synsets(found, _sense_order(root / f"index.{stem}"))
        synsets.update(((s.pos, s.offset), s) for s in found)
    exceptions: dict[str, list[str]] = {}
    for line in (root / "noun.exc").read_text(encoding="utf-8").splitlines():
        word, *bases = line.split()
        exceptions[word] = bases
    licence = (root / "LICENSE").read_text(encoding="utf-8") if (root / "LICENSE").is_file() else ""
    version = "3.0" if "Release 3.0" in licence else "unknown"
    by_name = {s.name: s for s in synsets.values()}
    return WordNetDB(version, synsets, by_name, exceptions, licence)
