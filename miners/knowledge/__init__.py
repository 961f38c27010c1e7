"""Shared knowledge of concepts, used by every miner and by the exclusion guard.

- ``normalize``: the display form of a phrase and ``match_key``, the one phrase-equivalence rule.
- ``knowledge``: LVIS + COCO vocabulary, WordNet 3.0 synonyms/ancestors, the attribute lexicon.
- ``guard``: the exclusion guard (never the positive, a synonym, an ancestor, anything present).
- ``loaders`` and ``data/``: the shipped data files and their readers (provenance in data/README.md).
"""

from __future__ import annotations

from hardneg.miners.knowledge.guard import Guard
from hardneg.miners.knowledge.knowledge import Knowledge, VocabEntry
from hardneg.miners.knowledge.normalize import match_key, normalize, tokens

__all__ = ["Guard", "Knowledge", "VocabEntry", "match_key", "normalize", "tokens"]
