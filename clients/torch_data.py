"""PyTorch helpers: an ``IterableDataset`` that adds negatives to each example, fetched ahead
of training, and a ``collate_fn`` that keeps per-example lists (negatives, labels) as lists.

Imports torch (a training job has it); ``hardneg.clients`` itself never does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from torch.utils.data import IterableDataset, default_collate, get_worker_info

from hardneg.clients.client import Client
from hardneg.clients.loaders import ToItem, prefetch_negatives
from hardneg.miners.types import ItemResult

__all__ = ["NegativesDataset", "collate_with_negatives"]


def _attach(example: dict[str, Any], result: ItemResult) -> dict[str, Any]:
    return {**example, "negatives": [n.phrase for n in result.negatives]}


class NegativesDataset(IterableDataset[dict[str, Any]]):
    """Wraps an iterable of examples (dicts); yields each with ``negatives`` added. Each
    DataLoader worker reads its own share of ``source`` and opens its own client to ``url``;
    ``prefetch`` batches of ``batch_size`` are asked ahead while the current one trains."""

    def __init__(
        self,
        source: Iterable[dict[str, Any]],
        url: str,
        to_item: ToItem,
        batch_size: int = 32,
        prefetch: int = 2,
        attach: Callable[[dict[str, Any], ItemResult], dict[str, Any]] = _attach,
        client_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.source, self.url, self.to_item = source, url, to_item
        self.batch_size, self.prefetch, self.attach = batch_size, prefetch, attach
        self.client_options = client_options or {}
        self.options = options

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        examples: Iterable[dict[str, Any]] = self.source
        if info is not None:  # worker i of n takes examples i, i+n, ...
            examples = itertools.islice(self.source, info.id, None, info.num_workers)
        with Client(self.url, **self.client_options) as client:
            pairs = prefetch_negatives(
                examples, client, self.to_item, self.batch_size, self.prefetch, **self.options
            )
            for example, result in pairs:
                yield self.attach(example, result)


def collate_with_negatives(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """``default_collate`` for tensors and numbers; ``negatives`` and every other list-valued
    field (label lists of varying length) stay lists, one per example."""
    lists = {k for k, v in batch[0].items() if isinstance(v, list)}
    out: dict[str, Any] = default_collate(
        [{k: v for k, v in example.items() if k not in lists} for example in batch]
    )
    for k in lists:
        out[k] = [example[k] for example in batch]
    return out
