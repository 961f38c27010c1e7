"""``hardneg fp ingest`` / ``hardneg fp stats``, and mining what they stored from a second run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardneg.clients.cli.fp import fp_app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    """Each CLI run reads settings from the environment: a private table, no Redis."""
    return {
        "HARDNEG_FP_STORE_PATH": str(tmp_path / "table" / "fp.sqlite"),
        "HARDNEG_REDIS_URL": None,
        "COLUMNS": "200",
    }


def _run(args: list[str], env: dict[str, str | None]):
    return CliRunner().invoke(fp_app, args, env=env)


def test_ingest_then_stats(files, env):
    res = _run(["ingest", str(files["coco"]), str(files["preds"]), "--round", "v1"], env)
    assert res.exit_code == 0, res.output
    assert "9 false positives (7 image-level, 6 confusions, 1 unverified)" in res.output
    res = _run(["ingest", str(files["coco"]), str(files["preds"]), "--round", "v1", "--json"], env)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["already_ingested"] is True and report["stats"]["ingests"] == 1
    res = _run(["stats", "--json"], env)
    body = json.loads(res.output)
    assert [r["round"] for r in body["rounds"]] == ["v1"]
    assert body["rounds"][0]["new_pairs"] == 5
    res = _run(["stats"], env)
    assert res.exit_code == 0 and "v1" in res.output and "100%" in res.output


def test_bad_input_exits_non_zero_with_the_offending_record(files, env, tmp_path):
    preds = json.loads(files["preds"].read_text())
    preds[3]["score"] = 7
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(preds))
    res = _run(["ingest", str(files["coco"]), str(bad), "--round", "v1"], env)
    assert res.exit_code == 2
    assert "predictions[3].score: 7 is outside [0, 1]" in res.output
    assert "nothing was stored" in res.output
    res = _run(["stats"], env)
    assert "no false positives ingested yet" in res.output
    res = _run(["stats", "--round", "v9"], env)
    assert res.exit_code == 2 and "no round named 'v9'" in res.output


@pytest.mark.slow
def test_mine_after_ingest_returns_the_confused_concept(files, env):
    """Acceptance: two separate CLI invocations share the table through the SQLite file."""
    from hardneg.clients.cli import app

    env = {**env, "HARDNEG_EMBEDDER": "minilm:all-MiniLM-L6-v2"}  # the one shipped on PyPI
    res = CliRunner().invoke(
        app, ["fp", "ingest", str(files["coco"]), str(files["preds"]), "--round", "v1"], env=env
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        app, ["mine", "rhinoceros", "--miners", "false_positive", "--json"], env=env
    )
    assert res.exit_code == 0, res.output
    item = json.loads(res.stdout)["items"][0]
    assert item["miners"]["false_positive"]["status"] == "ok"
    by_phrase = {n["phrase"]: n for n in item["negatives"]}
    assert "false_positive" in by_phrase["elephant"]["sources"]
    assert by_phrase["elephant"]["evidence"]["false_positive"]["count"] == 2
