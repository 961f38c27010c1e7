"""The image step through the real open_clip code (tiny config, random weights): URL, path and
base64 images, embeddings cached by content hash, every kind of bad image refused before any
work with a message that says which, and MiniLM reporting the step disabled."""

from __future__ import annotations

import base64
import os

import numpy as np
import pytest

from hardneg.miners.types import Kind, Negative
from hardneg.service.cache import make_cache
from hardneg.service.errors import as_api_error
from hardneg.service.images import ImageRule, InvalidImage, StepStores, image_steps
from hardneg.service.images.steps import ImageTextStep
from hardneg.service.settings import Settings
from hardneg.service.similarity import CachedEmbedder
from hardneg.service.steps import StepInput, preflight
from tests.service.images.conftest import data_uri, image_item, png

PHRASES = ["red school bus", "yellow taxi", "school van", "minibus", "fire truck", "banana"]


def _settings(tmp_path, **kw):
    kw.setdefault("image_url_hosts", ["127.0.0.1"])
    kw.setdefault("image_root", tmp_path)
    kw.setdefault("image_timeout_s", 1.0)
    return Settings(_env_file=None, **kw)


def _negs(positive="yellow school bus"):
    return [
        Negative(phrase=p, score=0.5, for_positive=positive, kind=Kind.type, sources=["vocabulary"])
        for p in PHRASES
    ]


def _step(steps) -> ImageTextStep:
    step = steps[0]
    assert isinstance(step, ImageTextStep)
    return step


@pytest.fixture
async def clip_steps(tiny_clip, tmp_path, redis_url):
    settings = _settings(tmp_path, redis_url=redis_url)
    cache = make_cache(settings)
    emb = CachedEmbedder(tiny_clip, cache)
    steps = image_steps(settings, emb, StepStores(cache=cache))
    yield steps, emb, cache, settings
    for s in steps:
        await s.aclose()
    await cache.aclose()


async def test_url_path_and_base64_give_one_encoding(clip_steps, image_server, tmp_path):
    steps, emb, cache, settings = clip_steps
    step = _step(steps)
    data = png(1)
    image_server.routes["/bus.png"] = data
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bus.png").write_bytes(data)
    forms = [
        image_server.url("/bus.png"),
        "sub/bus.png",
        str(tmp_path / "sub" / "bus.png"),
        f"file://{tmp_path}/sub/bus.png",
        data_uri(data),
        base64.b64encode(data).decode(),
    ]
    items = [
        image_item(f, id=str(i), positives=("yellow school bus",)) for i, f in enumerate(forms)
    ]
    await preflight(steps, items)
    assert step.vectors is not None and step.vectors.encoded == 1  # one picture, six forms
    outs = [await step.apply(StepInput(it, "yellow school bus", _negs(), k=3)) for it in items]
    assert all(o.status is not None and o.status.status == "ok" for o in outs)
    assert len({tuple(n.phrase for n in o.negatives) for o in outs}) == 1
    # another process (fresh LRU) over the same Redis: a cache hit, no encoding
    fresh = _step(image_steps(settings, emb, StepStores(cache=cache)))
    await fresh.prepare(items[:1])
    assert fresh.vectors is not None and fresh.vectors.encoded == 0
    await fresh.aclose()


async def test_ranking_follows_the_image_text_rule(clip_steps, tiny_clip, tmp_path):
    steps, *_ = clip_steps
    step = _step(steps)
    data = png(2)
    item = image_item(data_uri(data), id="a", positives=("yellow school bus",))
    await step.prepare([item])
    import io

    from PIL import Image

    img = tiny_clip.encode_image([Image.open(io.BytesIO(data)).convert("RGB")])[0]
    txt = tiny_clip.encode_text(["yellow school bus", *PHRASES])
    s = txt @ img
    pos, scores = float(s[0]), dict(zip(PHRASES, s[1:].tolist(), strict=True))
    # margins chosen from the random model's own scores so every verdict occurs
    gaps = sorted(pos - v for v in scores.values())
    rule = ImageRule(
        present_margin=gaps[2] + 1e-6, drop_margin=-gaps[0] + 1e-6, hard_margin=gaps[4] + 1e-6
    )
    step.rule = rule
    out = await step.apply(StepInput(item, "yellow school bus", _negs(), k=6))
    verdicts = {p: rule.verdict(pos, v) for p, v in scores.items()}
    kept = [n.phrase for n in out.negatives]
    assert [p for p in PHRASES if verdicts[p] == "drop"] == [p for p in PHRASES if p not in kept]
    tiers = {"hard": 0, "neutral": 1, "may_be_present": 2}
    assert [tiers[verdicts[p]] for p in kept] == sorted(tiers[verdicts[p]] for p in kept)
    ev = out.negatives[0].evidence["image"]
    assert ev["verdict"] == verdicts[kept[0]] and abs(ev["score"] - scores[kept[0]]) < 1e-3
    assert "dropped" in (out.status.note or "")


