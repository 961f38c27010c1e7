"""The SA-Co loop end to end: mine -> export -> a detector (an in-test predictions file, and an
in-test HTTP detector for the online path) -> ingest -> mining the same image again returns the
fooled negatives first, with the detector's evidence, and never one that fired elsewhere.

Mining is the real pipeline (MiniLM, vocabulary miner) with the steps it builds itself
(``image_steps``); export and ingest go through the CLI, as a data team runs them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardneg.clients.cli.app import app as cli
from hardneg.miners.types import NegativesRequest, RequestItem
from tests.fakes.detector_server import FakeDetector
from tests.service.images.conftest import data_uri, image_item, png

BUS = [10.0, 10.0, 100.0, 50.0]
K = 12


def _dataset(tmp_path: Path) -> Path:
    gt = {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 200, "height": 100}],
        "categories": [{"id": 1, "name": "school_bus"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": BUS}],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    return path


@pytest.fixture
def env(tmp_path):
    return {"HARDNEG_VERIFY_STORE_PATH": str(tmp_path / "verify.sqlite"), "HARDNEG_REDIS_URL": None}


async def test_offline_round_then_mining_again(make_pipeline, tmp_path, env):
    pipeline = make_pipeline(verify_store_path=tmp_path / "verify.sqlite")
    request = NegativesRequest(items=[RequestItem(id="1", positives=["school bus"])], k=K)
    first = await pipeline.mine(request)
    assert "verify_rounds" not in first.items[0].miners  # no round yet: the step stays silent
    mined = tmp_path / "mined.jsonl"
    mined.write_text("".join(r.model_dump_json() + "\n" for r in first.items))
    run = CliRunner()
    args = [
        "verify",
        "export",
        str(_dataset(tmp_path)),
        str(mined),
        "-r",
        "r1",
        "-o",
        str(tmp_path / "q"),
    ]
    res = await asyncio.to_thread(run.invoke, cli, args, env=env)  # the CLI runs its own loop
    assert res.exit_code == 0, res.output
    queries = json.loads((tmp_path / "q.coco.json").read_text())["images"]
    assert len(queries) == len(first.items[0].negatives) >= 6
    # the in-test detector: fooled by the 4th query (on the bus), fires far away on the 2nd
    fooled, elsewhere = queries[3], queries[1]
    preds = [
        {"image_id": fooled["id"], "score": 0.83, "bbox": [12.0, 12.0, 96.0, 48.0]},
        {"image_id": elsewhere["id"], "score": 0.9, "bbox": [150.0, 60.0, 30.0, 30.0]},
        {"image_id": queries[0]["id"], "score": 0.1, "bbox": BUS},
    ]
    (tmp_path / "preds.json").write_text(json.dumps(preds))
    ingest = ["verify", "ingest", "r1", str(tmp_path / "preds.json")]
    res = await asyncio.to_thread(run.invoke, cli, ingest, env=env)
    assert res.exit_code == 0, res.output
    again = await pipeline.mine(request)
    negs = again.items[0].negatives
    assert negs[0].phrase == fooled["text_input"]
    ev = negs[0].evidence["verify_rounds"]
    assert (
        ev["outcome"] == "fooled"
        and ev["score"] == 0.83
        and ev["iou"] > 0.9
        and ev["round"] == "r1"
    )
    assert elsewhere["text_input"] not in [n.phrase for n in negs]
    # ignored ones are demoted below negatives the detector never saw (mined deeper than k)
    tier = {"fooled": 0, None: 1, "ignored": 2}
    tiers = [tier[n.evidence.get("verify_rounds", {}).get("outcome")] for n in negs]
    assert tiers == sorted(tiers) and len(negs) == K
    seen = {q["text_input"] for q in queries}
    assert any(n.phrase not in seen for n in negs)  # unverified ones now outrank the ignored
    assert "1 held out" in (again.items[0].miners["verify_rounds"].note or "")
    await pipeline.aclose()


async def test_online_verifier_then_mining(make_pipeline, tmp_path):
    fake = FakeDetector()  # stands in for a GPU detector behind the http verifier contract
    pipeline = make_pipeline(
        verifier="http",
        verifier_url=fake.url,
        verifier_timeout_s=5.0,
        verify_store_path=tmp_path / "verify.sqlite",
    )
    item = image_item(data_uri(png(21)), id="x", positives=("school bus",))
    request = NegativesRequest(items=[item], k=K)
    plain = await pipeline.mine(
        NegativesRequest(items=[item.model_copy(update={"image": None})], k=K)
    )
    phrases = [n.phrase for n in plain.items[0].negatives]
    fake.boxes = {
        "school bus": [{"score": 0.95, "bbox": BUS}],
        phrases[5]: [{"score": 0.7, "bbox": [11.0, 11.0, 99.0, 49.0]}],
        phrases[2]: [{"score": 0.8, "bbox": [160.0, 0.0, 30.0, 30.0]}],
    }
    got = await pipeline.mine(request)
    result = got.items[0]
    assert result.negatives[0].phrase == phrases[5]
    assert result.negatives[0].evidence["verifier"]["outcome"] == "fooled"
    assert phrases[2] not in [n.phrase for n in result.negatives]
    assert result.miners["verifier"].status == "ok"
    assert result.miners["image"].status == "disabled"  # MiniLM has no image tower, and says so
    fake.close()
    await pipeline.aclose()
