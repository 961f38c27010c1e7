"""``hardneg batch --engine ray``: the same job on Ray Data, for more than one machine.

The items still to do become a Ray dataset; ``map_batches`` runs :class:`MineBatch`, a callable
class, on a fixed pool of actors (``compute=ActorPoolStrategy(size=N)``) so each actor loads the
embedder, the vocabulary index and the knowledge once and answers many batches; each actor gets a
GPU when the cluster has them. Records stream back in input order to the driver, which writes
them exactly as the local engine does (same resume rules, same file). Ray is imported only here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from hardneg.clients.cli.batch_inputs import BatchItem
from hardneg.miners.types import MineOptions, RequestItem

__all__ = ["MineBatch", "ray_records"]


def _encode(bi: BatchItem) -> str:
    item = bi.item.model_dump(mode="json") if bi.item is not None else None
    return json.dumps({"id": bi.id, "item": item, "meta": bi.meta, "note": bi.note})


def _decode(raw: str) -> BatchItem:
    d = json.loads(raw)
    item = RequestItem.model_validate(d["item"]) if d["item"] is not None else None
    return BatchItem(d["id"], item, d["meta"], d["note"])


class MineBatch:
    """One per actor: opens the in-process pipeline once (settings from the HARDNEG_ environment
    the job was given), then answers batches of items as the local engine does."""

    def __init__(self, options: str) -> None:
        from hardneg.service.local import LocalBackend

        self.options = MineOptions.model_validate_json(options)
        self.loop = asyncio.new_event_loop()
        self.backend = self.loop.run_until_complete(LocalBackend.open(options=self.options))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from hardneg.clients.cli.batch import _answer

        chunk = [_decode(str(raw)) for raw in batch["item"]]
        records = self.loop.run_until_complete(_answer(self.backend, chunk, self.options))
        return {"record": np.array([json.dumps(r, ensure_ascii=False) for r in records])}


def _env_vars() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith(("HARDNEG_", "HF_"))}


def ray_records(
    parts: Iterable[list[BatchItem]], options: MineOptions, actors: int, chunk: int
) -> Iterator[list[dict[str, Any]]]:
    """Records of every item in ``parts``, in order, mined on a pool of ``actors`` Ray actors
    (``chunk`` items per batch). Connects to the cluster ``ray.init`` finds (RAY_ADDRESS), or
    starts a local one."""
    import ray

    if not ray.is_initialized():
        ray.init(runtime_env={"env_vars": _env_vars()}, log_to_driver=False)
    rows = [{"item": _encode(bi)} for part in parts for bi in part]
    if not rows:
        return
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= actors else 0
    ds = ray.data.from_items(rows).map_batches(
        MineBatch,
        batch_size=chunk,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        fn_constructor_kwargs={"options": options.model_dump_json()},
        num_gpus=gpus,
    )
    for batch in ds.iter_batches(batch_size=chunk, batch_format="numpy"):
        yield [json.loads(str(r)) for r in batch["record"]]