def test_rule_bands():
    rule = ImageRule(present_margin=0.01, drop_margin=0.03, hard_margin=0.05)
    assert rule.verdict(0.30, 0.34) == "drop"
    assert rule.verdict(0.30, 0.31) == "may_be_present"
    assert rule.verdict(0.30, 0.295) == "may_be_present"
    assert rule.verdict(0.30, 0.28) == "hard"
    assert rule.verdict(0.30, 0.20) == "neutral"


def _bad_cases(tmp_path, image_server):
    (tmp_path / "notes.txt").write_text("not a picture at all")
    outside = tmp_path.parent / f"outside-{os.getpid()}.png"
    outside.write_bytes(png(3))
    (tmp_path / "link.png").symlink_to(outside)
    image_server.routes["/text"] = b"hello, no image here"
    image_server.routes["/huge.png"] = png(4, size=200)
    return [
        (data_uri(b"GIF89a-but-broken"), "not_an_image"),
        ("notes.txt", "not_an_image"),
        (image_server.url("/text"), "not_an_image"),
        ("data:image/png;base64,@@@", "not_an_image"),
        (image_server.url("/huge.png"), "too_large"),
        (data_uri(png(5, size=200)), "too_large"),
        (image_server.url("/missing.png"), "unreachable"),
        (image_server.url("/slow"), "unreachable"),
        (image_server.url("/moved"), "unreachable"),
        ("http://127.0.0.1:9/x.png", "unreachable"),
        ("no/such/file.png", "unreachable"),
        ("../outside.png", "outside_root"),
        (str(outside), "outside_root"),
        ("link.png", "outside_root"),
        ("https://example.org/bus.png", "host_not_allowed"),
        ("ftp://127.0.0.1/bus.png", "bad_reference"),
    ]


async def test_each_kind_of_bad_image_is_a_422_before_any_work(clip_steps, image_server, tmp_path):
    steps, *_ = clip_steps
    for value, reason in _bad_cases(tmp_path, image_server):
        good = image_item(data_uri(png(6)), id="ok", positives=("cat",))
        bad = image_item(value, id="bad", positives=("cat",))
        step = _step(steps)
        step.loader.source.s.image_max_bytes = 20_000
        with pytest.raises(InvalidImage) as info:
            await preflight(steps, [good, bad])
        assert info.value.reason == reason, (value[:60], str(info.value))
        assert str(info.value).startswith("items.1.image: " + reason.replace("_", " "))
        api = as_api_error(info.value)
        assert api is not None and api.status == 422


async def test_url_images_are_off_by_default(tiny_clip, tmp_path):
    settings = Settings(_env_file=None)
    steps = image_steps(settings, CachedEmbedder(tiny_clip, None), StepStores())
    item = image_item("http://127.0.0.1/x.png", positives=("cat",))
    with pytest.raises(InvalidImage, match="URL images are off"):
        await preflight(steps, [item])
    path_item = image_item("x.png", positives=("cat",))
    with pytest.raises(InvalidImage, match="HARDNEG_IMAGE_ROOT unset"):
        await preflight(steps, [path_item])


async def test_minilm_reports_the_step_disabled_with_its_reason(minilm, tmp_path, image_server):
    steps = image_steps(_settings(tmp_path), CachedEmbedder(minilm, None), StepStores())
    image_server.routes["/m.png"] = png(7)
    hits = len(image_server.hits)
    item = image_item(image_server.url("/m.png"), id="m", positives=("yellow school bus",))
    await preflight(steps, [item])
    assert len(image_server.hits) == hits  # nothing reads the pixels, so nothing is fetched
    step = _step(steps)
    assert step.applies(item)
    out = await step.apply(StepInput(item, "yellow school bus", _negs(), k=3))
    assert out.status is not None and out.status.status == "disabled"
    assert "no image tower" in (out.status.error or "") and "minilm" in (out.status.error or "")
    assert [n.phrase for n in out.negatives] == PHRASES
    # the disabled step still refuses a bad image before any work
    with pytest.raises(InvalidImage):
        await preflight(steps, [image_item("https://evil.example/x.png", positives=("cat",))])


def test_image_tower_off_is_disabled_too(tiny_configs):
    from hardneg.service.similarity import OpenClipEmbedder

    emb = OpenClipEmbedder("hardneg-tiny", device="cpu", image_tower=False)
    steps = image_steps(Settings(_env_file=None), CachedEmbedder(emb, None), StepStores())
    assert "HARDNEG_IMAGE_TOWER" in (_step(steps).disabled or "")
    assert np.isfinite(emb.encode_text(["cat"])).all()
