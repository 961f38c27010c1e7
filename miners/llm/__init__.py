"""The LLM miner: a language model behind an OpenAI-compatible API (vLLM) proposes negatives.

``miner`` turns replies into candidates, ``client`` speaks HTTP to the server, ``prompt`` builds
the versioned prompt and validates the JSON the model returns.
"""

from __future__ import annotations

from hardneg.miners.llm.miner import LLMMiner

__all__ = ["LLMMiner"]
