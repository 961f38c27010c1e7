"""One scoring function for a candidate negative: P(hard) and P(invalid), from one multinomial
logistic model over features.

The features combine what each part of the pipeline knows: the ontology relation (sibling >
cousin > uncle > wider family, attribute swap), how closely WordNet relates the candidate's sense
to the positive's visual sense, agreement between miners, false-positive evidence, similarity,
shared attributes, the naturalness of the words (``wordfreq``'s Zipf frequency: obscure words
nobody annotates score low) and sub-word likeness to the positive (a weak text model puts
"tortilla" next to "tortoise"; the model learns to distrust it).

Weights are fitted per embedder on the tuning part of the judged set (``bench/fit_scoring.py``)
and shipped as data (``scoring_weights.json``, with provenance). An embedder with no fitted
weights (a CLIP model) keeps the calibrated similarity band as the judge of likeness, as before.
Verdicts from annotators can refit the same features: nothing here is a hand-tuned rule.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from hardneg.miners.knowledge.normalize import match_key

if TYPE_CHECKING:
    from hardneg.miners.knowledge import Knowledge

__all__ = ["CLASSES", "FEATURES", "Model", "features", "model_for"]

CLASSES = ("H", "E", "I")
WEIGHTS_FILE = "scoring_weights.json"
FEATURES = (
    "similarity",
    "related",
    "unrelated",
    "unknown",
    "sibling",
    "cousin",
    "uncle",
    "wider",
    "swap",
    "agree",
    "vocabulary_only",
    "false_positive",
    "keeps_attributes",
    "rarity",
    "words",
    "spelling",
    "candidate_breadth",
    "positive_breadth",
    "same_lexfile",
    "head_is_ancestor",
)
_RELATIONS = {
    "sibling": "sibling",
    "cousin": "cousin",
    "second cousin": "cousin",
    "uncle": "uncle",
    "wider family": "wider",
}


def _trigrams(text: str) -> set[str]:
    t = f"  {text.replace(' ', '')} "
    return {t[i : i + 3] for i in range(len(t) - 2)}


def spelling_likeness(a: str, b: str) -> float:
    """How alike two words are spelled, not what they mean: the larger of the Jaccard of
    character trigrams and the shared prefix over the shorter word ("tortoise"/"tortilla" 0.5,
    "magpie"/"magazine" 0.5)."""
    ta, tb = _trigrams(a), _trigrams(b)
    jaccard = len(ta & tb) / max(1, len(ta | tb))
    shared = os.path.commonprefix([a, b])  # noqa: RUF071 (characters on purpose, not paths)
    prefix = len(shared) / max(1, min(len(a), len(b)))
    return max(jaccard, prefix)


@lru_cache(maxsize=100_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


def rarity(phrase: str) -> float:
    """0 for everyday words, 1 for words nobody uses (Zipf frequency of the rarest word)."""
    words = [w for w in phrase.split() if w.isalpha()]
    if not words:
        return 1.0
    return max(0.0, min(1.0, (5.0 - min(_zipf(w) for w in words)) / 5.0))


def features(
    knowledge: Knowledge,
    positive: str,
    phrase: str,
    evidence: Mapping[str, Mapping[str, Any]],
    similarity: float,
) -> list[float]:
    """The feature vector of one candidate, in FEATURES order."""
    depth = knowledge.relatedness(positive, phrase)
    relation = str(evidence.get("ontology", {}).get("relation", ""))
    rel = _RELATIONS.get(relation, "swap" if relation.endswith("swap") else "")
    p_attrs, p_head = knowledge.split_attributes(positive)
    n_attrs, n_head = knowledge.split_attributes(phrase)
    shared = knowledge.attribute_values(p_attrs) & knowledge.attribute_values(n_attrs)
    values = {
        "similarity": similarity,
        "related": max(0.0, min(1.0, (depth - 4) / 6)),
        "unrelated": 1.0 if 0 <= depth <= 4 else 0.0,
        "unknown": 1.0 if depth < 0 else 0.0,
        "sibling": float(rel == "sibling"),
        "cousin": float(rel == "cousin"),
        "uncle": float(rel == "uncle"),
        "wider": float(rel == "wider"),
        "swap": float(rel == "swap"),
        "agree": float(len(evidence) - 1),
        "vocabulary_only": float(set(evidence) == {"vocabulary"}),
        "false_positive": math.log1p(float(evidence.get("false_positive", {}).get("count", 0))),
        "keeps_attributes": float(bool(shared)),
        "rarity": rarity(phrase),
        "words": min(4, len(phrase.split())) / 4,
        "candidate_breadth": knowledge.breadth(phrase),
        "positive_breadth": knowledge.breadth(positive),
        "same_lexfile": float(knowledge.same_lexfile(positive, phrase)),
        "head_is_ancestor": float(
            bool(n_head.split())
            and match_key(n_head.split()[-1]) in knowledge.ancestor_keys(positive)
        ),
        "spelling": 0.0
        if match_key(p_head) == match_key(n_head)
        else spelling_likeness(p_head or positive, n_head or phrase),
    }
    return [values[f] for f in FEATURES]


@dataclass(frozen=True)
class Model:
    """Fitted multinomial logistic weights (classes H, E, I) for one embedder family, with the
    default quality floor on P(hard) and the ceiling on P(invalid)."""

    embedder_prefix: str
    weights: tuple[tuple[float, ...], ...]  # one row per class, in CLASSES order
    bias: tuple[float, ...]
    floor: float
    max_invalid: float
    provenance: Mapping[str, Any]

    def probabilities(self, x: Sequence[float]) -> dict[str, float]:
        """{"H": p, "E": p, "I": p} for one feature vector (softmax of the class scores)."""
        z = [
            b + sum(w * v for w, v in zip(row, x, strict=True))
            for row, b in zip(self.weights, self.bias, strict=True)
        ]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return {c: v / total for c, v in zip(CLASSES, e, strict=True)}

    def p_hard(self, x: Sequence[float]) -> float:
        return self.probabilities(x)["H"]


@lru_cache(maxsize=1)
def _models() -> tuple[Model, ...]:
    path = resources.files("hardneg.service").joinpath(WEIGHTS_FILE)
    if not path.is_file():
        return ()
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for m in data["models"]:
        if tuple(m["features"]) != FEATURES or tuple(m.get("classes", ())) != CLASSES:
            continue  # fitted on other features: unusable, the band decides instead
        out.append(
            Model(
                m["embedder_prefix"],
                tuple(tuple(row) for row in m["weights"]),
                tuple(m["bias"]),
                m["floor"],
                m["max_invalid"],
                m["provenance"],
            )
        )
    return tuple(out)


def model_for(embedder_id: str) -> Model | None:
    """The fitted model of this embedder, or None (then the similarity band decides)."""
    return next((m for m in _models() if embedder_id.startswith(m.embedder_prefix)), None)


def ranking_version(embedder_id: str) -> str:
    """Names what orders and cuts the negatives, so cached answers change with the weights."""
    model = model_for(embedder_id)
    if model is None:
        return "band"
    return f"scoring@{model.provenance.get('fitted_at', '?')}"
