"""The confusion table's storage: one interface, a SQLite file (embedded, CLI) or Redis (service).

The table is data, not cache: nothing expires, every ingest is one transaction, and a file pair
already ingested for a round is answered from its stored stats instead of counted twice.
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from hardneg.miners.false_positive.records import (
    EMPTY_VERSION,
    Existing,
    IngestReport,
    IngestStats,
    Plan,
    Prepared,
    Record,
    RoundStats,
    plan_ingest,
)
from hardneg.miners.false_positive.settings import FalsePositiveSettings

# An ingest through a store changes its version at once; ingests made by other processes (other
# workers on the same Redis, the CLI on the same SQLite file) are seen within this many seconds.
VERSION_READ_EVERY_S = 1.0


class FPStore(ABC):
    """Per present concept its confusions, per image its image-level false positives, rounds."""

    backend: str
    _last_version: str = EMPTY_VERSION
    _version_read_at: float = -math.inf

    @abstractmethod
    async def apply(self, prep: Prepared) -> IngestReport:
        """Commit one prepared file pair atomically (or replay its stored report)."""

    @abstractmethod
    async def rounds(self) -> list[RoundStats]:
        """Every round, oldest first."""

    async def version(self) -> str:
        """Data version: changes with every ingest that changed the table (see
        ``VERSION_READ_EVERY_S`` for ingests made by other processes)."""
        now = time.monotonic()
        if now - self._version_read_at >= VERSION_READ_EVERY_S:
            self._last_version = await self._read_version()
            self._version_read_at = now
        return self._last_version

    @abstractmethod
    async def _read_version(self) -> str:
        """The data version as stored now."""

    def _bump(self, version: str) -> None:
        """An ingest through this store changed the data: its version, at once."""
        self._last_version, self._version_read_at = version, time.monotonic()

    @abstractmethod
    async def confusions(self, present: str) -> dict[str, Record]:
        """Predicted phrase -> record, for false positives overlapping instances of the concept
        whose key (``ingest.key_of``) is ``present``."""

    @abstractmethod
    async def image_false_positives(self, image_id: str) -> dict[str, Record]:
        """Concept -> record, for concepts predicted on the image but absent from it."""

    @abstractmethod
    async def aclose(self) -> None: ...

    def peek_version(self) -> str:
        """The data version without I/O: the last one this store has seen."""
        return self._last_version


def open_store(settings: FalsePositiveSettings) -> FPStore:
    """Redis when ``settings.redis_url`` is set, else the SQLite file ``fp_store_path``.

    Nothing connects or creates files here; the first call that needs the store does.
    """
    if settings.redis_url:
        from hardneg.miners.false_positive.store_redis import RedisStore

        return RedisStore(settings.redis_url)
    return SqliteStore(Path(settings.fp_store_path))


def replay_report(stats: IngestStats, current: RoundStats, version: str) -> IngestReport:
    return IngestReport(
        round=stats.round,
        content_hash=stats.content_hash,
        already_ingested=True,
        ingest=stats,
        stats=current,
        version=version,
    )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS fp_pairs (present TEXT NOT NULL, predicted TEXT NOT NULL,
    rec TEXT NOT NULL, PRIMARY KEY (present, predicted)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fp_images (image_id TEXT NOT NULL, concept TEXT NOT NULL,
    rec TEXT NOT NULL, PRIMARY KEY (image_id, concept)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fp_rounds (name TEXT PRIMARY KEY, seq INTEGER NOT NULL,
    rec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fp_ingests (round TEXT NOT NULL, hash TEXT NOT NULL,
    rec TEXT NOT NULL, PRIMARY KEY (round, hash));
CREATE TABLE IF NOT EXISTS fp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SqliteStore(FPStore):
    """A local SQLite file (WAL, synchronous=FULL: a committed ingest survives a power cut).

    Several processes may share the file: writers serialise on SQLite's own lock.
    """

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.Lock()  # one connection, used from worker threads

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is None:
            if not create and not self.path.exists():
                return None  # reading an absent table: empty, and leave no file behind
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            conn = self._connect(create=False)
            return [] if conn is None else conn.execute(sql, args).fetchall()

    def _version_sync(self) -> str:
        rows = self._read("SELECT value FROM fp_meta WHERE key = 'version'")
        self._last_version = rows[0][0] if rows else EMPTY_VERSION
        return self._last_version

    def peek_version(self) -> str:
        """Read live: a local file read costs microseconds, and another process may write."""
        return self._version_sync()

    async def _read_version(self) -> str:
        return await asyncio.to_thread(self._version_sync)

    async def rounds(self) -> list[RoundStats]:
        rows = await asyncio.to_thread(self._read, "SELECT rec FROM fp_rounds ORDER BY seq")
        return [RoundStats.model_validate_json(r[0]) for r in rows]

    async def confusions(self, present: str) -> dict[str, Record]:
        rows = await asyncio.to_thread(
            self._read, "SELECT predicted, rec FROM fp_pairs WHERE present = ?", (present,)
        )
        return {p: json.loads(rec) for p, rec in rows}

    async def image_false_positives(self, image_id: str) -> dict[str, Record]:
        rows = await asyncio.to_thread(
            self._read, "SELECT concept, rec FROM fp_images WHERE image_id = ?", (image_id,)
        )
        return {c: json.loads(rec) for c, rec in rows}

    async def apply(self, prep: Prepared) -> IngestReport:
        return await asyncio.to_thread(self._apply_sync, prep)

    def _apply_sync(self, prep: Prepared) -> IngestReport:
        with self._mutex:
            conn = self._connect(create=True)
            assert conn is not None
            conn.execute("BEGIN IMMEDIATE")  # take the write lock before reading: no lost update
            try:
                report = self._apply_locked(conn, prep)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._bump(report.version)
        return report

    def _apply_locked(self, conn: sqlite3.Connection, prep: Prepared) -> IngestReport:
        done = conn.execute(
            "SELECT rec FROM fp_ingests WHERE round = ? AND hash = ?",
            (prep.round, prep.content_hash),
        ).fetchone()
        existing = self._existing(conn, prep, touched=done is None)
        if done is not None:
            assert existing.round is not None
            return replay_report(
                IngestStats.model_validate_json(done[0]), existing.round, existing.version
            )
        plan = plan_ingest(existing, prep)
        self._write(conn, plan)
        return plan.report()

    @staticmethod
    def _existing(conn: sqlite3.Connection, prep: Prepared, touched: bool) -> Existing:
        """The round, the version and (when ``touched``) the records the file touches."""
        ex = Existing()
        for d in prep.pairs if touched else ():
            row = conn.execute(
                "SELECT rec FROM fp_pairs WHERE present = ? AND predicted = ?",
                (d.present, d.predicted),
            ).fetchone()
            if row is not None:
                ex.pairs[(d.present, d.predicted)] = json.loads(row[0])
        for i in prep.images if touched else ():
            row = conn.execute(
                "SELECT rec FROM fp_images WHERE image_id = ? AND concept = ?",
                (i.image_id, i.concept),
            ).fetchone()
            if row is not None:
                ex.images[(i.image_id, i.concept)] = json.loads(row[0])
        row = conn.execute("SELECT rec FROM fp_rounds WHERE name = ?", (prep.round,)).fetchone()
        ex.round = RoundStats.model_validate_json(row[0]) if row else None
        ex.n_rounds = conn.execute("SELECT COUNT(*) FROM fp_rounds").fetchone()[0]
        row = conn.execute("SELECT value FROM fp_meta WHERE key = 'version'").fetchone()
        ex.version = row[0] if row else EMPTY_VERSION
        return ex

    @staticmethod
    def _write(conn: sqlite3.Connection, plan: Plan) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO fp_pairs VALUES (?, ?, ?)",
            [(p, q, json.dumps(r)) for (p, q), r in plan.pairs.items()],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO fp_images VALUES (?, ?, ?)",
            [(i, c, json.dumps(r)) for (i, c), r in plan.images.items()],
        )
        conn.execute(
            "INSERT OR REPLACE INTO fp_rounds VALUES (?, ?, ?)",
            (plan.round.round, plan.round.seq, plan.round.model_dump_json()),
        )
        conn.execute(
            "INSERT INTO fp_ingests VALUES (?, ?, ?)",
            (plan.ingest.round, plan.ingest.content_hash, plan.ingest.model_dump_json()),
        )
        conn.execute("INSERT OR REPLACE INTO fp_meta VALUES ('version', ?)", (plan.version,))

    async def aclose(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
