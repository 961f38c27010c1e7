"""The Verifier contract and the built-in HTTP verifier against a fake detector server (standing
in for a GPU detector, tests/fakes/detector_server.py), failures included, and the online
verifier step applying the fooled / ignored / elsewhere rule on the request's image."""

from __future__ import annotations

import base64

import pytest

from hardneg.miners.types import Kind, Negative
from hardneg.miners.verify import Detection, Instance, VerifyOptions, build_verifier, decide
from hardneg.miners.verify.http import HttpVerifier, VerifierError, VerifierTimeout
from hardneg.service.images import StepStores, image_steps
from hardneg.service.images.detector_steps import VerifierStep
from hardneg.service.settings import Settings
from hardneg.service.similarity import CachedEmbedder
from hardneg.service.steps import StepInput, preflight
from tests.fakes.detector_server import FakeDetector
from tests.service.images.conftest import data_uri, image_item, png

BUS = [10.0, 10.0, 100.0, 50.0]


@pytest.fixture
def detector():
    fake = FakeDetector()
    yield fake
    fake.close()


def _settings(url, **kw):
    kw.setdefault("verifier_timeout_s", 1.0)
    return Settings(_env_file=None, verifier="http", verifier_url=url, **kw)


def _image():
    from hardneg.miners.verify import VerifyImage

    data = png(11)
    return VerifyImage(data, "sha", 40, 40)


def test_decide_rule_on_hand_built_detections():
    opts = VerifyOptions(0.5, 0.5)
    truth = [Instance("school bus", (10, 10, 100, 50))]
    assert decide([], truth, opts).outcome == "ignored"
    assert decide([Detection(0.4, (10, 10, 100, 50))], truth, opts).outcome == "ignored"
    fooled = decide(
        [Detection(0.9, (12, 10, 100, 50)), Detection(0.95, (300, 0, 9, 9))], truth, opts
    )
    assert (fooled.outcome, fooled.score, fooled.positive) == ("fooled", 0.9, "school bus")
    assert fooled.iou > 0.9 and fooled.fired == 2
    assert decide([Detection(0.9, (300, 0, 9, 9))], truth, opts).outcome == "elsewhere"
    assert decide([Detection(0.9, (10, 10, 100, 50))], [], opts).outcome == "elsewhere"
    crowd = [Instance("people", (0, 0, 200, 200), iscrowd=True)]
    # COCO crowd rule: a small detection inside a crowd region overlaps it fully
    assert decide([Detection(0.9, (10, 10, 20, 20))], crowd, opts).outcome == "fooled"


async def test_http_verifier_speaks_the_contract(detector):
    detector.boxes = {"yellow taxi": [{"score": 0.8, "bbox": BUS}]}
    v = HttpVerifier(_settings(detector.url))
    found = await v.detect(_image(), ["school bus", "yellow taxi"])
    assert found["school bus"] == [] and found["yellow taxi"][0].score == 0.8
    sent = detector.requests[-1]
    assert sent["phrases"] == ["school bus", "yellow taxi"]
    assert base64.b64decode(sent["image"]["base64"]) == _image().data
    assert (sent["image"]["width"], sent["image"]["height"]) == (40, 40)
    await v.aclose()


async def test_http_verifier_retries_then_fails_clearly(detector):
    v = HttpVerifier(_settings(detector.url, verifier_retries=2))
    detector.failures.extend(["500", "429"])
    assert (await v.detect(_image(), ["cat"]))["cat"] == []  # two failures, then an answer
    assert len(detector.requests) == 3
    detector.failures.extend(["500", "500", "500"])
    with pytest.raises(VerifierError, match=r"HTTP 500.*after 2 retries"):
        await v.detect(_image(), ["cat"])
    detector.failures.append("garbage")
    with pytest.raises(VerifierError, match="not JSON"):
        await v.detect(_image(), ["cat"])
    detector.failures.append("badshape")
    with pytest.raises(VerifierError, match=r"detections\[0\]"):
        await v.detect(_image(), ["x"])
    detector.failures.append("stall")
    with pytest.raises(VerifierTimeout):
        await v.detect(_image(), ["cat"])
    await v.aclose()


