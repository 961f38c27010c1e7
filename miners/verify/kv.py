"""Storage of verification rounds: hashes of JSON in a SQLite file (embedded, CLI) or Redis.

The same style as the false-positive table (``miners/false_positive/store*.py``): data, not
cache (nothing expires); SQLite in WAL mode with ``synchronous=FULL``; Redis under one prefix
(``hardneg:verify:``) with writes serialised on a lock key and committed in one MULTI/EXEC that
WATCHes it (the same :func:`~hardneg.miners.false_positive.store_redis.locked` helper). Every
write is a :meth:`KV.transaction`: reads inside it see a stable table, and its writes land all
together or not at all.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

__all__ = ["KV", "RedisKV", "SqliteKV", "Txn", "open_kv"]

PREFIX = "hardneg:verify:"


class Txn:
    """Reads and buffered writes of one transaction (see :meth:`KV.transaction`)."""

    def __init__(self, kv: KV) -> None:
        self._kv = kv
        self.sets: dict[str, dict[str, str]] = defaultdict(dict)
        self.dels: dict[str, set[str]] = defaultdict(set)

    async def hgetall(self, key: str) -> dict[str, str]:
        return await self._kv._read_all(key, in_txn=True)

    async def hmget(self, key: str, fields: Sequence[str]) -> list[str | None]:
        return await self._kv._read_many(key, fields, in_txn=True)

    async def hmget_many(self, asks: Sequence[tuple[str, Sequence[str]]]) -> list[list[str | None]]:
        """Several ``hmget`` in one round trip (one worker-thread call, one Redis pipeline)."""
        return await self._kv._read_batch(asks, in_txn=True)

    def hset(self, key: str, mapping: dict[str, str]) -> None:
        self.sets[key].update(mapping)
        self.dels[key].difference_update(mapping)

    def hdel(self, key: str, *fields: str) -> None:
        self.dels[key].update(fields)
        for f in fields:
            self.sets[key].pop(f, None)


class KV(ABC):
    """Hashes (key -> field -> JSON text) with batched reads and atomic write transactions."""

    backend: str

    async def hgetall(self, key: str) -> dict[str, str]:
        return await self._read_all(key, in_txn=False)

    async def hmget(self, key: str, fields: Sequence[str]) -> list[str | None]:
        return await self._read_many(key, fields, in_txn=False) if fields else []

    @abstractmethod
    async def _read_all(self, key: str, in_txn: bool) -> dict[str, str]: ...

    @abstractmethod
    async def _read_many(
        self, key: str, fields: Sequence[str], in_txn: bool
    ) -> list[str | None]: ...

    @abstractmethod
    async def _read_batch(
        self, asks: Sequence[tuple[str, Sequence[str]]], in_txn: bool
    ) -> list[list[str | None]]: ...

    @abstractmethod
    def transaction(self) -> Any:
        """``async with kv.transaction() as txn``: exclusive, all-or-nothing."""

    @abstractmethod
    async def aclose(self) -> None: ...


_SCHEMA = """CREATE TABLE IF NOT EXISTS vf_kv (key TEXT NOT NULL, field TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (key, field)) WITHOUT ROWID;"""


class SqliteKV(KV):
    """A SQLite file; one connection writes, another reads (WAL: readers never wait on a write)."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conns: dict[str, sqlite3.Connection] = {}
        self._mutex = {"read": threading.Lock(), "write": threading.Lock()}
        self._txn_lock: asyncio.Lock | None = None

    def _conn(self, which: str, create: bool) -> sqlite3.Connection | None:
        if which not in self._conns:
            if not create and not self.path.exists():
                return None  # reading an absent table: empty, and leave no file behind
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            self._conns[which] = conn
        return self._conns[which]

    def _run(self, which: str, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._mutex[which]:
            conn = self._conn(which, create=which == "write")
            return [] if conn is None else conn.execute(sql, tuple(args)).fetchall()

    async def _read_all(self, key: str, in_txn: bool) -> dict[str, str]:
        sql = "SELECT field, value FROM vf_kv WHERE key = ?"
        rows = await asyncio.to_thread(self._run, "write" if in_txn else "read", sql, (key,))
        return {f: v for f, v in rows}

    async def _read_many(self, key: str, fields: Sequence[str], in_txn: bool) -> list[str | None]:
        return (await self._read_batch([(key, fields)], in_txn))[0]

    async def _read_batch(
        self, asks: Sequence[tuple[str, Sequence[str]]], in_txn: bool
    ) -> list[list[str | None]]:
        which = "write" if in_txn else "read"
        return await asyncio.to_thread(lambda: [self._fields(which, k, f) for k, f in asks])

    def _fields(self, which: str, key: str, fields: Sequence[str]) -> list[str | None]:
        found: dict[str, str] = {}
        for start in range(0, len(fields), 500):  # SQLite caps bound parameters
            part = list(fields[start : start + 500])
            marks = ",".join("?" * len(part))
            sql = f"SELECT field, value FROM vf_kv WHERE key = ? AND field IN ({marks})"
            found.update(self._run(which, sql, [key, *part]))
        return [found.get(f) for f in fields]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Txn]:
        if self._txn_lock is None:
            self._txn_lock = asyncio.Lock()
        async with self._txn_lock:  # one writer per process; SQLite's lock orders processes
            await asyncio.to_thread(self._run, "write", "BEGIN IMMEDIATE", ())
            txn = Txn(self)
            try:
                yield txn
                await asyncio.to_thread(self._commit, txn)
            except BaseException:
                await asyncio.to_thread(self._run, "write", "ROLLBACK", ())
                raise

    def _commit(self, txn: Txn) -> None:
        rows = [(k, f, v) for k, m in txn.sets.items() for f, v in m.items()]
        with self._mutex["write"]:
            conn = self._conn("write", create=True)
            assert conn is not None
            conn.executemany("INSERT OR REPLACE INTO vf_kv VALUES (?, ?, ?)", rows)
            conn.executemany(
                "DELETE FROM vf_kv WHERE key = ? AND field = ?",
                [(k, f) for k, fields in txn.dels.items() for f in fields],
            )
            conn.execute("COMMIT")

    async def aclose(self) -> None:
        for which, conn in list(self._conns.items()):
            with self._mutex[which]:
                conn.close()
        self._conns.clear()


