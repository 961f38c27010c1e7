"""The false-positive miner: a model's own mistakes, fed back as hard negatives (SA-Co style).

For a positive it proposes the concepts a detector predicted on instances of that positive
(most frequent first); for an item whose id is a known image id, that image's own image-level
false positives come first.
"""

from __future__ import annotations

from typing import Any

from hardneg.miners.base import MineQuery, MinerBase, MinerContext, MinerOutput, MinerTraits
from hardneg.miners.false_positive.ingest import key_of, phrase_of
from hardneg.miners.false_positive.records import EMPTY_VERSION, Record
from hardneg.miners.false_positive.settings import FalsePositiveSettings
from hardneg.miners.false_positive.store import FPStore, open_store
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import Candidate, Kind

CODE_VERSION = "1"
NO_DATA_NOTE = "no false positives ingested yet"


def _evidence(rec: Record, examples: list[str], image_level: bool) -> dict[str, Any]:
    return {
        "count": rec["count"],
        "mean_score": round(rec["sum_score"] / rec["count"], 4),
        "max_score": round(rec["max_score"], 4),
        "rounds": list(rec["rounds"]),
        "example_image_ids": examples,
        "image_level": image_level,
    }


def _ranked(records: dict[str, Record]) -> list[tuple[str, Record]]:
    """Most frequent first, then the most confident, then by phrase (a stable order)."""
    return sorted(records.items(), key=lambda kv: (-kv[1]["count"], -kv[1]["max_score"], kv[0]))


class FalsePositiveMiner(MinerBase):
    """Candidates from the confusion table (``hardneg fp ingest`` / ``POST /v1/false-positives``).

    ``version`` is ``1+<data version>`` so cached answers change when the table does. The store
    is the process's shared one (``ctx.fp_store``): an ingest through it changes the version at
    once; ``data_version()`` also sees ingests made by other processes (see the store).
    """

    name = "false_positive"
    # a confusion the model really made is hard whatever the embedder says, so the band's floor
    # does not apply; an image's own false positives are per item (service/fp_step.py adds them
    # after mining, so the positive's result is shared by every image)
    traits = MinerTraits(band_exempt=True)

    def __init__(self, ctx: MinerContext, store: FPStore | None = None) -> None:
        self.store = store or ctx.fp_store or open_store(ctx.section(FalsePositiveSettings))
        self._owns_store = store is None and ctx.fp_store is None

    @property
    def version(self) -> str:
        return f"{CODE_VERSION}+{self.store.peek_version()}"

    async def data_version(self) -> str:
        """The store's current data version as the full miner version."""
        await self.store.version()
        return self.version

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        if await self.store.version() == EMPTY_VERSION:
            return MinerOutput(note=NO_DATA_NOTE)
        positive = phrase_of(query.positive)
        blocked = {match_key(p) for p in (query.positive, *query.present, *query.exclude)}
        out: dict[str, Candidate] = {}
        if query.item_id:
            for c in await self.image_candidates(query.item_id, query.positive, blocked):
                out[match_key(c.phrase)] = c
        for phrase, rec in _ranked(await self.store.confusions(key_of(query.positive))):
            self._add(out, blocked, query, phrase, rec, list(rec["examples"]), image_level=False)
        cands = list(out.values())[: query.k]
        if cands:
            return MinerOutput(candidates=cands)
        where = f" or image {query.item_id!r}" if query.item_id else ""
        return MinerOutput(note=f"no false positives recorded for {positive!r}{where}")

    async def image_candidates(
        self, image_id: str, positive: str, blocked: set[str]
    ) -> list[Candidate]:
        """The image's own image-level false positives (concepts a detector predicted on it that
        are not there), most frequent first; ``blocked`` holds match keys never to return."""
        out: dict[str, Candidate] = {}
        query = MineQuery(positive=positive, item_id=image_id)
        for phrase, rec in _ranked(await self.store.image_false_positives(image_id)):
            self._add(out, blocked, query, phrase, rec, [image_id], image_level=True)
        return list(out.values())

    @staticmethod
    def _add(
        out: dict[str, Candidate],
        blocked: set[str],
        query: MineQuery,
        phrase: str,
        rec: Record,
        examples: list[str],
        image_level: bool,
    ) -> None:
        key = match_key(phrase)
        if key in blocked or key in out:
            return
        out[key] = Candidate(
            phrase=phrase,
            for_positive=query.positive,
            source=FalsePositiveMiner.name,
            kind=Kind.type,
            score=round(rec["sum_score"] / rec["count"], 4),
            evidence=_evidence(rec, examples, image_level),
        )

    async def aclose(self) -> None:
        if self._owns_store:  # a shared store is closed by whoever made it
            await self.store.aclose()
