"""Verification rounds: export a round's queries, ingest the detector's answers, read outcomes.

Keys (hashes of JSON, see :mod:`~hardneg.miners.verify.kv`): ``rounds`` (name -> stats),
``queries:<round>`` (query id -> query), ``truth:<round>`` (image id -> the positives'
instances), ``img:<image id>`` (phrase key -> outcome record), ``held`` (``image\\x1fkey`` ->
a phrase that fired elsewhere, awaiting a human check). Export and ingest are idempotent per
round: the same content again is answered from the stored stats, other content under a used
round name is a conflict (HTTP 409), never a silent overwrite.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from hardneg.miners.errors import Conflict, NotFound
from hardneg.miners.false_positive.ingest import IngestError, Source
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.verify.ingest import decide_round, parse_predictions
from hardneg.miners.verify.kv import KV, Txn, open_kv
from hardneg.miners.verify.outcome import Decision, Instance, VerifyOptions
from hardneg.miners.verify.records import (
    MAX_ROUND_CHARS,
    ExportReport,
    OutcomeRecord,
    Query,
    RoundAnswer,
    Verdict,
    VerifyIngestReport,
    VerifyRound,
    now_iso,
)
from hardneg.miners.verify.settings import VerifySettings

__all__ = ["VerifyStore", "check_round", "open_verify_store"]


def check_round(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_ROUND_CHARS or not name.isprintable():
        raise IngestError("round", [f"expected 1-{MAX_ROUND_CHARS} printable characters"])
    return name


def _instance(d: dict[str, Any]) -> Instance:
    x, y, w, h = d["bbox"]
    return Instance(d["phrase"], (x, y, w, h), d.get("rle"), bool(d.get("iscrowd")))


class VerifyStore:
    """Rounds, queries and outcomes over a :class:`KV` (SQLite file or Redis)."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv

    @property
    def backend(self) -> str:
        return self.kv.backend

    async def rounds(self) -> list[VerifyRound]:
        raw = await self.kv.hgetall("rounds")
        return sorted(
            (VerifyRound.model_validate_json(v) for v in raw.values()), key=lambda r: r.seq
        )

    async def round(self, name: str) -> VerifyRound:
        raw = (await self.kv.hmget("rounds", [name]))[0]
        if raw is None:
            raise NotFound(f"no verification round named {name!r} (hardneg verify export first)")
        return VerifyRound.model_validate_json(raw)

    async def export(
        self, name: str, queries: list[Query], truth: dict[str, list[Instance]]
    ) -> ExportReport:
        """Store a round's queries and the positives' instances they are judged against."""
        name = check_round(name)
        q_json = {str(q.id): q.model_dump_json() for q in queries}
        t_json = {img: json.dumps([asdict(i) for i in inst]) for img, inst in truth.items()}
        digest = hashlib.sha256(json.dumps([q_json, t_json], sort_keys=True).encode()).hexdigest()
        async with self.kv.transaction() as txn:
            rounds = await txn.hgetall("rounds")
            if name in rounds:
                old = VerifyRound.model_validate_json(rounds[name])
                if old.export_hash != digest[:32]:
                    raise Conflict(
                        f"round {name!r} was exported with other queries; use a new round name"
                    )
                return ExportReport(round=name, already_exported=True, stats=old)
            stats = VerifyRound(
                round=name,
                seq=len(rounds) + 1,
                images=len({q.image_id for q in queries}),
                export_hash=digest[:32],
                created_at=now_iso(),
            )
            for q in queries:
                stats.count(q, None)
            txn.hset(f"queries:{name}", q_json)
            txn.hset(f"truth:{name}", t_json)
            txn.hset("rounds", {name: stats.model_dump_json()})
        return ExportReport(round=name, already_exported=False, stats=stats)

    async def ingest(
        self, name: str, predictions: Source, opts: VerifyOptions
    ) -> VerifyIngestReport:
        """Decide every query of the round from the detector's predictions, in one transaction."""
        name = check_round(name)
        async with self.kv.transaction() as txn:
            stats = await self._round_in(txn, name)
            raw_q = {int(k): v for k, v in (await txn.hgetall(f"queries:{name}")).items()}
            preds = await asyncio.to_thread(parse_predictions, predictions, raw_q)
            if stats.ingest_hash is not None:
                if stats.ingest_hash != preds.content_hash:
                    raise Conflict(
                        f"round {name!r} already has other predictions; export a new round for"
                        " another detector run (one predictions file answers a round)"
                    )
                return VerifyIngestReport(round=name, already_ingested=True, stats=stats)
            queries = {k: Query.model_validate_json(v) for k, v in raw_q.items()}
            truth = {
                img: [_instance(d) for d in json.loads(v)]
                for img, v in (await txn.hgetall(f"truth:{name}")).items()
            }
            decisions = await asyncio.to_thread(decide_round, preds, queries, truth, opts)
            await self._record(txn, stats, queries, decisions)
            stats.ingest_hash, stats.predictions = preds.content_hash, len(preds)
            stats.thresholds, stats.ingested_at = opts.as_dict(), now_iso()
            txn.hset("rounds", {name: stats.model_dump_json()})
        return VerifyIngestReport(round=name, already_ingested=False, stats=stats)

    @staticmethod
    async def _round_in(txn: Txn, name: str) -> VerifyRound:
        raw = (await txn.hmget("rounds", [name]))[0]
        if raw is None:
            raise NotFound(f"no verification round named {name!r} (hardneg verify export first)")
        return VerifyRound.model_validate_json(raw)

    async def _record(
        self,
        txn: Txn,
        stats: VerifyRound,
        queries: dict[int, Query],
        decisions: dict[int, Decision],
    ) -> None:
        """Merge each decision into its (image, phrase) record; count it; hold firings elsewhere."""
        by_image: dict[str, list[int]] = defaultdict(list)
        for qid, q in queries.items():
            by_image[q.image_id].append(qid)
        keys = {img: [match_key(queries[q].phrase) for q in qids] for img, qids in by_image.items()}
        olds = await txn.hmget_many([(f"img:{img}", k) for img, k in keys.items()])
        for (image_id, qids), old in zip(by_image.items(), olds, strict=True):
            out: dict[str, str] = {}
            for qid, key, raw in zip(qids, keys[image_id], old, strict=True):
                q, d = queries[qid], decisions[qid]
                rec = (
                    OutcomeRecord.model_validate_json(raw)
                    if raw
                    else OutcomeRecord(image_id=image_id, phrase=q.phrase)
                )
                rec.rounds[stats.round] = RoundAnswer(
                    seq=stats.seq,
                    outcome=d.outcome,
                    score=d.score,
                    iou=d.iou,
                    positive=d.positive,
                    query=qid,
                )
                out[key] = rec.model_dump_json()
                stats.count(q, d.outcome)
                if d.outcome == "elsewhere" and rec.human is None:
                    txn.hset("held", {f"{image_id}\x1f{key}": out[key]})
            txn.hset(f"img:{image_id}", out)

    async def outcomes(self, image_id: str) -> dict[str, OutcomeRecord]:
        """Phrase key (``match_key``) -> record, for every phrase verified on the image."""
        raw = await self.kv.hgetall(f"img:{image_id}")
        return {k: OutcomeRecord.model_validate_json(v) for k, v in raw.items()}

    async def check(self, image_id: str, phrase: str, verdict: Verdict) -> OutcomeRecord:
        """A human's answer for a phrase on an image: ``absent`` releases a held phrase as a
        proven hard negative, ``present`` keeps it out for good."""
        key = match_key(phrase)
        async with self.kv.transaction() as txn:
            raw = (await txn.hmget(f"img:{image_id}", [key]))[0]
            if raw is None:
                raise NotFound(f"{phrase!r} was never verified on image {image_id!r}")
            rec = OutcomeRecord.model_validate_json(raw)
            rec.human, rec.checked_at = verdict, now_iso()
            txn.hset(f"img:{image_id}", {key: rec.model_dump_json()})
            txn.hdel("held", f"{image_id}\x1f{key}")
        return rec

    async def held(self, limit: int = 100) -> list[OutcomeRecord]:
        """Phrases that fired elsewhere and await a human check (oldest image ids first)."""
        raw = await self.kv.hgetall("held")
        recs = [OutcomeRecord.model_validate_json(v) for _, v in sorted(raw.items())]
        return recs[:limit]

    async def aclose(self) -> None:
        await self.kv.aclose()


def open_verify_store(settings: VerifySettings) -> VerifyStore:
    """Redis when ``HARDNEG_REDIS_URL`` is set, else ``HARDNEG_VERIFY_STORE_PATH``."""
    return VerifyStore(open_kv(settings.redis_url, settings.verify_store_path))
