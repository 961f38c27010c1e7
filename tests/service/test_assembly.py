"""Per-positive mining and per-item assembly: an item's answer does not depend on which other
items share its positives, item context is applied per item, and an image's own false positives
come first for that image only."""

from __future__ import annotations

import pytest

from hardneg.miners.false_positive import MatchOptions, ingest_round
from hardneg.miners.types import NegativesRequest, RequestItem
from hardneg.service.cache import LRUCache
from tests.miners.false_positive import fixture

ITEMS = [
    {"id": "a", "positives": ["zebra"]},
    {"id": "b", "positives": ["zebra"], "present": ["horse"]},
    {"id": "c", "positives": ["zebra", "violin"], "present": ["grass"]},
    {"id": "d", "positives": ["violin"], "exclude": ["cello", "viola"]},
    {"id": "e", "positives": ["teapot"]},
    {"id": "f", "positives": ["teapot", "zebra"]},
]


async def test_batched_answers_equal_one_item_at_a_time(make_pipeline):
    together = make_pipeline(cache=LRUCache())
    batch = await together.mine(NegativesRequest.model_validate({"items": ITEMS, "k": 8}))
    calls = []
    real = together.mining.mine

    async def counting(positive, item_id, res):
        calls.append(positive)
        return await real(positive, item_id, res)

    together.mining.mine = counting  # type: ignore[method-assign]
    again = await together.mine(NegativesRequest.model_validate({"items": ITEMS, "k": 8}))
    assert calls == [] and all(it.cached for it in again.items)  # every positive mined once
    for item, got in zip(ITEMS, batch.items, strict=True):
        alone = make_pipeline(cache=LRUCache())  # nothing shared with the batch
        one = await alone.mine(NegativesRequest.model_validate({"items": [item], "k": 8}))
        want = one.items[0]
        assert [n.phrase for n in got.negatives] == [n.phrase for n in want.negatives], item

        def statuses(it):  # everything but the time each miner took
            return {n: s.model_dump(exclude={"ms"}) for n, s in it.miners.items()}

        assert statuses(got) == statuses(want) and got.degraded == want.degraded


async def test_item_context_is_applied_per_item(make_pipeline):
    pipe = make_pipeline(cache=LRUCache())
    bare = (await pipe.mine(NegativesRequest.for_concept("violin", k=20))).items[0]
    top = [n.phrase for n in bare.negatives[:3]]
    req = NegativesRequest.for_concept("violin", k=20, present=top[:1], exclude=top[1:])
    item = (await pipe.mine(req)).items[0]
    assert item.cached is True  # the positive's result was reused
    assert not {n.phrase for n in item.negatives} & set(top)
    assert len(item.negatives) == 20  # the deeper ranked list refills what the item removed


@pytest.fixture
async def fp_pipe(make_pipeline, tmp_path):
    pipe = make_pipeline(
        miners=["vocabulary", "false_positive"], fp_store_path=tmp_path / "fp.sqlite"
    )
    assert pipe.fp_store is not None
    await ingest_round(
        pipe.fp_store, "r1", fixture.coco_gt(), fixture.predictions(), MatchOptions()
    )
    yield pipe
    await pipe.aclose()


async def test_an_images_own_false_positives_come_first_for_that_image(fp_pipe):
    def req(item_id: str, **kw: list[str]) -> NegativesRequest:
        item = RequestItem(id=item_id, positives=["horse"], **kw)
        return NegativesRequest(items=[item], k=10)

    on_image = (await fp_pipe.mine(req("4"))).items[0]  # image 4: rhinoceros predicted, absent
    first = on_image.negatives[0]
    assert first.phrase == "rhinoceros" and "false_positive" in first.sources
    assert first.evidence["false_positive"]["image_level"] is True
    assert first.evidence["false_positive"]["example_image_ids"] == ["4"]
    elsewhere = (await fp_pipe.mine(req("5"))).items[0]  # image 5 has no false positives
    assert "rhinoceros" not in [n.phrase for n in elsewhere.negatives[:1]]
    present = (await fp_pipe.mine(req("4", present=["rhinoceros"]))).items[0]
    assert "rhinoceros" not in [n.phrase for n in present.negatives]
