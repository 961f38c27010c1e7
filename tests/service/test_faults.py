"""Faults under load, against ``hardneg serve`` in its own process with real dependencies: a
redis-server, the ontology snapshot served by a real Oxigraph server, and, standing in for vLLM
(no weights here), the fake OpenAI-compatible server of tests/fakes, which answers 500 and
stalls the way a real server does. Answers keep coming within the deadline, degraded and naming
the miner; /healthz stays up; /readyz turns 503 while Redis is down and recovers without a
restart. A batch job killed mid-run resumes with no item lost or written twice.

Request loops are bounded in count and time and target loopback only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from hardneg.miners.knowledge import Knowledge
from hardneg.miners.ontology.snapshot import default_snapshot_path
from tests.fakes import openai_server as fake
from tests.miners.ontology.conftest import OxigraphServer
from tests.procs import RedisServer, Service

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEADLINE_S = 4.0
MARGIN_S = 2.0  # scheduling slack on a loaded 2-core machine


class Deps:
    def __init__(self, redis: RedisServer, sparql: OxigraphServer, llm: fake.FakeLLM) -> None:
        self.redis, self.sparql, self.llm = redis, sparql, llm


@pytest.fixture(scope="module")
def stack(tmp_path_factory, index_dir) -> Iterator[tuple[Service, Deps]]:
    work = tmp_path_factory.mktemp("faults")
    redis = RedisServer(work / "redis")
    sparql = OxigraphServer(default_snapshot_path(), work)
    llm = fake.FakeLLM(record=False)
    redis.start()
    sparql.start()
    llm.start()
    env = {
        "HARDNEG_MINERS": '["vocabulary", "ontology", "llm"]',
        "HARDNEG_EMBEDDER": "minilm:all-MiniLM-L6-v2",
        "HARDNEG_QUALITY_FLOOR": "0",  # fault behaviour: what the surviving miners found, all of it
        "HARDNEG_INDEX_DIR": str(index_dir),
        "HARDNEG_REDIS_URL": redis.url,
        "HARDNEG_SPARQL_URL": sparql.url,
        "HARDNEG_SPARQL_TIMEOUT_S": "1",
        "HARDNEG_LLM_URL": llm.url,
        "HARDNEG_LLM_TIMEOUT_S": "1",
        "HARDNEG_LLM_MAX_RETRIES": "0",
        "HARDNEG_REQUEST_DEADLINE_S": str(DEADLINE_S),
        "HARDNEG_FP_STORE_PATH": str(work / "fp.sqlite"),
    }
    srv = Service(env, log=work / "service.log")
    try:
        srv.start()
        yield srv, Deps(redis, sparql, llm)
    finally:
        srv.stop()
        llm.stop()
        sparql.stop()
        redis.stop()


CONCEPTS = iter([e.phrase for e in Knowledge.load_default().vocabulary()][200:])


def _ask(client: httpx.Client, concept: str | None = None) -> tuple[float, dict]:
    """One cold concept (never asked before): its time and its item."""
    body = {"items": [{"positives": [concept or next(CONCEPTS)]}], "k": 10}
    start = time.perf_counter()
    resp = client.post("/v1/negatives", json=body)
    took = time.perf_counter() - start
    assert resp.status_code == 200, resp.text
    return took, resp.json()["items"][0]


def test_llm_answering_500_then_stalling_degrades_within_the_deadline(stack):
    srv, deps = stack
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        _, item = _ask(c)
        assert item["miners"]["llm"]["status"] == "ok", item["miners"]
        deps.llm.reset(fake.status(500, "engine crashed"))
        took, item = _ask(c)
        assert item["miners"]["llm"]["status"] == "error" and item["degraded"] is True
        assert "500" in item["miners"]["llm"]["error"], item["miners"]["llm"]
        assert item["miners"]["vocabulary"]["status"] == "ok" and item["negatives"]
        deps.llm.reset(fake.stall(60))
        for _ in range(2):
            took, item = _ask(c)
            assert took < DEADLINE_S + MARGIN_S, took
            assert item["miners"]["llm"]["status"] in ("timeout", "error"), item["miners"]["llm"]
            assert item["degraded"] is True and item["negatives"]
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 200  # the LLM is optional: degraded, still ready
        deps.llm.reset()


def test_sparql_server_stopped_degrades_naming_the_ontology_miner(stack):
    srv, deps = stack
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        deps.sparql.stop()
        try:
            for _ in range(3):
                took, item = _ask(c)
                assert took < DEADLINE_S + MARGIN_S, took
                assert item["miners"]["ontology"]["status"] in ("error", "timeout"), item
                assert item["miners"]["ontology"]["error"]
                assert item["degraded"] is True and item["negatives"]
            assert c.get("/healthz").status_code == 200
            assert c.get("/readyz").status_code == 200
        finally:
            deps.sparql.start(store=deps.sparql.workdir / "store")


def _load(url: str, stop: threading.Event, out: list[tuple[int, bool, float]]) -> None:
    """A bounded load loop: distinct concepts, one request at a time, at most 30 s."""
    with httpx.Client(base_url=url, timeout=30) as c:
        end = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < end:
            start = time.perf_counter()
            body = {"items": [{"positives": [next(CONCEPTS)]}], "k": 10, "miners": ["vocabulary"]}
            resp = c.post("/v1/negatives", json=body)
            degraded = resp.status_code == 200 and resp.json()["items"][0]["degraded"]
            out.append((resp.status_code, degraded, time.perf_counter() - start))


def test_redis_killed_mid_load_answers_keep_coming_and_readiness_recovers(stack):
    srv, deps = stack
    results: list[tuple[int, bool, float]] = []
    stop = threading.Event()
    loader = threading.Thread(target=_load, args=(srv.url, stop, results), daemon=True)
    loader.start()
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        time.sleep(1.5)
        assert deps.redis.proc is not None
        deps.redis.proc.send_signal(signal.SIGKILL)  # killed, not shut down
        deps.redis.proc.wait(timeout=10)
        time.sleep(2.0)
        assert c.get("/readyz").status_code == 503
        assert c.get("/healthz").status_code == 200
        deps.redis.start()
        deadline = time.monotonic() + 15
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "readiness did not recover"
            time.sleep(0.2)
        time.sleep(1.0)
    stop.set()
    loader.join(timeout=40)
    statuses = [s for s, _, _ in results]
    assert statuses and set(statuses) == {200}, statuses  # every request answered
    assert any(d for _, d, _ in results), "answers while Redis was down say degraded"
    assert not results[-1][1], "answers after recovery are not degraded"
    assert max(t for _, _, t in results) < DEADLINE_S + MARGIN_S


def test_batch_killed_mid_run_resumes_without_loss_or_duplicates(stack, tmp_path):
    srv, _ = stack
    concepts = [next(CONCEPTS) for _ in range(60)]
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps({"id": f"img-{i}", "positives": [p]}) + "\n" for i, p in enumerate(concepts)
        )
    )
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "hardneg.clients.cli", "batch", str(items), str(out)]
    cmd += ["--url", srv.url, "--chunk", "4", "--miners", "vocabulary"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARDNEG_")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out.exists() and out.read_text().count("\n") >= 8):
        assert proc.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done_before = out.read_text().count("\n")
    assert done_before < 60, "killed mid-run"
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(f"img-{i}" for i in range(60))  # none lost, none twice
