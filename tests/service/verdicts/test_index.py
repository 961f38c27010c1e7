"""The index that lets the steps skip items without verdicts without I/O."""

from __future__ import annotations

import asyncio

from hardneg.miners.types import RequestItem
from hardneg.service.verdicts.index import VerdictIndex
from hardneg.service.verdicts.settings import VerdictSettings
from hardneg.service.verdicts.steps import verdict_steps
from hardneg.service.verdicts.store import SqliteVerdictStore
from tests.service.verdicts.conftest import verdict


async def test_with_verdicts_on_both_stores(store):
    await store.write(
        [verdict(1, verdict="present"), verdict(2, item_id="img-2", positive="Zebras")]
    )
    assert await store.with_verdicts() == ({"yellowschoolbus", "zebra"}, {"img-1"})
    await store.delete("v1")
    assert await store.with_verdicts() == ({"zebra"}, set())


async def test_unknown_until_read_then_own_writes_at_once_others_after_refresh(tmp_path):
    mine, other = (SqliteVerdictStore(tmp_path / "v.sqlite") for _ in range(2))
    try:
        index = VerdictIndex(mine, refresh_s=0.05)
        assert index.has_present("img-1") and index.has_positive(["zebra"])  # not read yet
        await index.refresh()
        assert not index.has_present("img-1") and not index.has_positive(["zebra"])
        await mine.write([verdict(1, verdict="present")])
        assert index.has_present("img-1") and index.has_positive(["Yellow School Buses"])
        await other.write([verdict(2, item_id="img-9", positive="zebra", verdict="present")])
        assert not index.has_present("img-9")  # another process: not yet...
        await asyncio.sleep(0.1)
        index.has_present("img-9")  # ...this call starts a refresh
        for _ in range(50):
            await asyncio.sleep(0.02)
            if index.has_present("img-9"):
                break
        assert index.has_present("img-9") and index.has_positive(["zebra"])
    finally:
        await mine.aclose()
        await other.aclose()


async def test_steps_skip_items_without_verdicts(tmp_path):
    store = SqliteVerdictStore(tmp_path / "v.sqlite")
    try:
        steps = verdict_steps(VerdictSettings(_env_file=None), store)
        index = steps[0].index
        await index.refresh()
        bus = RequestItem(id="img-1", positives=["yellow school bus"])
        assert [s.applies(bus) for s in steps] == [False, False]
        await store.write([verdict(1, item_id="img-2", verdict="implausible")])
        assert [s.applies(bus) for s in steps] == [False, True]
        await store.write([verdict(2, verdict="present")])
        assert [s.applies(bus) for s in steps] == [True, True]
    finally:
        await store.aclose()
