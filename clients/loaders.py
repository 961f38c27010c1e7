"""Negatives for training data loaders: prefetched while the current batch trains, and a
Hugging Face ``datasets`` ``.map(batched=True)`` function.

Light like the client: threads and httpx only (torch lives in ``hardneg.clients.torch_data``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from hardneg.clients.client import Client, _batches
from hardneg.miners.types import ItemResult, RequestItem

__all__ = ["negatives_map", "prefetch_negatives"]

T = TypeVar("T")
ToItem = Callable[[Any], RequestItem | dict[str, Any]]
_DONE = object()


def prefetch_negatives(
    examples: Iterable[T],
    client: Client,
    to_item: ToItem,
    batch_size: int = 32,
    prefetch: int = 2,
    **options: Any,
) -> Iterator[tuple[T, ItemResult]]:
    """(example, its negatives) in order; a worker thread asks the service for the next
    ``prefetch`` batches of ``batch_size`` while the caller works on the current one. Errors of
    the service (after the client's retries) are raised in the caller."""
    q: queue.Queue[Any] = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()

    def put(value: Any) -> None:
        while not stop.is_set():
            try:
                q.put(value, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            for batch in _batches(examples, batch_size):  # type: ignore[arg-type]
                if stop.is_set():
                    return
                resp = client.negatives([to_item(x) for x in batch], **options)
                put((batch, resp.items))
        except BaseException as exc:  # handed to the caller, raised there
            put(exc)
        finally:
            put(_DONE)

    thread = threading.Thread(target=work, name="hardneg-prefetch", daemon=True)
    thread.start()
    try:
        while (got := q.get()) is not _DONE:
            if isinstance(got, BaseException):
                raise got
            yield from zip(*got, strict=True)
    finally:
        stop.set()
        thread.join(timeout=5)


def negatives_map(
    client: Client | str,
    to_item: ToItem,
    column: str = "negatives",
    batch_size: int = 256,
    **options: Any,
) -> Callable[[dict[str, list[Any]]], dict[str, list[Any]]]:
    """A function for ``Dataset.map(fn, batched=True)``: adds ``column`` (the negatives'
    phrases per row). Pass a URL rather than a client when ``map`` runs in several processes."""
    state: dict[str, Client] = {}

    def fn(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        c = client if isinstance(client, Client) else state.setdefault("c", Client(client))
        n = len(next(iter(batch.values()), []))
        rows = [{name: values[i] for name, values in batch.items()} for i in range(n)]
        results = c.negatives_batched([to_item(r) for r in rows], batch_size, **options)
        return {column: [[neg.phrase for neg in r.negatives] for r in results]}

    return fn
