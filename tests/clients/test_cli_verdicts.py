"""``hardneg verdicts`` as a user runs it: export, stats, and refit (split by item; the final
step reports pending while the build has no calibrated ranking)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardneg.service.verdicts.store import SqliteVerdictStore
from tests.service.verdicts.conftest import verdict


def _run(args: list[str], store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARDNEG_VERDICT_STORE_PATH": str(store)}
    env.pop("HARDNEG_VERDICT_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "hardneg.clients.cli", "verdicts", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "verdicts.sqlite"

    async def fill() -> None:
        store = SqliteVerdictStore(path)
        kinds = ["absent", "present", "not_similar", "implausible", "unsure"]
        await store.write(
            [
                verdict(
                    i,
                    item_id=f"img-{i % 40}",
                    negative=f"thing {i}",
                    verdict=kinds[i % 5],
                    sources=["llm"] if i % 2 else ["vocabulary"],
                    kind="type",
                )
                for i in range(200)
            ]
        )
        await store.aclose()

    asyncio.run(fill())
    return path


def test_export_and_stats(store_path: Path, tmp_path: Path):
    out = _run(["export", str(tmp_path / "v.jsonl")], store_path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(x) for x in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and "200 verdicts exported" in out.stderr
    assert {r["label"] for r in rows} == {0, 1, None}
    stats = _run(["stats"], store_path)
    body = json.loads(stats.stdout)["verdicts"]
    assert body["total"]["judged"] == 160 and body["total"]["acceptance"] == 0.25
    assert set(body["by_miner"]) == {"llm", "vocabulary"}


def test_refit_splits_by_item_and_says_the_model_is_pending(store_path: Path, tmp_path: Path):
    out = _run(["refit", "--out", str(tmp_path / "refit"), "--held-out", "0.25"], store_path)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "pending" in out.stderr and "calibrat" in out.stderr
    train, held = (
        [json.loads(x) for x in (tmp_path / "refit" / f"{n}.jsonl").read_text().splitlines()]
        for n in ("train", "heldout")
    )
    assert len(train) + len(held) == 160 and held and train
    assert not {r["item_id"] for r in train} & {r["item_id"] for r in held}
    assert all(r["label"] in (0, 1) for r in train + held)
