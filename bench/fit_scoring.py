"""Fit the scoring model (service/scoring.py) on the TUNING part of the judged quality set.

    python bench/fit_scoring.py [--floor-share 0.35] [--write]

Mines every tune-split concept of bench/quality/concepts.json with the in-process pipeline on
the embedded default (no similarity floor, no quality floor, k = 200, so every candidate that
survives the guard comes back), computes each negative's features, joins them with the judged
labels (bench/quality/labels.jsonl: H = 1, E and I = 0) and fits a logistic regression
(scikit-learn). Prints cross-validated AUC and, per candidate floor, the share of H above it and
the mean number kept per concept; ``--write`` stores the weights and the chosen floor with their
provenance in service/scoring_weights.json. Held-out concepts are never read.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality

OUT = Path(__file__).resolve().parent.parent / "service" / "scoring_weights.json"
FLOORS = (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


async def collect(concepts: list[dict[str, Any]]) -> tuple[list[tuple[str, str, list[float]]], str]:
    """(concept, phrase, features) of every negative the pipeline returns, unfiltered."""
    from hardneg.miners.types import NegativesRequest, RequestItem
    from hardneg.service.pipeline import Pipeline
    from hardneg.service.scoring import features

    os.environ["HARDNEG_QUALITY_FLOOR"] = "0"
    os.environ["HARDNEG_MAX_KIND_SHARE"] = "1"
    pipeline = Pipeline.create()
    rows: list[tuple[str, str, list[float]]] = []
    try:
        await pipeline.warm_up()
        for batch in quality.chunks(concepts, quality.BATCH):
            items = [RequestItem(id=c["concept"], positives=[c["concept"]]) for c in batch]
            req = NegativesRequest(items=items, k=200, min_similarity=-1.0)
            resp = await pipeline.mine(req)
            for item in resp.items:
                for n in item.negatives:
                    x = features(pipeline.knowledge, item.id, n.phrase, n.evidence, n.score)
                    rows.append((item.id, n.phrase, x))
        return rows, resp.embedder
    finally:
        await pipeline.aclose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--floor", type=float, default=0.15, help="least P(hard) kept")
    ap.add_argument("--max-invalid", type=float, default=0.2, help="most P(invalid) kept")
    ap.add_argument("--write", action="store_true", help="store the fitted weights")
    args = ap.parse_args(argv)
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from hardneg.service.scoring import CLASSES, FEATURES

    tune = [c for c in quality.load_concepts() if c["split"] == "tune"]
    labels = quality.load_labels(quality.LABELS)
    rows, embedder = asyncio.run(collect(tune))
    judged = [(c, x, labels[(quality.norm(c), quality.norm(p))]["label"]) for c, p, x in rows
              if (quality.norm(c), quality.norm(p)) in labels]  # fmt: skip
    X = np.array([x for _, x, _ in judged])
    y = np.array([CLASSES.index(lab) for _, _, lab in judged])
    groups = [c for c, _, _ in judged]
    print(f"{len(rows)} candidates over {len(tune)} tune concepts; {len(judged)} judged "
          f"(H {np.sum(y == 0)}, E {np.sum(y == 1)}, I {np.sum(y == 2)})")  # fmt: skip
    clf = LogisticRegression(C=1.0, max_iter=5000)
    cv = cross_val_predict(clf, X, y, cv=GroupKFold(5), groups=groups, method="predict_proba")
    auc_h, auc_i = roc_auc_score(y == 0, cv[:, 0]), roc_auc_score(y == 2, cv[:, 2])
    print(f"cross-validated AUC (5 folds by concept): hard {auc_h:.3f}, invalid {auc_i:.3f}")
    clf.fit(X, y)
    for j, name in enumerate(FEATURES):
        print(
            f"  {name:18s} "
            + "  ".join(f"{c} {clf.coef_[i][j]:+.3f}" for i, c in enumerate(CLASSES))
        )
    all_p = clf.predict_proba(np.array([x for _, _, x in rows]))
    print("floor  max P(I)  H share  I share (judged kept, cross-validated)  kept per concept")
    for f in FLOORS:
        for ceiling in sorted({1.0, 0.3, args.max_invalid}, reverse=True):
            keep = (cv[:, 0] >= f) & (cv[:, 2] <= ceiling)
            h, i = (np.mean(y[keep] == 0), np.mean(y[keep] == 2)) if keep.any() else (0.0, 0.0)
            per = np.sum((all_p[:, 0] >= f) & (all_p[:, 2] <= ceiling)) / len(tune)
            print(f"{f:5.2f}  {ceiling:8.2f}  {h:7.1%}  {i:7.1%}  {per:6.1f}")
    if args.write:
        fit = {"cv_auc_hard": round(auc_h, 4), "cv_auc_invalid": round(auc_i, 4)}
        write(embedder, clf, args.floor, args.max_invalid, fit, len(judged), len(tune))
    return 0


def write(
    embedder: str,
    clf: Any,
    floor: float,
    max_invalid: float,
    fit: dict[str, float],
    n: int,
    concepts: int,
) -> None:
    from hardneg.service.scoring import CLASSES, FEATURES

    prefix = embedder.split(":", 1)[0] + ":"
    digest = hashlib.sha256(quality.LABELS.read_bytes()).hexdigest()[:12]
    model = {
        "embedder_prefix": prefix,
        "features": list(FEATURES),
        "classes": list(CLASSES),
        "weights": [[round(float(w), 5) for w in row] for row in clf.coef_],
        "bias": [round(float(b), 5) for b in clf.intercept_],
        "floor": floor,
        "max_invalid": max_invalid,
        "provenance": {
            "script": "bench/fit_scoring.py",
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "embedder": embedder,
            "labels": f"bench/quality/labels.jsonl@sha256:{digest}",
            "split": "tune",
            "concepts": concepts,
            "judged_candidates": n,
            **fit,
            "method": "sklearn LogisticRegression(C=1), multinomial over H/E/I",
        },
    }
    data = {"models": [model]}
    if OUT.exists():
        old = json.loads(OUT.read_text())
        data["models"] += [m for m in old["models"] if m["embedder_prefix"] != prefix]
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    raise SystemExit(main())
