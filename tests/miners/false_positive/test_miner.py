"""The miner on both stores, the Redis durability test, and the version that keys cached answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardneg.miners.base import MineQuery, Miner, MinerContext, discover
from hardneg.miners.false_positive import FalsePositiveMiner, MatchOptions, ingest_round
from hardneg.miners.false_positive.store_redis import RedisStore
from hardneg.miners.types import Kind
from hardneg.service.settings import Settings
from tests.procs import redis_server

OPTS = MatchOptions()


def _ctx(tmp_path: Path, redis_url: str | None = None) -> MinerContext:
    return MinerContext(
        settings=Settings(fp_store_path=tmp_path / "fp.sqlite", redis_url=redis_url)
    )


async def test_no_data_gives_a_note_not_an_error(store, tmp_path):
    miner = FalsePositiveMiner(_ctx(tmp_path), store=store)
    out = await miner.mine(MineQuery(positive="rhinoceros", item_id="1"), _ctx(tmp_path))
    assert out.candidates == [] and out.note == "no false positives ingested yet"


async def test_reading_an_absent_sqlite_table_leaves_no_file_behind(tmp_path):
    miner = FalsePositiveMiner(_ctx(tmp_path))
    out = await miner.mine(MineQuery(positive="rhinoceros"), _ctx(tmp_path))
    assert out.note == "no false positives ingested yet"
    assert not (tmp_path / "fp.sqlite").exists()


async def test_confusions_of_a_positive_most_frequent_first(store, files, tmp_path):
    await ingest_round(store, "r1", files["coco"], files["preds"], OPTS)
    miner = FalsePositiveMiner(_ctx(tmp_path), store=store)
    out = await miner.mine(MineQuery(positive="Rhinoceros"), _ctx(tmp_path))
    assert [c.phrase for c in out.candidates] == ["elephant", "zebra"]
    top = out.candidates[0]
    assert (top.source, top.kind, top.for_positive) == ("false_positive", Kind.type, "Rhinoceros")
    assert top.evidence == {
        "count": 2,
        "mean_score": 0.475,
        "max_score": 0.5,
        "rounds": ["r1"],
        "example_image_ids": ["1"],
        "image_level": False,
    }
    assert top.score == 0.475


async def test_known_image_puts_its_own_false_positives_first(store, files, tmp_path):
    await ingest_round(store, "r1", files["coco"], files["preds"], OPTS)
    miner = FalsePositiveMiner(_ctx(tmp_path), store=store)
    q = MineQuery(positive="zebra", present=["rhinoceros"], item_id="1")
    out = await miner.mine(q, _ctx(tmp_path))
    # image 1's own: elephant (3x), horse (1x); then zebra's confusions: horse (already listed)
    assert [c.phrase for c in out.candidates] == ["elephant", "horse"]
    assert out.candidates[0].evidence["image_level"] is True
    assert out.candidates[0].evidence["example_image_ids"] == ["1"]
    q = MineQuery(positive="elephant", item_id="2", exclude=["rhinoceros"])
    out = await miner.mine(q, _ctx(tmp_path))
    assert out.candidates == [] and "no false positives recorded" in (out.note or "")


async def test_k_limits_the_candidates(store, files, tmp_path):
    await ingest_round(store, "r1", files["coco"], files["preds"], OPTS)
    miner = FalsePositiveMiner(_ctx(tmp_path), store=store)
    out = await miner.mine(MineQuery(positive="rhinoceros", k=1), _ctx(tmp_path))
    assert [c.phrase for c in out.candidates] == ["elephant"]


async def test_version_changes_when_the_table_does(tmp_path, files):
    """SQLite store: another process's ingest (a second store on the file) shows up live."""
    ctx = _ctx(tmp_path)
    miner = FalsePositiveMiner(ctx)
    assert isinstance(miner, Miner) and miner.version == "1+empty"
    writer = FalsePositiveMiner(ctx).store
    await ingest_round(writer, "r1", files["coco"], files["preds"], OPTS)
    v1 = miner.version
    assert v1 != "1+empty" and await miner.data_version() == v1
    await ingest_round(writer, "r1", files["coco"], files["preds"], OPTS)  # idempotent
    assert miner.version == v1
    await ingest_round(writer, "r2", files["lvis"], files["preds"], OPTS)
    assert miner.version != v1
    await writer.aclose()
    await miner.aclose()


async def test_redis_version_refreshes_through_data_version(redis_url, tmp_path, files):
    ctx = _ctx(tmp_path, redis_url)
    miner = FalsePositiveMiner(ctx)
    assert isinstance(miner.store, RedisStore)
    writer = RedisStore(redis_url)
    report = await ingest_round(writer, "r1", files["coco"], files["preds"], OPTS)
    assert await miner.data_version() == f"1+{report.version}" == miner.version
    await writer.aclose()
    await miner.aclose()


def test_registered_under_the_entry_point():
    assert discover()["false_positive"] is FalsePositiveMiner


@pytest.mark.integration
async def test_table_survives_a_redis_restart_with_append_only_file(tmp_path, files):
    with redis_server(tmp_path / "aof", appendonly=True) as srv:
        store = RedisStore(srv.url)
        report = await ingest_round(store, "r1", files["coco"], files["preds"], OPTS)
        before = (
            await store.confusions("rhinoceros"),
            await store.image_false_positives("1"),
            await store.rounds(),
        )
        await store.aclose()
        srv.restart()  # a new redis-server process on the same port and data dir
        miner = FalsePositiveMiner(_ctx(tmp_path, srv.url))  # a new "service"
        after = (
            await miner.store.confusions("rhinoceros"),
            await miner.store.image_false_positives("1"),
            await miner.store.rounds(),
        )
        assert after == before and after[0]["elephant"]["count"] == 2
        assert await miner.data_version() == f"1+{report.version}"
        again = await ingest_round(miner.store, "r1", files["coco"], files["preds"], OPTS)
        assert again.already_ingested
        await miner.aclose()
