"""Images through the real app and pipeline: bad images are a 422 naming the item and the reason
before any miner runs, a good one is used (or reported disabled on MiniLM), never ignored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hardneg.miners.base import MineQuery, MinerBase, MinerContext, MinerOutput
from hardneg.miners.types import Candidate
from hardneg.service.app import create_app
from tests.service.images.conftest import data_uri, png


class CountingMiner(MinerBase):
    """Proposes two phrases and counts its calls (to prove a refused request mined nothing)."""

    name = "counting"
    version = "1"
    calls = 0

    def __init__(self, ctx: MinerContext) -> None:
        pass

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        CountingMiner.calls += 1
        phrases = ("red school bus", "yellow taxi")
        return MinerOutput(
            candidates=[
                Candidate(phrase=p, for_positive=query.positive, source=self.name) for p in phrases
            ]
        )


@pytest.fixture(scope="module")
def client(make_pipeline, tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    (root / "bus.png").write_bytes(png(31))
    pipe = make_pipeline(
        miners=["counting"],
        factories={"counting": CountingMiner},
        image_root=root,
        image_url_hosts=["images.example.org"],
        verify_store_path=root / "verify.sqlite",
        min_similarity=-1.0,
    )
    with TestClient(create_app(pipeline=pipe)) as c:
        yield c


@pytest.mark.parametrize(
    ("image", "needle"),
    [
        ("https://elsewhere.example/bus.png", "items.1.image: host not allowed"),
        ("../bus.png", "items.1.image: outside root"),
        ("missing.png", "items.1.image: unreachable"),
        (data_uri(b"plain text"), "items.1.image: not an image"),
        ("ftp://images.example.org/x.png", "items.1.image: bad reference"),
    ],
)
def test_bad_image_is_refused_before_any_work(client, image, needle):
    CountingMiner.calls = 0
    items = [
        {"positives": ["school bus"], "image": "bus.png"},
        {"positives": ["cat"], "image": image},
    ]
    resp = client.post("/v1/negatives", json={"items": items})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["message"].startswith(needle)
    assert CountingMiner.calls == 0


@pytest.mark.parametrize("image", ["bus.png", data_uri(png(31))])
def test_an_image_on_minilm_is_reported_disabled_not_ignored(client, image):
    body = {"items": [{"id": "", "positives": ["school bus"], "image": image}], "k": 5}
    resp = client.post("/v1/negatives", json=body)
    assert resp.status_code == 200, resp.text
    item = resp.json()["items"][0]
    assert item["miners"]["image"]["status"] == "disabled"
    assert "no image tower" in item["miners"]["image"]["error"]
    plain = client.post("/v1/negatives", json={"items": [{"positives": ["school bus"]}], "k": 5})
    assert item["negatives"] == plain.json()["items"][0]["negatives"]  # the text ranking stands
    assert [n["phrase"] for n in item["negatives"]] == ["yellow taxi"]


def test_verification_routes_are_served(client):
    resp = client.get("/v1/verify/rounds")
    assert resp.status_code == 200 and resp.json() == {"rounds": []}
    assert client.get("/v1/verify/rounds/none").status_code == 404
