"""The ontology miner inside the real pipeline (guard, MiniLM similarity filter, statuses)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hardneg.miners.base import MineQuery, MinerBase, MinerContext, MinerOutput
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.ontology import OntologyMiner
from hardneg.miners.types import Candidate, Kind, NegativesRequest
from tests.miners.ontology.fake_wdqs import FakeWDQS, Reply
from tests.procs import free_port


class OtherMiner(MinerBase):
    """Any other miner of the service (stands in for the vocabulary or LLM miner)."""

    name, version = "other", "1"

    def __init__(self, ctx: MinerContext) -> None: ...

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        phrases = ["minivan", "taxi", "tram", "fire engine", "ambulance", "garbage truck"]
        return MinerOutput(candidates=[
            Candidate(phrase=p, for_positive=query.positive, source=self.name, kind=Kind.type)
            for p in phrases
        ])  # fmt: skip


FACTORIES = {"ontology": OntologyMiner, "other": OtherMiner}
NEVER = {match_key(p) for p in ("bus", "school bus", "schoolbus", "vehicle", "motor vehicle")}


def request(phrase: str, miners: list[str], k: int = 30) -> NegativesRequest:
    return NegativesRequest.model_validate(
        {"items": [{"id": "img", "positives": [phrase]}], "k": k, "miners": miners}
    )


def check_school_bus(resp) -> None:
    item = resp.items[0]
    assert item.miners["ontology"].status == "ok"
    negs = item.negatives
    assert len(negs) >= 10
    assert all("ontology" in n.sources for n in negs)
    assert all(any(re.match(r"Q\d+$", q) for q in n.evidence["ontology"]["qids"]) for n in negs)
    assert not {match_key(n.phrase) for n in negs} & NEVER


async def test_yellow_school_bus_through_the_pipeline(make_pipeline):
    pipe = make_pipeline(factories=FACTORIES, miners=["ontology"])
    resp = await pipe.mine(request("yellow school bus", ["ontology"]))
    check_school_bus(resp)
    miner = pipe.registry.miners["ontology"]
    assert resp.versions["miner:ontology"] == miner.version
    assert resp.versions["data:ontology"] == miner.snapshot_id
    await pipe.aclose()


async def test_pipeline_on_the_oxigraph_server(make_pipeline, snapshot_server):
    local = make_pipeline(factories=FACTORIES, miners=["ontology"])
    served = make_pipeline(factories=FACTORIES, miners=["ontology"], sparql_url=snapshot_server.url)
    await served.warm_up()  # as the service's start-up does: reads the served snapshot's id
    a = await local.mine(request("yellow school bus", ["ontology"]))
    b = await served.mine(request("yellow school bus", ["ontology"]))
    check_school_bus(b)
    assert [n.phrase for n in a.items[0].negatives] == [n.phrase for n in b.items[0].negatives]
    assert b.versions["data:ontology"] == a.versions["data:ontology"]
    await served.aclose()


async def test_unknown_concept_is_ok_with_a_reason(make_pipeline):
    pipe = make_pipeline(factories=FACTORIES, miners=["ontology"])
    item = (await pipe.mine(request("qwzx blorf", ["ontology"]))).items[0]
    st = item.miners["ontology"]
    assert st.status == "ok" and "not in the ontology" in (st.note or "")
    assert item.negatives == [] and item.degraded is False


async def test_down_endpoint_degrades_and_other_miners_answer(make_pipeline):
    dead = f"http://127.0.0.1:{free_port()}/sparql"
    pipe = make_pipeline(factories=FACTORIES, miners=["ontology", "other"], sparql_url=dead)
    await pipe.warm_up()  # a down endpoint does not stop the service from starting
    req = request("school bus", ["ontology", "other"])
    req.min_similarity = -1.0
    item = (await pipe.mine(req)).items[0]
    assert item.miners["ontology"].status == "error"
    assert re.search(r"connection failed|circuit open", item.miners["ontology"].error or "")
    assert item.miners["other"].status == "ok"
    assert {n.phrase for n in item.negatives} >= {"minivan", "taxi"}
    assert item.degraded is True
    await pipe.aclose()


@pytest.fixture
def slow_wdqs() -> Iterator[FakeWDQS]:
    srv = FakeWDQS()  # stands in for an overloaded Wikidata query service
    srv.plan(default=Reply(delay_s=5))
    srv.start()
    yield srv
    srv.stop()


async def test_slow_endpoint_is_cut_at_the_miner_timeout(make_pipeline, slow_wdqs):
    pipe = make_pipeline(factories=FACTORIES, miners=["ontology", "other"],
                         sparql_url=slow_wdqs.url, sparql_timeout_s=0.5, miner_timeout_s=1.5)  # fmt: skip
    req = request("school bus", ["ontology", "other"])
    req.min_similarity = -1.0
    item = (await pipe.mine(req)).items[0]
    assert item.miners["ontology"].status in ("error", "timeout")
    assert item.miners["other"].status == "ok" and item.negatives
    await pipe.aclose()


@pytest.mark.slow
def test_cli_acceptance_command(tmp_path, index_dir):
    """``hardneg mine "yellow school bus" --miners ontology --json`` on the embedded default
    (the session's index dir: the CLI warms every miner up, the vocabulary index included)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HARDNEG_INDEX_DIR": str(index_dir)}  # fmt: skip
    exe = os.path.join(os.path.dirname(sys.executable), "hardneg")
    proc = subprocess.run([exe, "mine", "yellow school bus", "--miners", "ontology", "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    from hardneg.miners.types import NegativesResponse

    resp = NegativesResponse.model_validate_json(proc.stdout)
    check_school_bus(resp)
    assert resp.versions["data:ontology"].startswith("wn30-wikidata-")
