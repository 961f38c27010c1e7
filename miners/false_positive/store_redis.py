"""The confusion table in Redis (service mode), keys under ``hardneg:fp:``.

Layout (all hashes, values JSON): ``conf:<present>`` predicted -> record, ``img:<image id>``
concept -> record, ``rounds`` name -> stats, ``ingests`` ``<round>\\x1f<hash>`` -> stats;
``version`` a string. Ingests serialise on a lock key and write in one MULTI/EXEC that is
WATCHing the lock, so a writer whose lock expired cannot commit. Persistence is Redis's own:
run it with ``appendonly yes`` (see docs/false_positives.md for what a crash can lose).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import redis.asyncio as aredis
from redis.exceptions import WatchError
from redis.typing import EncodableT, FieldT

from hardneg.miners.errors import Overloaded
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
from hardneg.miners.false_positive.store import FPStore, replay_report

log = logging.getLogger(__name__)

PREFIX = "hardneg:fp:"
K_ROUNDS, K_INGESTS, K_VERSION, K_LOCK = (
    PREFIX + k for k in ("rounds", "ingests", "version", "lock")
)
LOCK_TTL_MS = 300_000  # longer than any ingest commit; WATCH catches one that outlives it
LOCK_WAIT_S = 120.0
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class StoreBusy(Overloaded):
    """Another ingest held the table's write lock for too long (HTTP 429, retry in 5 s)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=5)


@asynccontextmanager
async def locked(r: aredis.Redis, key: str) -> AsyncIterator[str]:
    """Hold the write lock ``key`` (SET NX with a TTL); yields the token a commit must WATCH.
    Shared by every table kept in Redis (the confusion table, verification rounds)."""
    token = secrets.token_hex(16)
    deadline = time.monotonic() + LOCK_WAIT_S
    while not await r.set(key, token, nx=True, px=LOCK_TTL_MS):
        if time.monotonic() > deadline:
            raise StoreBusy(f"another ingest has held {key} for over {LOCK_WAIT_S:g}s")
        await asyncio.sleep(0.05)
    try:
        yield token
    finally:
        await r.eval(_RELEASE, 1, key, token)


def conf_key(present: str) -> str:
    return f"{PREFIX}conf:{present}"


def img_key(image_id: str) -> str:
    return f"{PREFIX}img:{image_id}"


class RedisStore(FPStore):
    """Confusion table in Redis; reads are one HGETALL, an ingest one transaction."""

    backend = "redis"

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        # a generous timeout: one ingest commit can carry tens of thousands of fields
        self._r = aredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=min(timeout_s, 5.0),
        )
        self._checked_persistence = False

    async def _read_version(self) -> str:
        return str(await self._r.get(K_VERSION) or EMPTY_VERSION)

    async def rounds(self) -> list[RoundStats]:
        raw = await self._r.hgetall(K_ROUNDS)
        return sorted(
            (RoundStats.model_validate_json(v) for v in raw.values()), key=lambda r: r.seq
        )

    async def confusions(self, present: str) -> dict[str, Record]:
        return {
            str(k): json.loads(v) for k, v in (await self._r.hgetall(conf_key(present))).items()
        }

    async def image_false_positives(self, image_id: str) -> dict[str, Record]:
        return {
            str(k): json.loads(v) for k, v in (await self._r.hgetall(img_key(image_id))).items()
        }

    async def aclose(self) -> None:
        await self._r.aclose()

    def _locked(self) -> AbstractAsyncContextManager[str]:
        return locked(self._r, K_LOCK)

    async def apply(self, prep: Prepared) -> IngestReport:
        await self._warn_if_not_persistent()
        async with self._locked() as token:
            done = await self._r.hget(K_INGESTS, f"{prep.round}\x1f{prep.content_hash}")
            existing = await self._existing(prep, touched=done is None)
            if done is not None:
                assert existing.round is not None
                report = replay_report(
                    IngestStats.model_validate_json(done), existing.round, existing.version
                )
            else:
                plan = plan_ingest(existing, prep)
                await self._write(plan, token)
                report = plan.report()
        self._bump(report.version)
        return report

    async def _existing(self, prep: Prepared, touched: bool) -> Existing:
        """Read the round, the version and (when ``touched``) the records the file touches."""
        by_present: dict[str, list[str]] = defaultdict(list)
        by_image: dict[str, list[str]] = defaultdict(list)
        for d in prep.pairs if touched else ():
            by_present[d.present].append(d.predicted)
        for i in prep.images if touched else ():
            by_image[i.image_id].append(i.concept)
        pipe = self._r.pipeline(transaction=False)
        pipe.hget(K_ROUNDS, prep.round)
        pipe.hlen(K_ROUNDS)
        pipe.get(K_VERSION)
        for present, preds in by_present.items():
            pipe.hmget(conf_key(present), preds)
        for image_id, concepts in by_image.items():
            pipe.hmget(img_key(image_id), concepts)
        res = await pipe.execute()
        ex = Existing(
            round=RoundStats.model_validate_json(res[0]) if res[0] else None,
            n_rounds=int(res[1]),
            version=res[2] or EMPTY_VERSION,
        )
        values = iter(res[3:])
        for present, preds in by_present.items():
            for pred, raw in zip(preds, next(values), strict=True):
                if raw is not None:
                    ex.pairs[(present, pred)] = json.loads(raw)
        for image_id, concepts in by_image.items():
            for concept, raw in zip(concepts, next(values), strict=True):
                if raw is not None:
                    ex.images[(image_id, concept)] = json.loads(raw)
        return ex

    async def _write(self, plan: Plan, token: str) -> None:
        """All of the plan in one MULTI/EXEC, only while this writer still holds the lock."""
        by_present: dict[str, dict[FieldT, EncodableT]] = defaultdict(dict)
        by_image: dict[str, dict[FieldT, EncodableT]] = defaultdict(dict)
        for (present, pred), rec in plan.pairs.items():
            by_present[present][pred] = json.dumps(rec)
        for (image_id, concept), rec in plan.images.items():
            by_image[image_id][concept] = json.dumps(rec)
        async with self._r.pipeline(transaction=True) as pipe:
            await pipe.watch(K_LOCK)
            if await pipe.get(K_LOCK) != token:
                raise StoreBusy("the ingest lock expired before the commit; nothing was stored")
            pipe.multi()
            for present, mapping in by_present.items():
                pipe.hset(conf_key(present), mapping=mapping)
            for image_id, mapping in by_image.items():
                pipe.hset(img_key(image_id), mapping=mapping)
            pipe.hset(K_ROUNDS, plan.round.round, plan.round.model_dump_json())
            pipe.hset(
                K_INGESTS,
                f"{plan.ingest.round}\x1f{plan.ingest.content_hash}",
                plan.ingest.model_dump_json(),
            )
            pipe.set(K_VERSION, plan.version)
            try:
                await pipe.execute()
            except WatchError as exc:
                raise StoreBusy(
                    "the ingest lock changed hands before the commit; nothing was stored"
                ) from exc

    async def _warn_if_not_persistent(self) -> None:
        """Log once when Redis would lose the table on restart (AOF off and no RDB saves)."""
        if self._checked_persistence:
            return
        self._checked_persistence = True
        try:
            conf = await self._r.config_get("appendonly")
        except Exception:  # managed Redis often forbids CONFIG; nothing to check then
            return
        if conf.get("appendonly") != "yes":
            log.warning(
                "Redis runs without appendonly: the false-positive table can be lost "
                "on a restart; run it with `appendonly yes` (see deploy/)"
            )
