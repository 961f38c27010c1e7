"""Vocabulary miner: nearest neighbours of the positive in a FAISS index over a concept vocabulary.

The default vocabulary is the LVIS v1 + COCO category names and synonyms shipped in
``hardneg.miners.knowledge.data``; ``HARDNEG_VOCAB_PATH`` points at any other list of phrases
(``hardneg index build --vocab FILE`` builds and stores its index ahead of time).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardneg.miners.base import (
    AsyncEmbedder,
    MineQuery,
    MinerBase,
    MinerContext,
    MinerOutput,
    MinerUnavailable,
    Progress,
)
from hardneg.miners.knowledge import Knowledge
from hardneg.miners.knowledge.normalize import match_key, normalize
from hardneg.miners.types import Candidate
from hardneg.miners.vocabulary.settings import VocabularySettings

if TYPE_CHECKING:
    from hardneg.miners.base import Embedder
    from hardneg.service.similarity.index import VectorIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Vocabulary:
    """Phrases to index, each pointing at the canonical concept it names."""

    phrases: list[str]
    canonical: list[str]
    meta: list[dict[str, Any]]
    source: str

    @property
    def digest(self) -> str:
        blob = json.dumps([self.phrases, self.canonical], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def default_vocabulary(knowledge: Knowledge) -> Vocabulary:
    """LVIS v1 + COCO names and synonyms; synonyms map back to their category's name."""
    phrases: list[str] = []
    canonical: list[str] = []
    meta: list[dict[str, Any]] = []
    for entry in knowledge.vocabulary():
        info = {"lvis_id": entry.lvis_id, "coco_id": entry.coco_id, "synset": entry.synset}
        seen: set[str] = set()
        for phrase in (entry.phrase, *entry.synonyms):
            key = match_key(phrase)
            if key in seen:
                continue
            seen.add(key)
            phrases.append(phrase)
            canonical.append(entry.phrase)
            meta.append(info)
    return Vocabulary(phrases, canonical, meta, source="lvis-v1+coco2017")


