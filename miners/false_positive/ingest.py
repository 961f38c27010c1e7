"""Parse and validate ground truth (COCO, LVIS, open-vocabulary) and COCO-results predictions.

Strict by design: one bad record rejects the whole file, and the error names the first offending
records (index and field), so a user fixes the file instead of silently losing data. Columns are
pulled out with list comprehensions and checked with numpy, so 500k predictions parse in seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from hardneg.miners.errors import InvalidInput
from hardneg.miners.knowledge.normalize import match_key, normalize

MAX_REPORTED = 5
MAX_NAME_CHARS = 200
_NUM = (int, float)
_TRAILING_PAREN = re.compile(r"\s*\([^()]*\)\s*$")

Source = Path | bytes | dict[str, Any] | list[Any]


class IngestError(InvalidInput):
    """A file that cannot be ingested; nothing from it is stored (the message says so)."""

    def __init__(self, what: str, problems: Sequence[str], total: int | None = None) -> None:
        self.what = what
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        more = self.total - len(self.problems)
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(f"{what}: " + "; ".join(self.problems) + tail + "; nothing was stored")


@lru_cache(maxsize=65536)
def identity(name: str) -> str:
    """The matching identity of a category or phrase: the pipeline's normalised display form."""
    return normalize(name)


def phrase_of(name: str) -> str:
    """The phrase a concept is stored and mined under: LVIS's ``bus_(vehicle)`` -> ``bus``."""
    full = identity(name)
    return _TRAILING_PAREN.sub("", full) or full


def key_of(name: str) -> str:
    """The store's key of a concept: the one phrase-equivalence rule (``match_key``) over its
    phrase, so "bus_(vehicle)", "Buses" and "bus" are one concept, as in the pipeline's merge."""
    return match_key(phrase_of(name))


class _Problems:
    """Record-level problems of one file; keeps the first few per field and a total count."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.first: list[tuple[int, str]] = []
        self.total = 0

    def add(self, bad: Sequence[int], message: Callable[[int], str]) -> None:
        self.total += len(bad)
        self.first.extend((i, message(i)) for i in sorted(bad)[:MAX_REPORTED])

    def check(self) -> None:
        if self.total:
            first = sorted(self.first)[:MAX_REPORTED]
            raise IngestError(self.what, [m for _, m in first], self.total)


def load_json(source: Source, what: str) -> Any:
    """Parsed JSON of a path, bytes or an already-parsed object; NaN/Infinity are rejected."""
    if isinstance(source, dict | list):
        return source
    if isinstance(source, Path):
        path = source
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise IngestError(what, [f"cannot read {path}: {exc.strerror or exc}"]) from exc

    def _no_constants(token: str) -> Any:
        raise ValueError(f"{token} is not valid JSON")

    try:
        return json.loads(source, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise IngestError(
            what, [f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestError(what, [f"malformed JSON: {exc}"]) from exc


@dataclass
class Vocabulary:
    """Concepts by index: ``identities`` for matching, ``phrases`` for storing and mining."""

    identities: list[str]
    phrases: list[str]
    index: dict[str, int]
    by_phrase: dict[str, int]

    @classmethod
    def empty(cls) -> Vocabulary:
        return cls([], [], {}, {})

    def add(self, name: str) -> int:
        """Index of ``name``; a bare phrase finds its one LVIS-style ``phrase_(sense)`` too."""
        key = identity(name)
        found = self.index.get(key)
        if found is None:
            found = self.by_phrase.get(key, -1) if key == phrase_of(name) else -1
        if found < 0:
            found = self.index[key] = len(self.identities)
            self.identities.append(key)
            phrase = phrase_of(name)
            self.phrases.append(phrase)
            # -2 marks a phrase shared by several senses: a bare phrase cannot pick one
            self.by_phrase[phrase] = -2 if phrase in self.by_phrase else found
        return found

    def copy(self) -> Vocabulary:
        return Vocabulary(
            list(self.identities), list(self.phrases), dict(self.index), dict(self.by_phrase)
        )


@dataclass
class GroundTruth:
    """Images, instances and label verification of one ground-truth file."""

    image_ids: list[str]
    image_index: dict[str, int]
    vocab: Vocabulary
    category_concept: dict[int, int]
    ann_image: np.ndarray
    ann_concept: np.ndarray
    ann_box: np.ndarray
    ann_crowd: np.ndarray
    federated: bool
    neg_keys: np.ndarray
    not_exhaustive_keys: np.ndarray

    @property
    def n_labelled(self) -> int:
        """Concepts ``[0, n_labelled)`` are the ground truth's own vocabulary."""
        return len(self.vocab.identities)


@dataclass
class Predictions:
    """COCO-results predictions as columns; ``vocab`` extends the ground truth's vocabulary."""

    image: np.ndarray
    concept: np.ndarray
    score: np.ndarray
    box: np.ndarray
    vocab: Vocabulary


