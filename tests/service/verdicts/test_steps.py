"""The verdict item steps, called as the pipeline calls them (``await step.apply(StepInput)``),
on a real store; and on real mined negatives from the embedded pipeline."""

from __future__ import annotations

import pytest

from hardneg.miners.types import Kind, Negative, RequestItem
from hardneg.service.steps import ItemStep, StepInput
from hardneg.service.verdicts import PositiveVerdictStep, PresentOnItemStep, verdict_steps
from hardneg.service.verdicts.settings import VerdictSettings
from hardneg.service.verdicts.store import SqliteVerdictStore
from tests.service.verdicts.conftest import verdict

POSITIVE = "yellow school bus"
PHRASES = ["yellow taxi", "red school bus", "school van", "minivan", "tram"]


def negs(phrases=PHRASES) -> list[Negative]:
    return [
        Negative(phrase=p, score=0.5, for_positive=POSITIVE, kind=Kind.type, sources=["vocabulary"])
        for p in phrases
    ]


def step_input(item_id: str = "img-1", negatives=None) -> StepInput:
    item = RequestItem(id=item_id, positives=[POSITIVE])
    return StepInput(item=item, positive=POSITIVE, negatives=negatives or negs(), k=3)


@pytest.fixture
async def sqlite_store(tmp_path):
    s = SqliteVerdictStore(tmp_path / "v.sqlite")
    yield s
    await s.aclose()


async def test_present_on_item_drops_only_on_that_item(store):
    step = PresentOnItemStep(store)
    assert isinstance(step, ItemStep)
    await store.write([verdict(1, negative="Yellow Taxis", verdict="present")])
    out = await step.apply(step_input("img-1"))
    assert [n.phrase for n in out.negatives] == PHRASES[1:]
    assert out.status is not None and out.status.note == "1 judged present on this item"
    other = await step.apply(step_input("img-2"))
    assert [n.phrase for n in other.negatives] == PHRASES
    assert not step.applies(RequestItem(positives=[POSITIVE]))  # no id: no verdicts


async def test_positive_demotes_then_drops_and_absent_raises(store):
    step = PositiveVerdictStep(store, demote_items=2, drop_items=3)
    rejected = ["present", "not_similar", "implausible"]
    await store.write(
        [verdict(f"a{i}", item_id=f"i{i}", verdict=rejected[i]) for i in range(3)]  # taxi: drop
        + [
            verdict(f"b{i}", item_id=f"i{i}", negative="school van", verdict="implausible")
            for i in range(2)
        ]  # demoted
        + [verdict(f"c{i}", item_id=f"i{i}", negative="tram") for i in range(2)]  # raised
        + [
            verdict("d0", negative="minivan", verdict="present"),
            verdict("d1", item_id="i9", negative="minivan"),
        ]  # one each way: as ranked
    )
    out = await step.apply(step_input("img-new"))
    # k=3: the demoted one takes the answer's last place, below every unjudged one in it
    assert [n.phrase for n in out.negatives] == ["tram", "red school bus", "school van", "minivan"]
    by = {n.phrase: n.evidence.get("verdicts") for n in out.negatives}
    assert by["school van"]["action"] == "demoted" and by["school van"]["implausible"] == 2
    assert by["tram"]["action"] == "raised" and by["red school bus"] is None
    assert out.status.note == "1 raised, 1 demoted, 1 dropped by verdicts on other items"


async def test_absent_verdicts_cancel_rejections(store):
    step = PositiveVerdictStep(store, demote_items=2, drop_items=3)
    await store.write(
        [verdict(f"p{i}", item_id=f"i{i}", verdict="present") for i in range(3)]
        + [verdict(f"a{i}", item_id=f"j{i}") for i in range(2)]
    )
    out = await step.apply(step_input("img-new"))
    assert out.negatives[-1].phrase == "tram"  # net 1: kept in place, not dropped
    assert [n.phrase for n in out.negatives] == PHRASES


async def test_a_failing_store_degrades_the_step(sqlite_store, tmp_path):
    await sqlite_store.write([verdict(1, verdict="present")])
    await sqlite_store.aclose()
    sqlite_store.path = tmp_path / "a-folder-where-the-file-should-be"
    sqlite_store.path.mkdir()
    for step in verdict_steps(VerdictSettings(_env_file=None), sqlite_store):
        out = await step.apply(step_input())
        assert [n.phrase for n in out.negatives] == PHRASES
        assert out.status.status == "error" and out.status.error


@pytest.mark.slow
async def test_on_mined_negatives(make_pipeline, tmp_path):
    """Real negatives from the embedded pipeline, then the steps as the pipeline applies them:
    present on the item -> gone for it; rejected by N other items -> demoted elsewhere."""
    pipe = make_pipeline()
    store = SqliteVerdictStore(tmp_path / "v.sqlite")
    steps = verdict_steps(VerdictSettings(_env_file=None, verdict_demote_items=2), store)
    try:
        item = RequestItem(id="img-1", positives=[POSITIVE])
        mined = (await pipe.mine(_request(item))).items[0].negatives
        assert len(mined) >= 5
        target, second = mined[0].phrase, mined[1].phrase
        await store.write([verdict(1, negative=target, verdict="present")])
        await store.write(
            [
                verdict(f"n{i}", item_id=f"o{i}", negative=second, verdict="not_similar")
                for i in range(2)
            ]
        )
        for item_id in ("img-1", "img-2"):
            out = mined
            for step in steps:
                if step.applies(RequestItem(id=item_id, positives=[POSITIVE])):
                    out = (await step.apply(step_input(item_id, out))).negatives
            phrases = [n.phrase for n in out]
            assert (target in phrases) == (item_id != "img-1")
            assert phrases.index(second) == 2  # k=3: demoted to the answer's last place
    finally:
        await store.aclose()
        await pipe.aclose()


def _request(item: RequestItem):
    from hardneg.miners.types import NegativesRequest

    return NegativesRequest(items=[item], k=12)
