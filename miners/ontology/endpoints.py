"""Where the queries run: the shipped snapshot in-process (pyoxigraph), and a caching wrapper.

The in-process endpoint answers the same ``.rq`` queries as a remote one, so the miner has a
single code path; the cache wrapper keeps results with the miners' cache helper (``hardneg.miners.cache``).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
from pathlib import Path
from typing import Any

from hardneg.miners.cache import CacheLike, MinerCache
from hardneg.miners.ontology.sparql import Bindings, Endpoint, SparqlBadQuery, SparqlTimeout

log = logging.getLogger(__name__)


class SnapshotError(ValueError):
    """The snapshot file is missing or unreadable."""


class LocalEndpoint:
    """A snapshot loaded into an in-memory pyoxigraph store (read-only after loading)."""

    def __init__(self, path: Path) -> None:
        try:
            import pyoxigraph as ox
        except ImportError as exc:  # the service extra brings it
            raise SnapshotError(
                "pyoxigraph is not installed: pip install 'hardneg[service]'"
            ) from exc
        self._ox = ox
        self.path = Path(path)
        self.store = ox.Store()
        try:
            data = (
                gzip.decompress(self.path.read_bytes())
                if self.path.suffix == ".gz"
                else self.path.read_bytes()
            )
            self.store.bulk_load(input=data, format=ox.RdfFormat.N_TRIPLES)
        except (OSError, EOFError, gzip.BadGzipFile, SyntaxError) as exc:
            raise SnapshotError(f"cannot load ontology snapshot {self.path}: {exc}") from exc
        self.id = f"local:{self.path.name}"

    def select_sync(self, query: str) -> Bindings:
        try:
            solutions = self.store.query(query)
        except SyntaxError as exc:
            raise SparqlBadQuery(f"local snapshot rejected the query: {exc}") from exc
        if not isinstance(solutions, self._ox.QuerySolutions):
            raise SparqlBadQuery("only SELECT queries are answered here")
        columns = list(enumerate(v.value for v in solutions.variables))
        rows: Bindings = []
        for sol in solutions:  # by index: several times faster than by name
            row = {}
            for i, name in columns:
                term = sol[i]
                if term is not None:
                    row[name] = term.value
            rows.append(row)
        return rows

    async def select(self, query: str, *, deadline: float | None = None) -> Bindings:
        if deadline is None:
            return self.select_sync(query)
        left = deadline - time.monotonic()
        if left <= 0:
            raise SparqlTimeout("deadline passed before the query started")
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.select_sync, query), left)
        except TimeoutError as exc:
            raise SparqlTimeout(f"local snapshot query took longer than {left:.2f}s") from exc

    async def aclose(self) -> None:
        return None


class CachedEndpoint:
    """An endpoint whose SELECT results are kept by the miners' cache helper: in-process LRU,
    then the service cache (Redis in service mode), under keys naming the miner version,
    endpoint and snapshot (``ontology:<namespace>:<digest of the query>``)."""

    def __init__(
        self, inner: Endpoint, cache: CacheLike | None, ttl_s: int, namespace: str
    ) -> None:
        self.inner = inner
        self.id = inner.id
        self._backend, self._ttl_s = cache, ttl_s
        self.cache = self._make(namespace)

    def _make(self, namespace: str) -> MinerCache[Bindings]:
        return MinerCache(
            self._backend,
            f"ontology:{namespace}",
            self._ttl_s,
            encode=lambda rows: json.dumps(rows).encode(),
            decode=_decode_bindings,
        )

    @property
    def namespace(self) -> str:
        return self.cache.namespace.removeprefix("ontology:")

    @namespace.setter
    def namespace(self, value: str) -> None:
        """A remote endpoint's snapshot id is known only after its first answer: new keys."""
        self.cache = self._make(value)

    @property
    def stats(self) -> dict[str, int]:
        return self.cache.stats

    def key(self, query: str) -> str:
        return self.cache.key(query)  # the service cache adds "hardneg:"

    async def select(self, query: str, *, deadline: float | None = None) -> Bindings:
        rows = await self.cache.get(query)
        if rows is None:
            rows = await self.inner.select(query, deadline=deadline)
            await self.cache.set(query, rows)
        return rows

    async def aclose(self) -> None:
        await self.inner.aclose()


def _decode_bindings(blob: bytes) -> Bindings | None:
    rows: Any = json.loads(blob)
    if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
        return rows
    return None
