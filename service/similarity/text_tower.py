"""Encode token ids with an open_clip text tower, using only the token positions a batch needs.

open_clip's text towers are causal and pool one token (the end-of-text token for ``argmax``/``eos``
pooling), so the positions after the longest phrase's pooled token never influence the result:
slicing token ids, positional embedding and causal mask to that length gives the same embedding
for a fraction of the work. Towers where that does not hold (bidirectional attention, a class
token, ``last``/mean pooling, Hugging Face text encoders) are encoded at full context instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# Pool types whose pooled position is known from the token ids alone.
TRIMMABLE_POOLS = ("argmax", "eos", "first")


@dataclass
class TextParts:
    """The pieces of a causal open_clip text tower, whichever model class holds them."""

    token_embedding: Any
    positional_embedding: Any
    transformer: Any
    attn_mask: Any
    ln_final: Any
    text_projection: Any
    pool_type: str
    eos_id: int | None


def text_parts(model: Any) -> tuple[TextParts | None, str]:
    """The trimmable text tower of ``model``, or None and the reason it cannot be trimmed."""
    if hasattr(model, "token_embedding") and hasattr(model, "text_pool_type"):  # CLIP
        tower, pool, eos = model, model.text_pool_type, getattr(model, "text_eos_id", None)
    elif type(getattr(model, "text", None)).__name__ == "TextTransformer":  # CustomTextCLIP
        tower = model.text
        pool, eos = tower.pool_type, getattr(tower, "eos_id", None)
        if tower.cls_emb is not None:
            return None, "text tower appends a class token (CoCa style)"
        if getattr(tower, "use_pad_mask", False):
            return None, "text tower masks padding (bidirectional)"
    else:
        kind = type(getattr(model, "text", model)).__name__
        return None, f"text tower {kind} has no trimmable causal transformer"
    if getattr(tower, "attn_mask", None) is None:
        return None, "text tower is bidirectional (no causal mask)"
    if pool not in TRIMMABLE_POOLS:
        return None, f"text tower pools with {pool!r}, which reads every position"
    parts = TextParts(
        token_embedding=tower.token_embedding,
        positional_embedding=tower.positional_embedding,
        transformer=tower.transformer,
        attn_mask=tower.attn_mask,
        ln_final=tower.ln_final,
        text_projection=tower.text_projection,
        pool_type=pool,
        eos_id=eos,
    )
    return parts, "ok"


def pooled_positions(tokens: torch.Tensor, pool_type: str, eos_id: int | None) -> torch.Tensor:
    """Index of the token each row is pooled from (mirrors open_clip's ``text_global_pool``)."""
    import torch

    if pool_type == "argmax":
        return tokens.argmax(dim=-1)
    if pool_type == "eos":
        if eos_id is None:
            raise ValueError("eos pooling needs an eos token id")
        return (tokens == eos_id).int().argmax(dim=-1)
    if pool_type == "first":
        return torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)
    raise ValueError(f"pool type {pool_type!r} is not trimmable")


def length_batches(
    lengths: list[int], batch_size: int, min_batch: int = 32, slack: float = 1.3
) -> list[tuple[int, int]]:
    """Cut length-sorted rows into [start, end) batches of at most ``batch_size`` rows.

    A trimmed batch costs rows x its longest row, so a batch is also closed early (once it has
    ``min_batch`` rows, enough for efficient matrix products) when the next row is more than
    ``slack`` times longer than the batch's first: one long phrase no longer pads 200 short ones.
    """
    cuts: list[tuple[int, int]] = []
    start = 0
    for i, n in enumerate(lengths):
        size = i - start
        if size == batch_size or (size >= min_batch and n > slack * lengths[start]):
            cuts.append((start, i))
            start = i
    if start < len(lengths):
        cuts.append((start, len(lengths)))
    return cuts


def encode_trimmed(parts: TextParts, tokens: torch.Tensor) -> torch.Tensor:
    """Unnormalised text features of ``tokens`` computed on the first L positions only.

    L = last pooled position + 1. Same steps as open_clip's ``CLIP.encode_text`` /
    ``TextTransformer.forward``, with the positional embedding and causal mask sliced to L.
    """
    from open_clip.transformer import text_global_pool
    from torch import nn

    length = int(pooled_positions(tokens, parts.pool_type, parts.eos_id).max()) + 1
    text = tokens[:, :length]
    cast_dtype = parts.transformer.get_cast_dtype()
    x = parts.token_embedding(text).to(cast_dtype)
    x = x + parts.positional_embedding[:length].to(cast_dtype)
    x = parts.transformer(x, attn_mask=parts.attn_mask[:length, :length])
    x = parts.ln_final(x)
    x = text_global_pool(x, text, parts.pool_type, eos_token_id=parts.eos_id)
    proj = parts.text_projection
    if proj is None:
        return x
    return proj(x) if isinstance(proj, nn.Linear) else x @ proj


def encode_full(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """Unnormalised text features through open_clip's own full-context ``encode_text``."""
    return model.encode_text(tokens)
