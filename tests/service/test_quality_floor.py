"""Filler (issue class 6) and ranking that does not trust a weak embedder, through the pipeline.

With the offline default (MiniLM, which has fitted scoring weights) candidates are ordered by
the scoring model's P(hard) and those under the quality floor or likely invalid are dropped:
fewer than k come back, and the miner notes say how many and why.
"""

from __future__ import annotations

from hardneg.miners.types import NegativesRequest
from hardneg.service.scoring import features, model_for, ranking_version
from hardneg.service.similarity import default_band


def _req(concept: str, **kw: object) -> NegativesRequest:
    return NegativesRequest.model_validate({"items": [{"positives": [concept]}], **kw})


async def test_quality_floor_returns_fewer_than_k_and_says_why(make_pipeline):
    pipe = make_pipeline(quality_floor=None)  # the fitted model's default floor
    model = model_for(pipe.embedder.id)
    assert model is not None and model.floor > 0
    item = (await pipe.mine(_req("grand piano", k=30))).items[0]
    assert len(item.negatives) < 30
    note = item.miners["vocabulary"].note or ""
    assert "fewer than k=30" in note and "below quality floor" in note
    for n in item.negatives:  # every one returned clears the floor and the invalid ceiling
        p = model.probabilities(
            features(pipe.knowledge, "grand piano", n.phrase, n.evidence, n.score)
        )
        assert p["H"] >= model.floor and p["I"] <= model.max_invalid
    await pipe.aclose()


async def test_floor_zero_lets_every_candidate_through(make_pipeline):
    strict = make_pipeline(quality_floor=None)
    open_ = make_pipeline(quality_floor=0.0)
    a = (await strict.mine(_req("grand piano", k=60))).items[0].negatives
    b = (await open_.mine(_req("grand piano", k=60))).items[0].negatives
    assert len(b) > len(a)
    assert {n.phrase for n in a} <= {n.phrase for n in b}
    await strict.aclose()
    await open_.aclose()


async def test_similarity_does_not_veto_but_an_explicit_band_does(make_pipeline):
    """With a fitted model the calibrated band's lower edge is not applied (structure is not
    vetoed by a weak embedder); a caller's explicit min_similarity still is."""
    pipe = make_pipeline()
    default = (await pipe.mine(_req("grand piano", k=60))).items[0].negatives
    explicit = (await pipe.mine(_req("grand piano", k=60, min_similarity=0.6))).items[0].negatives
    lo = default_band(pipe.embedder.id)[0]  # the calibrated band's lower edge
    assert pipe.resolve(_req("grand piano").options()).band.lo == -1.0
    assert any(n.score < lo for n in default)
    assert all(n.score >= 0.6 for n in explicit)
    await pipe.aclose()


def test_ranking_version_names_the_weights(make_pipeline):
    pipe = make_pipeline()
    assert pipe.versions()["ranking"] == ranking_version(pipe.embedder.id)
    assert ranking_version(pipe.embedder.id).startswith("scoring@")
    assert ranking_version("open_clip:ViT-B-32:laion2b_s34b_b79k") == "band"


async def test_vocabulary_rows_are_not_encoded_again(make_pipeline):
    """The vocabulary index's rows are handed to the embedder: ranking a vocabulary candidate
    costs no model call (most of cold mining before)."""
    pipe = make_pipeline()
    await pipe.warm_up()
    before = pipe.embedder.stats["encoded"]
    vec = (await pipe.embedder.encode(["school bus", "minivan"]))[0]
    assert pipe.embedder.stats["encoded"] == before
    fresh = pipe.embedder.encode_text(["school bus"])[0]
    assert float(vec @ fresh) > 0.999
    await pipe.aclose()
