"""``hardneg verify export / ingest / stats / held / check`` against a private SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardneg.clients.cli.app import app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    return {
        "HARDNEG_VERIFY_STORE_PATH": str(tmp_path / "store" / "verify.sqlite"),
        "HARDNEG_REDIS_URL": None,
        "COLUMNS": "200",
    }


def _run(args: list[str], env):
    return CliRunner().invoke(app, ["verify", *args], env=env)


def test_export_ingest_stats_held_check(vfiles, env, tmp_path):
    out = tmp_path / "out" / "r1"
    args = ["export", str(vfiles["dataset"]), str(vfiles["candidates"]), "-r", "r1", "-o", str(out)]
    res = _run(args, env)
    assert res.exit_code == 0, res.output
    assert "6 queries on 2 images" in res.output
    coco = json.loads((tmp_path / "out" / "r1.coco.json").read_text())
    assert [im["text_input"] for im in coco["images"]][:2] == ["yellow taxi", "red school bus"]
    assert len((tmp_path / "out" / "r1.jsonl").read_text().splitlines()) == 6
    assert "already exported" in _run(args, env).output
    res = _run(["ingest", "r1", str(vfiles["predictions"]), "--json"], env)
    assert res.exit_code == 0, res.output
    totals = json.loads(res.output)["stats"]["totals"]
    assert totals == {"queries": 6, "fooled": 2, "ignored": 2, "elsewhere": 2}
    res = _run(["ingest", "r1", str(vfiles["predictions"])], env)
    assert "already ingested" in res.output and "miner vocabulary" in res.output
    body = json.loads(_run(["stats", "--json"], env).output)
    assert body["rounds"][0]["per_kind"]["colour"]["elsewhere"] == 1
    res = _run(["held"], env)
    assert "red school bus" in res.output and "dog" in res.output
    res = _run(["check", "1", "red school bus", "absent"], env)
    assert res.exit_code == 0 and "checked absent" in res.output
    assert "red school bus" not in _run(["held"], env).output


def test_errors_are_one_line_and_exit_2(vfiles, env, tmp_path):
    res = _run(["ingest", "nope", str(vfiles["predictions"])], env)
    assert res.exit_code == 2 and "no verification round named 'nope'" in res.output
    res = _run(["stats", "-r", "nope"], env)
    assert res.exit_code == 2
    res = _run(["check", "1", "cat", "maybe"], env)
    assert res.exit_code == 2 and "absent" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = _run(
        ["export", str(bad), str(vfiles["candidates"]), "-r", "x", "-o", str(tmp_path / "o")], env
    )
    assert res.exit_code == 2 and "malformed JSON" in res.output
