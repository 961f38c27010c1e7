"""Both verdict stores behave the same: idempotent by id, replacement, groups, the counts mining
reads, statistics, export order."""

from __future__ import annotations

import pytest

from hardneg.service.verdicts.store_redis import RedisVerdictStore
from tests.service.verdicts.conftest import verdict


async def test_idempotent_by_id_and_replaced_on_new_content(store):
    first = await store.write([verdict(1), verdict(2, negative="red school bus")])
    assert (first.stored, first.duplicates, first.replaced) == (2, 0, 0)
    again = await store.write([verdict(1)])
    assert (again.stored, again.duplicates, again.replaced) == (0, 1, 0)
    changed = await store.write([verdict(1, verdict="present")])
    assert (changed.stored, changed.duplicates, changed.replaced) == (0, 0, 1)
    rows = await store.by_item("img-1", 100)
    assert sorted((v.id, v.verdict.value) for v in rows) == [("v1", "present"), ("v2", "absent")]
    assert [v.seq for v in rows] == sorted(v.seq for v in rows)


async def test_present_on_item_and_counts_by_distinct_items(store):
    await store.write(
        [
            verdict(1, verdict="present", negative="Yellow Taxis"),
            verdict(2, item_id="img-2", verdict="implausible", annotator="a"),
            verdict(3, item_id="img-2", verdict="present", annotator="b"),  # same item: once
            verdict(4, item_id="img-3", verdict="absent"),
            verdict(5, item_id="img-4", verdict="unsure", negative="school van"),
        ]
    )
    assert await store.present_on_item("img-1") == {"yellowtaxi"}
    assert await store.present_on_item("img-4") == set()
    counts = await store.counts("Yellow School-Bus", ["yellow taxi", "school van", "minivan"])
    assert set(counts) == {"yellowtaxi", "schoolvan"}
    taxi = counts["yellowtaxi"]
    assert (taxi.present, taxi.implausible, taxi.absent, taxi.bad) == (2, 1, 1, 2)
    assert taxi.net_bad == 1 and counts["schoolvan"].unsure == 1


async def test_delete_and_replace_group_undo_their_counts(store):
    await store.write([verdict(1, verdict="present", group="ls:1:7")])
    await store.write([verdict(2, negative="minivan", verdict="present", group="ls:1:7")])
    out = await store.replace_group("ls:1:7", [verdict(2, negative="minivan", group="ls:1:7")])
    assert (out.deleted, out.replaced) == (1, 1)
    assert await store.present_on_item("img-1") == set()
    assert await store.delete("v2") and not await store.delete("v2")
    assert await store.counts("yellow school bus", ["minivan", "yellow taxi"]) == {}
    assert (await store.stats()).by_verdict == {}


async def test_stats_by_miner_and_kind(store):
    await store.write(
        [
            verdict(1, sources=["llm", "vocabulary"], kind="type"),
            verdict(2, sources=["llm"], kind="colour", verdict="present", negative="red bus"),
            verdict(3, verdict="unsure", negative="van"),
        ]
    )
    stats = await store.stats()
    assert stats.by_verdict == {"absent": 1, "present": 1, "unsure": 1}
    assert stats.by_miner == {"llm": {"absent": 1, "present": 1}, "vocabulary": {"absent": 1}}
    assert stats.by_kind["colour"] == {"present": 1} and stats.by_kind["unknown"] == {"unsure": 1}


async def test_export_resumes_after_a_seq(store):
    await store.write([verdict(i, negative=f"thing {i}") for i in range(5)])
    head = await store.export(0, 2)
    rest = await store.export(head[-1].seq, 100)
    assert [v.id for v in head + rest] == [f"v{i}" for i in range(5)]
    await store.write([verdict(0, negative="thing 0", verdict="present")])  # replaced: moves last
    assert (await store.export(rest[-1].seq, 100))[0].id == "v0"


async def test_redis_without_fsync_refuses_writes(redis_url):
    from hardneg.miners.errors import DependencyDown

    store = RedisVerdictStore(redis_url)  # the session Redis: appendonly no
    try:
        with pytest.raises(DependencyDown, match="appendfsync"):
            await store.write([verdict(1)])
        assert await store.by_item("img-1", 10) == []
    finally:
        await store.aclose()


async def test_reading_an_empty_sqlite_store_makes_no_file(tmp_path):
    from hardneg.service.verdicts.store import SqliteVerdictStore

    store = SqliteVerdictStore(tmp_path / "none" / "v.sqlite")
    assert await store.by_item("img-1", 10) == [] and (await store.stats()).by_verdict == {}
    assert not (tmp_path / "none").exists()
    await store.write([verdict(1)])
    assert len(await store.by_item("img-1", 10)) == 1
    await store.aclose()
