"""A request's mining options resolved against the settings, the registry and the embedder:
which miners, k, and the similarity band (or the scoring model's cap only, see
``docs/quality.md``). Checked before any work is done."""

from __future__ import annotations

from collections.abc import Sequence

from hardneg.miners.errors import InvalidInput
from hardneg.miners.types import MineOptions
from hardneg.service.mining import Resolved
from hardneg.service.rank import Band
from hardneg.service.scoring import model_for
from hardneg.service.settings import Settings
from hardneg.service.similarity import default_band


class InvalidOptions(InvalidInput):
    """The request's options cannot be honoured (checked before any work is done)."""


class UnknownMiner(InvalidOptions):
    """The request names a miner this service does not have."""


def resolve_options(
    opts: MineOptions, settings: Settings, known: Sequence[str], embedder_id: str
) -> Resolved:
    """Check miner names and fill defaults (k from HARDNEG_DEFAULT_K when the request leaves
    it unset). With a fitted scoring model and no explicit lower edge, similarity only caps."""
    if opts.miners is not None:
        unknown = sorted(set(opts.miners) - set(known))
        if unknown:
            raise UnknownMiner(f"unknown miner(s) {unknown}; known: {list(known)}")
        miners = sorted(set(opts.miners))
    else:
        miners = list(known)  # disabled ones are reported with their reason
    lo, hi = default_band(embedder_id)
    for value, is_lo in (
        (settings.min_similarity, True),
        (opts.min_similarity, True),
        (settings.max_similarity, False),
        (opts.max_similarity, False),
    ):
        if value is not None:
            lo, hi = (value, hi) if is_lo else (lo, value)
    if lo > hi:
        raise InvalidOptions(f"min_similarity {lo} is above max_similarity {hi}")
    explicit = settings.min_similarity is not None or opts.min_similarity is not None
    if not explicit and model_for(embedder_id) is not None:
        lo = min(lo, -1.0)  # a fitted scoring model judges likeness; similarity only caps
    k = opts.k if opts.k is not None else settings.default_k
    return Resolved(k=k, band=Band(lo, hi, lo_explicit=explicit), miners=miners)