class RedisKV(KV):
    """Hashes under ``hardneg:verify:``; a transaction holds the lock key and commits with WATCH."""

    backend = "redis"

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        import redis.asyncio as aredis

        self._r = aredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=5.0
        )

    async def _read_all(self, key: str, in_txn: bool) -> dict[str, str]:
        return {str(k): str(v) for k, v in (await self._r.hgetall(PREFIX + key)).items()}

    async def _read_many(self, key: str, fields: Sequence[str], in_txn: bool) -> list[str | None]:
        return (await self._read_batch([(key, fields)], in_txn))[0]

    async def _read_batch(
        self, asks: Sequence[tuple[str, Sequence[str]]], in_txn: bool
    ) -> list[list[str | None]]:
        pipe = self._r.pipeline(transaction=False)
        for key, fields in asks:
            pipe.hmget(PREFIX + key, list(fields))
        got = await pipe.execute() if asks else []
        return [[None if v is None else str(v) for v in values] for values in got]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Txn]:
        from redis.exceptions import WatchError

        from hardneg.miners.false_positive.store_redis import StoreBusy, locked

        lock = PREFIX + "lock"
        async with locked(self._r, lock) as token:
            txn = Txn(self)
            yield txn
            async with self._r.pipeline(transaction=True) as pipe:
                await pipe.watch(lock)
                if await pipe.get(lock) != token:
                    raise StoreBusy(
                        "the verification lock expired before the commit; nothing was stored"
                    )
                pipe.multi()
                for key, mapping in txn.sets.items():
                    if mapping:
                        pipe.hset(PREFIX + key, mapping=mapping)  # type: ignore[arg-type]
                for key, fields in txn.dels.items():
                    if fields:
                        pipe.hdel(PREFIX + key, *fields)
                try:
                    await pipe.execute()
                except WatchError as exc:
                    raise StoreBusy(
                        "the verification lock changed hands; nothing was stored"
                    ) from exc

    async def aclose(self) -> None:
        await self._r.aclose()


def open_kv(redis_url: str | None, path: Path) -> KV:
    """Redis when a URL is set (the service's), else the SQLite file; nothing connects yet."""
    return RedisKV(redis_url) if redis_url else SqliteKV(Path(path))
