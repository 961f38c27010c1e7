"""Verdict storage: one interface, a SQLite file (default) or a Redis that fsyncs every write.

Verdicts are data, not cache, and they are lossless: a write returns only after the verdicts are
on disk (SQLite WAL with synchronous=FULL; Redis with appendfsync always), so an acknowledged
verdict survives ``kill -9`` of the service and of Redis. Reads that mining needs on every
request (an item's present negatives, a positive's counts) are one round trip each.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.verdicts import (
    BAD_VERDICTS,
    StoredVerdict,
    Verdict,
    VerdictCounts,
    VerdictWrite,
)
from hardneg.service.verdicts.settings import VerdictSettings

if TYPE_CHECKING:
    from hardneg.service.verdicts.index import VerdictIndex

__all__ = ["Entry", "SqliteVerdictStore", "VerdictStats", "VerdictStore", "open_verdict_store"]


@dataclass(frozen=True)
class Entry:
    """A verdict with what the stores index it by (match keys, counters it contributes to)."""

    verdict: Verdict
    rec: str  # canonical JSON of the verdict: equal content, equal text
    pkey: str
    nkey: str

    @classmethod
    def of(cls, v: Verdict) -> Entry:
        return cls(v, v.model_dump_json(), match_key(v.positive), match_key(v.negative))

    @property
    def bad(self) -> bool:
        return self.verdict.verdict in BAD_VERDICTS

    def stat_fields(self) -> list[str]:
        """Counters this verdict adds one to: by verdict, by miner, by kind."""
        v = self.verdict.verdict.value
        out = [f"verdict\x1f{v}"]
        out += [f"miner\x1f{m}\x1f{v}" for m in sorted(set(self.verdict.sources))]
        out.append(f"kind\x1f{self.verdict.kind.value if self.verdict.kind else 'unknown'}\x1f{v}")
        return out


@dataclass
class VerdictStats:
    """Verdict counts overall, per miner that proposed the negative, and per kind."""

    by_verdict: dict[str, int] = field(default_factory=dict)
    by_miner: dict[str, dict[str, int]] = field(default_factory=dict)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, counters: dict[str, int]) -> VerdictStats:
        out = cls()
        for name, n in counters.items():
            if n <= 0:
                continue
            parts = name.split("\x1f")
            if parts[0] == "verdict" and len(parts) == 2:
                out.by_verdict[parts[1]] = n
            elif parts[0] in ("miner", "kind") and len(parts) == 3:
                table = out.by_miner if parts[0] == "miner" else out.by_kind
                table.setdefault(parts[1], {})[parts[2]] = n
        return out


class VerdictStore(ABC):
    """Durable verdicts, indexed by id, item, positive and group. ``listeners`` hear of every
    write this process makes (the steps' index of what has verdicts)."""

    backend: str
    listeners: list[Callable[[Sequence[Verdict]], None]]
    _index: VerdictIndex | None = None

    @property
    def index(self) -> VerdictIndex:
        """This process's index of what has verdicts (made on first use, kept by the store)."""
        if self._index is None:
            from hardneg.service.verdicts.index import VerdictIndex

            self._index = VerdictIndex(self)
        return self._index

    async def warm_up(self) -> None:
        """Read the index before the first request, so items without verdicts take the
        pipeline's fast path from the start."""
        await self.index.refresh()

    async def write(self, verdicts: Sequence[Verdict]) -> VerdictWrite:
        """Store verdicts in one transaction; returns once they are on disk."""
        out = await self._write(None, verdicts)
        self._notify(verdicts)
        return out

    async def replace_group(self, group: str, verdicts: Sequence[Verdict]) -> VerdictWrite:
        """Make ``verdicts`` the whole of ``group`` (those of the group not among them go)."""
        if not group:
            raise ValueError("a group name is required")
        out = await self._write(group, verdicts)
        self._notify(verdicts)
        return out

    def _notify(self, verdicts: Sequence[Verdict]) -> None:
        for listener in getattr(self, "listeners", ()):
            listener(verdicts)

    @abstractmethod
    async def _write(self, group: str | None, verdicts: Sequence[Verdict]) -> VerdictWrite:
        """One transaction: with a group, replace the group's verdicts; else add or replace."""

    @abstractmethod
    async def with_verdicts(self) -> tuple[set[str], set[str]]:
        """Match keys of the positives that have verdicts, and ids of the items with a
        ``present`` verdict: what the steps need to know to skip an item without I/O."""

    @abstractmethod
    async def delete(self, verdict_id: str) -> bool:
        """Remove one verdict; False when there was none with that id."""

    @abstractmethod
    async def by_item(self, item_id: str, limit: int) -> list[StoredVerdict]: ...

    @abstractmethod
    async def by_positive(self, positive: str, limit: int) -> list[StoredVerdict]:
        """Verdicts whose positive has the same match key as ``positive``."""

    @abstractmethod
    async def export(self, since: int, limit: int) -> list[StoredVerdict]:
        """Verdicts with ``seq > since``, in log order (resume from the last seq seen)."""

    @abstractmethod
    async def present_on_item(self, item_id: str) -> set[str]:
        """Match keys of the negatives judged present on the item (one round trip)."""

    @abstractmethod
    async def counts(self, positive: str, negatives: Sequence[str]) -> dict[str, VerdictCounts]:
        """Per negative match key (only those with verdicts), distinct items per verdict for
        this positive (one round trip)."""

    @abstractmethod
    async def stats(self) -> VerdictStats: ...

    @abstractmethod
    async def aclose(self) -> None: ...


def open_verdict_store(settings: VerdictSettings) -> VerdictStore:
    """Redis when ``verdict_redis_url`` is set, else the SQLite file; nothing connects here."""
    if settings.verdict_redis_url:
        from hardneg.service.verdicts.store_redis import RedisVerdictStore

        return RedisVerdictStore(
            settings.verdict_redis_url, require_fsync=settings.verdict_redis_require_fsync
        )
    return SqliteVerdictStore(Path(settings.verdict_store_path))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE,
    item_id TEXT NOT NULL, pkey TEXT NOT NULL, nkey TEXT NOT NULL, verdict TEXT NOT NULL,
    grp TEXT NOT NULL, received_at REAL NOT NULL, rec TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS verdicts_by_pos ON verdicts (pkey, nkey, verdict, item_id);
CREATE INDEX IF NOT EXISTS verdicts_by_item ON verdicts (item_id, verdict);
CREATE INDEX IF NOT EXISTS verdicts_by_grp ON verdicts (grp);
CREATE TABLE IF NOT EXISTS verdict_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""
_BAD = tuple(v.value for v in BAD_VERDICTS)
_COLS = "rec, received_at, seq"


def _stored(row: tuple[Any, ...]) -> StoredVerdict:
    rec, received_at, seq = row
    return StoredVerdict.model_validate({**json.loads(rec), "received_at": received_at, "seq": seq})


class SqliteVerdictStore(VerdictStore):
    """A local SQLite file (WAL, synchronous=FULL): a committed write survives a power cut.
    Several processes (workers, the CLI) may share it; writers serialise on SQLite's lock."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listeners = []
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.Lock()  # one connection, used from worker threads

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            if self._conn is None and not self.path.exists():
                return []  # nothing stored yet: no file is made by reading
            return self._connect().execute(sql, tuple(args)).fetchall()

    def _transaction(self, group: str | None, verdicts: Sequence[Verdict]) -> VerdictWrite:
        entries = [Entry.of(v) for v in verdicts]
        with self._mutex:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")  # the write lock first: no lost update
            try:
                out = _Writer(conn).run(group, entries)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return out

    async def _write(self, group: str | None, verdicts: Sequence[Verdict]) -> VerdictWrite:
        return await asyncio.to_thread(self._transaction, group, verdicts)

    async def with_verdicts(self) -> tuple[set[str], set[str]]:
        pkeys = await asyncio.to_thread(self._read, "SELECT DISTINCT pkey FROM verdicts")
        items = await asyncio.to_thread(
            self._read, "SELECT DISTINCT item_id FROM verdicts WHERE verdict = 'present'"
        )
        return {r[0] for r in pkeys}, {r[0] for r in items}

    def _delete_sync(self, verdict_id: str) -> bool:
        with self._mutex:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = _Writer(conn).remove(verdict_id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return found

    async def delete(self, verdict_id: str) -> bool:
        return await asyncio.to_thread(self._delete_sync, verdict_id)

    async def by_item(self, item_id: str, limit: int) -> list[StoredVerdict]:
        sql = f"SELECT {_COLS} FROM verdicts WHERE item_id = ? ORDER BY seq LIMIT ?"
        return [_stored(r) for r in await asyncio.to_thread(self._read, sql, (item_id, limit))]

    async def by_positive(self, positive: str, limit: int) -> list[StoredVerdict]:
        sql = f"SELECT {_COLS} FROM verdicts WHERE pkey = ? ORDER BY seq LIMIT ?"
        args = (match_key(positive), limit)
        return [_stored(r) for r in await asyncio.to_thread(self._read, sql, args)]

    async def export(self, since: int, limit: int) -> list[StoredVerdict]:
        sql = f"SELECT {_COLS} FROM verdicts WHERE seq > ? ORDER BY seq LIMIT ?"
        return [_stored(r) for r in await asyncio.to_thread(self._read, sql, (since, limit))]

    async def present_on_item(self, item_id: str) -> set[str]:
        sql = "SELECT DISTINCT nkey FROM verdicts WHERE item_id = ? AND verdict = 'present'"
        return {r[0] for r in await asyncio.to_thread(self._read, sql, (item_id,))}

    async def counts(self, positive: str, negatives: Sequence[str]) -> dict[str, VerdictCounts]:
        keys = sorted({match_key(n) for n in negatives})
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        bad = ",".join("?" * len(_BAD))
        sql = (
            f"SELECT nkey, verdict, COUNT(DISTINCT item_id) FROM verdicts WHERE pkey = ?"
            f" AND nkey IN ({marks}) GROUP BY nkey, verdict UNION ALL"
            f" SELECT nkey, 'bad', COUNT(DISTINCT item_id) FROM verdicts WHERE pkey = ?"
            f" AND nkey IN ({marks}) AND verdict IN ({bad}) GROUP BY nkey"
        )
        pkey = match_key(positive)
        rows = await asyncio.to_thread(self._read, sql, (pkey, *keys, pkey, *keys, *_BAD))
        out: dict[str, VerdictCounts] = {}
        for nkey, verdict, n in rows:
            setattr(out.setdefault(nkey, VerdictCounts()), verdict, n)
        return out

    async def stats(self) -> VerdictStats:
        rows = await asyncio.to_thread(self._read, "SELECT name, n FROM verdict_counters")
        return VerdictStats.from_fields({str(name): int(n) for name, n in rows})

    async def aclose(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _Writer:
    """The statements of one write transaction (the caller holds the lock and commits)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.out = VerdictWrite(stored=0, duplicates=0, replaced=0, ids=[])

    def run(self, group: str | None, entries: Sequence[Entry]) -> VerdictWrite:
        if group is not None:
            keep = {e.verdict.id for e in entries}
            rows = self.conn.execute("SELECT id FROM verdicts WHERE grp = ?", (group,)).fetchall()
            for (old,) in rows:
                if old not in keep and self.remove(old):
                    self.out.deleted += 1
        for e in entries:
            self.put(e)
        return self.out

    def put(self, e: Entry) -> None:
        self.out.ids.append(e.verdict.id)
        row = self.conn.execute("SELECT rec FROM verdicts WHERE id = ?", (e.verdict.id,)).fetchone()
        if row is not None and row[0] == e.rec:
            self.out.duplicates += 1
            return
        if row is not None:
            self.remove(e.verdict.id)
            self.out.replaced += 1
        else:
            self.out.stored += 1
        self.conn.execute(
            "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                e.verdict.id,
                self._next_seq(),
                e.verdict.item_id,
                e.pkey,
                e.nkey,
                e.verdict.verdict.value,
                e.verdict.group,
                time.time(),
                e.rec,
            ),
        )
        self._count(e.stat_fields(), 1)

    def remove(self, verdict_id: str) -> bool:
        row = self.conn.execute("SELECT rec FROM verdicts WHERE id = ?", (verdict_id,)).fetchone()
        if row is None:
            return False
        self.conn.execute("DELETE FROM verdicts WHERE id = ?", (verdict_id,))
        self._count(Entry.of(Verdict.model_validate_json(row[0])).stat_fields(), -1)
        return True

    def _next_seq(self) -> int:
        row = self.conn.execute(
            "INSERT INTO verdict_counters VALUES ('seq', 1)"
            " ON CONFLICT(name) DO UPDATE SET n = n + 1 RETURNING n"
        ).fetchone()
        return int(row[0])

    def _count(self, names: list[str], delta: int) -> None:
        self.conn.executemany(
            "INSERT INTO verdict_counters VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET n = n + excluded.n",
            [(n, delta) for n in names],
        )