async def test_circuit_opens_after_repeated_failures(detector):
    v = HttpVerifier(_settings(detector.url, verifier_retries=0))
    detector.failures.extend(["500"] * 5)
    for _ in range(5):
        with pytest.raises(VerifierError):
            await v.detect(_image(), ["cat"])
    with pytest.raises(VerifierError, match="circuit open"):
        await v.detect(_image(), ["cat"])
    assert len(detector.requests) == 5  # the sixth call never left
    assert (await v.check())[0] is False
    await v.aclose()


def test_registry_finds_the_http_verifier_by_entry_point(detector):
    v, why = build_verifier("http", _settings(detector.url))
    assert isinstance(v, HttpVerifier) and why == "ok"
    v, why = build_verifier("nope", _settings(detector.url))
    assert v is None and "unknown verifier 'nope'" in why and "http" in why
    v, why = build_verifier("http", Settings(_env_file=None, verifier="http"))
    assert v is None and "HARDNEG_VERIFIER_URL" in why

    class Half:
        name = "half"

    v, why = build_verifier("half", Settings(_env_file=None), {"half": lambda s: Half()})
    assert v is None and "missing" in why and "detect" in why


def _negs():
    return [
        Negative(phrase=p, score=0.5, for_positive="school bus", kind=Kind.type, sources=["llm"])
        for p in ("minibus", "red school bus", "yellow taxi", "fire truck")
    ]


async def _verifier_step(minilm, url, **kw):
    steps = image_steps(_settings(url, **kw), CachedEmbedder(minilm, None), StepStores())
    step = steps[-1]
    assert isinstance(step, VerifierStep)
    return steps, step


async def test_online_step_puts_fooled_first_and_drops_elsewhere(minilm, detector):
    detector.boxes = {
        "school bus": [{"score": 0.9, "bbox": BUS}],
        "yellow taxi": [{"score": 0.7, "bbox": [12.0, 12.0, 98.0, 48.0]}],
        "red school bus": [{"score": 0.8, "bbox": [150.0, 0.0, 20.0, 20.0]}],
        "minibus": [{"score": 0.2, "bbox": BUS}],
    }
    steps, step = await _verifier_step(minilm, detector.url)
    item = image_item(data_uri(png(12)), id="x", positives=("school bus",))
    await preflight(steps, [item])
    out = await step.apply(StepInput(item, "school bus", _negs(), k=4))
    # fooled first; the two the detector ignores (one below threshold, one not found) demoted
    assert [n.phrase for n in out.negatives] == ["yellow taxi", "minibus", "fire truck"]
    ev = out.negatives[0].evidence["verifier"]
    assert ev["outcome"] == "fooled" and ev["score"] == 0.7 and ev["iou"] > 0.8
    assert out.negatives[1].evidence["verifier"]["outcome"] == "ignored"
    assert out.negatives[1].evidence["verifier"]["score"] == 0.2
    assert out.status is not None and out.status.status == "ok"
    assert "1 fire elsewhere" in (out.status.note or "")
    for s in steps:
        await s.aclose()


async def test_online_step_degrades_like_a_miner(minilm, detector):
    steps, step = await _verifier_step(minilm, detector.url, verifier_retries=0)
    item = image_item(data_uri(png(13)), id="x", positives=("school bus",))
    detector.failures.append("stall")
    out = await step.apply(StepInput(item, "school bus", _negs(), k=4))
    assert out.status is not None and out.status.status == "timeout"
    assert [n.phrase for n in out.negatives] == [n.phrase for n in _negs()]
    detector.failures.append("500")
    out = await step.apply(StepInput(item, "school bus", _negs(), k=4))
    assert (
        out.status is not None
        and out.status.status == "error"
        and "HTTP 500" in (out.status.error or "")
    )
    for s in steps:
        await s.aclose()


async def test_a_configured_verifier_that_cannot_start_is_reported(minilm):
    settings = Settings(_env_file=None, verifier="http")
    steps = image_steps(settings, CachedEmbedder(minilm, None), StepStores())
    item = image_item(data_uri(png(14)), positives=("cat",))
    out = await steps[-1].apply(StepInput(item, "cat", _negs(), k=2))
    assert out.status is not None and out.status.status == "disabled"
    assert "HARDNEG_VERIFIER_URL" in (out.status.error or "")