def load_vocabulary_file(path: Path) -> Vocabulary:
    """A JSON list of strings or a text file with one phrase a line (blank lines and # comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MinerUnavailable(f"cannot read vocabulary {path}: {exc.strerror}") from exc
    if path.suffix == ".json":
        raw = json.loads(text)
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            raise MinerUnavailable(f"vocabulary {path} must be a JSON list of strings")
        items = raw
    else:
        items = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    phrases = list(dict.fromkeys(normalize(p) for p in items if normalize(p)))
    if not phrases:
        raise MinerUnavailable(f"vocabulary {path} holds no phrases")
    return Vocabulary(phrases, phrases, [{} for _ in phrases], source=f"file:{path.name}")


def index_path(index_dir: Path, vocab: Vocabulary, embedder_id: str) -> Path:
    tag = hashlib.sha256(f"{vocab.digest}|{embedder_id}".encode()).hexdigest()[:16]
    return index_dir / f"vocab-{tag}.faiss"


def build_index(
    vocab: Vocabulary,
    embedder: Embedder,
    approx_threshold: int,
    batch_size: int = 512,
    progress: Progress | None = None,
) -> VectorIndex:
    """Encode every phrase (in batches, reporting progress) and index the vectors."""
    import numpy as np

    from hardneg.service.similarity.index import VectorIndex

    chunks: list[np.ndarray] = []
    for start in range(0, len(vocab.phrases), batch_size):
        chunks.append(embedder.encode_text(vocab.phrases[start : start + batch_size]))
        if progress is not None:
            progress(min(start + batch_size, len(vocab.phrases)), len(vocab.phrases))
    vectors = np.concatenate(chunks).astype("float32")
    index = VectorIndex(vectors.shape[1], approx_threshold=approx_threshold)
    index.build(vectors)
    return index


def load_or_build_index(
    vocab: Vocabulary,
    embedder: Embedder,
    settings: VocabularySettings,
    progress: Progress | None = None,
) -> VectorIndex:
    """The stored index for (vocabulary, embedder) if there is one, else build and store it."""
    from hardneg.service.similarity.index import VectorIndex

    path = index_path(Path(settings.index_dir), vocab, embedder.id)
    if path.exists():
        try:
            return VectorIndex.load(path)
        except Exception as exc:  # a corrupt file is rebuilt, not fatal
            log.warning("rebuilding vocabulary index %s: %s", path, exc)
    log.info("building vocabulary index over %d phrases with %s", len(vocab.phrases), embedder.id)
    index = build_index(vocab, embedder, settings.approx_index_threshold, progress=progress)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        index.save(path)
    except OSError as exc:
        log.warning("could not store vocabulary index at %s: %s", path, exc)
    return index


class VocabularyMiner(MinerBase):
    """Proposes the concepts of the vocabulary nearest to the positive."""

    name = "vocabulary"
    version = "1"

    def __init__(self, ctx: MinerContext) -> None:
        if ctx.embedder is None:
            raise MinerUnavailable("no embedder")
        settings = ctx.section(VocabularySettings)
        self._knowledge: Knowledge = ctx.knowledge_or_default()
        path = settings.vocab_path
        self.vocab = (
            load_vocabulary_file(Path(path)) if path else default_vocabulary(self._knowledge)
        )
        self.version = f"1+{self.vocab.digest[:8]}"
        self.snapshot_id = f"{self.vocab.source}@{self.vocab.digest[:8]}"
        self._embedder: AsyncEmbedder = ctx.embedder
        self._settings = settings
        self._index: VectorIndex | None = None
        self._lock = asyncio.Lock()

    async def ready(self, progress: Progress | None = None) -> None:
        await self.index(progress)

    async def index(self, progress: Progress | None = None) -> VectorIndex:
        """Load or build the index once (in a worker thread: it encodes the whole vocabulary)."""
        async with self._lock:
            if self._index is None:
                self._index = await asyncio.to_thread(
                    load_or_build_index, self.vocab, self._embedder, self._settings, progress
                )
                self._remember_rows(self._index)
        return self._index

    def _remember_rows(self, index: VectorIndex) -> None:
        """The index's rows are the embedder's vectors of the vocabulary phrases: handed to
        the embedder so ranking does not encode the candidates again (most of cold mining)."""
        rows = index.stored_vectors()
        if rows is None or len(rows) != len(self.vocab.phrases):
            return
        self._embedder.remember(
            {p: rows[i] for i, p in enumerate(self.vocab.phrases) if normalize(p) == p}
        )

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        """Neighbours of the positive and of its head noun ("school bus" for "yellow school bus"):
        attribute words pull text embeddings towards other yellow things, the head keeps types."""
        index = await self.index()
        _, head = self._knowledge.split_attributes(query.positive)
        texts = list(dict.fromkeys([query.positive, head or query.positive]))
        vecs = await self._embedder.encode(texts)
        want = min(index.size, max(query.k * 4, 64))
        scores, ids = await asyncio.to_thread(index.search, vecs, want)
        best: dict[int, float] = {}
        for row_scores, row_ids in zip(scores.tolist(), ids.tolist(), strict=True):
            for score, idx in zip(row_scores, row_ids, strict=True):
                if idx >= 0 and score > best.get(idx, -2.0):
                    best[idx] = score
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        return MinerOutput(candidates=self._candidates(query.positive, ranked))

    def _candidates(self, positive: str, ranked: list[tuple[int, float]]) -> list[Candidate]:
        out: dict[str, Candidate] = {}
        for idx, score in ranked:
            phrase = self.vocab.canonical[idx]
            if phrase in out:
                continue
            evidence = {"vocabulary": self.vocab.source, "matched": self.vocab.phrases[idx]}
            evidence.update({k: v for k, v in self.vocab.meta[idx].items() if v is not None})
            out[phrase] = Candidate(
                phrase=phrase,
                for_positive=positive,
                source=self.name,
                score=float(score),
                evidence=evidence,
            )
        return list(out.values())


def vocabulary_from_phrases(phrases: Sequence[str], source: str) -> Vocabulary:
    clean = list(dict.fromkeys(normalize(p) for p in phrases if normalize(p)))
    return Vocabulary(clean, clean, [{} for _ in clean], source=source)