def pair_keys(image: np.ndarray, concept: np.ndarray) -> np.ndarray:
    """One int64 per (image, concept), for vectorised set membership."""
    return (image.astype(np.int64) << 32) | concept.astype(np.int64)


def _records(data: Any, key: str, what: str, required: bool = True) -> list[Any]:
    if not isinstance(data, dict):
        raise IngestError(what, ["expected a JSON object with images, annotations, categories"])
    recs = data.get(key)
    if recs is None and not required:
        return []
    if not isinstance(recs, list):
        raise IngestError(what, [f"{key}: expected a list"])
    return recs


def _require_dicts(recs: list[Any], path: str, what: str) -> None:
    bad = [i for i, r in enumerate(recs) if not isinstance(r, dict)]
    if bad:
        p = _Problems(what)
        p.add(bad, lambda i: f"{path}[{i}]: expected an object")
        p.check()


def _is_name(v: Any) -> TypeGuard[str]:
    return type(v) is str and len(v.strip()) > 0 and len(v) <= MAX_NAME_CHARS


def _id_text(v: Any) -> str | None:
    """An image id as text; ints and non-empty strings only (never bools or floats)."""
    if type(v) is int or (type(v) is str and v):
        return str(v)
    return None


def _number_column(
    recs: list[dict[str, Any]],
    name: str,
    path: str,
    p: _Problems,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    raw = [r.get(name) for r in recs]
    bad = [i for i, v in enumerate(raw) if type(v) not in _NUM]
    p.add(bad, lambda i: f"{path}[{i}].{name}: expected a number, got {raw[i]!r:.40}")
    col = np.array([v if type(v) in _NUM else 0.0 for v in raw], dtype=np.float64)
    if lo is not None and hi is not None:
        out = np.flatnonzero(~((col >= lo) & (col <= hi)))
        p.add(out.tolist(), lambda i: f"{path}[{i}].{name}: {raw[i]!r} is outside [{lo:g}, {hi:g}]")
    return col


def _is_box(b: Any) -> bool:
    return type(b) is list and len(b) == 4 and all(type(x) in _NUM for x in b)


def _box_column(recs: list[dict[str, Any]], path: str, p: _Problems) -> np.ndarray:
    raw = [r.get("bbox") for r in recs]
    try:
        box = np.array(raw) if raw else np.empty((0, 4))
    except ValueError:  # ragged
        box = np.empty(0)
    if box.shape != (len(raw), 4) or box.dtype.kind not in "fiu":  # the rare slow path
        ok = [_is_box(b) for b in raw]
        p.add(
            [i for i, good in enumerate(ok) if not good],
            lambda i: f"{path}[{i}].bbox: expected [x, y, width, height], got {raw[i]!r:.60}",
        )
        box = np.array([b if good else (0, 0, 0, 0) for b, good in zip(raw, ok, strict=True)])
    box = box.astype(np.float64).reshape(len(raw), 4)
    finite = np.isfinite(box).all(axis=1)
    p.add(np.flatnonzero(~finite).tolist(), lambda i: f"{path}[{i}].bbox: not finite")
    neg = np.flatnonzero(finite & ((box[:, 2] < 0) | (box[:, 3] < 0)))
    p.add(neg.tolist(), lambda i: f"{path}[{i}].bbox: negative size {box[i, 2]:g}x{box[i, 3]:g}")
    return box


def _image_column(
    recs: list[dict[str, Any]], index: dict[str, int], path: str, p: _Problems
) -> np.ndarray:
    raw = [r.get("image_id") for r in recs]
    found = [index.get(t) if (t := _id_text(v)) is not None else None for v in raw]
    bad = [i for i, f in enumerate(found) if f is None]

    def why(i: int) -> str:
        v = raw[i]
        if _id_text(v) is None:
            return f"{path}[{i}].image_id: expected an integer or string id, got {v!r:.40}"
        return f"{path}[{i}].image_id: unknown image id {v!r:.40} (not in the ground truth)"

    p.add(bad, why)
    return np.array([-1 if f is None else f for f in found], dtype=np.int64)


def _concept_column(
    recs: list[dict[str, Any]],
    categories: dict[int, int],
    vocab: Vocabulary,
    path: str,
    p: _Problems,
) -> np.ndarray:
    """Concept per record: a known ``category_id``, else a free ``phrase`` (added to vocab)."""
    out = np.full(len(recs), -1, dtype=np.int64)
    bad: list[int] = []
    for i, r in enumerate(recs):
        cid = r.get("category_id")
        if cid is not None:
            c = categories.get(cid) if type(cid) is int else None
        else:
            phrase = r.get("phrase")
            c = vocab.add(phrase) if _is_name(phrase) else None
        if c is None:
            bad.append(i)
        else:
            out[i] = c

    def why(i: int) -> str:
        r = recs[i]
        if r.get("category_id") is not None:
            return f"{path}[{i}].category_id: unknown category {r['category_id']!r:.40}"
        return f"{path}[{i}]: needs a known category_id or a non-empty phrase"

    p.add(bad, why)
    return out


def _parse_images(recs: list[Any], what: str) -> tuple[list[str], dict[str, int]]:
    _require_dicts(recs, "images", what)
    p = _Problems(what)
    ids = [_id_text(r.get("id")) for r in recs]
    p.add(
        [i for i, t in enumerate(ids) if t is None],
        lambda i: f"images[{i}].id: expected an integer or string id",
    )
    index: dict[str, int] = {}
    dup: list[int] = []
    for i, t in enumerate(ids):
        if t is not None:
            if t in index:
                dup.append(i)
            index.setdefault(t, i)
    p.add(dup, lambda i: f"images[{i}].id: duplicate id {ids[i]}")
    p.check()
    return [t or "" for t in ids], index


def _parse_categories(recs: list[Any], what: str) -> tuple[Vocabulary, dict[int, int]]:
    _require_dicts(recs, "categories", what)
    p = _Problems(what)
    vocab, cats = Vocabulary.empty(), {}
    bad_id, bad_name, dup = [], [], []
    for i, r in enumerate(recs):
        cid, name = r.get("id"), r.get("name")
        if type(cid) is not int:
            bad_id.append(i)
        elif not _is_name(name):
            bad_name.append(i)
        elif cid in cats:
            dup.append(i)
        else:
            cats[cid] = vocab.add(name)
    p.add(bad_id, lambda i: f"categories[{i}].id: expected an integer")
    p.add(bad_name, lambda i: f"categories[{i}].name: expected a non-empty name")
    p.add(dup, lambda i: f"categories[{i}].id: duplicate id {recs[i]['id']}")
    p.check()
    return vocab, cats


def _label_keys(
    images: list[dict[str, Any]], field: str, cats: dict[int, int], p: _Problems
) -> np.ndarray:
    """LVIS per-image category lists as (image, concept) keys; unknown ids are problems."""
    img: list[int] = []
    con: list[int] = []
    bad: list[int] = []
    for i, r in enumerate(images):
        ids = r.get(field)
        if ids is None:
            continue
        if not isinstance(ids, list) or any(type(c) is not int or c not in cats for c in ids):
            bad.append(i)
            continue
        img.extend([i] * len(ids))
        con.extend(cats[c] for c in ids)
    p.add(bad, lambda i: f"images[{i}].{field}: expected a list of known category ids")
    return np.unique(pair_keys(np.array(img, dtype=np.int64), np.array(con, dtype=np.int64)))


def parse_ground_truth(data: Any, what: str = "ground_truth") -> GroundTruth:
    """Validate COCO / LVIS / open-vocabulary ground truth and return it as columns."""
    images = _records(data, "images", what)
    anns = _records(data, "annotations", what)
    image_ids, image_index = _parse_images(images, what)
    vocab, cats = _parse_categories(_records(data, "categories", what, required=False), what)
    _require_dicts(anns, "annotations", what)
    p = _Problems(what)
    ann_image = _image_column(anns, image_index, "annotations", p)
    ann_concept = _concept_column(anns, cats, vocab, "annotations", p)
    ann_box = _box_column(anns, "annotations", p)
    crowd_raw = [r.get("iscrowd", 0) for r in anns]
    p.add(
        [i for i, c in enumerate(crowd_raw) if c not in (0, 1)],
        lambda i: f"annotations[{i}].iscrowd: expected 0 or 1",
    )
    neg = _label_keys(images, "neg_category_ids", cats, p)
    not_exhaustive = _label_keys(images, "not_exhaustive_category_ids", cats, p)
    p.check()
    return GroundTruth(
        image_ids=image_ids,
        image_index=image_index,
        vocab=vocab,
        category_concept=cats,
        ann_image=ann_image,
        ann_concept=ann_concept,
        ann_box=ann_box,
        ann_crowd=np.array([c == 1 for c in crowd_raw], dtype=bool),
        federated=any("neg_category_ids" in r for r in images),
        neg_keys=neg,
        not_exhaustive_keys=not_exhaustive,
    )


def parse_predictions(data: Any, gt: GroundTruth, what: str = "predictions") -> Predictions:
    """Validate COCO-results predictions against ``gt`` and return them as columns."""
    if not isinstance(data, list):
        raise IngestError(
            what,
            [
                "expected a JSON list of COCO results "
                "({image_id, category_id or phrase, score, bbox})"
            ],
        )
    _require_dicts(data, "predictions", what)
    p = _Problems(what)
    vocab = gt.vocab.copy()
    image = _image_column(data, gt.image_index, "predictions", p)
    concept = _concept_column(data, gt.category_concept, vocab, "predictions", p)
    score = _number_column(data, "score", "predictions", p, 0.0, 1.0)
    box = _box_column(data, "predictions", p)
    p.check()
    return Predictions(image=image, concept=concept, score=score, box=box, vocab=vocab)
