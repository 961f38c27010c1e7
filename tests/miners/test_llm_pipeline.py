"""The LLM miner inside the real pipeline (guard, similarity filter, MiniLM, vocabulary miner).

vLLM is stood in for by the fake OpenAI-compatible server (tests/fakes/openai_server.py); each
way a real server fails ends in a clear LLM status while the other miners' results still come.
The ``llm``-marked test at the end runs against a real server when HARDNEG_TEST_LLM_URL is set.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from hardneg.miners.llm import LLMMiner
from hardneg.miners.llm.prompt import PROMPT_HASH
from hardneg.miners.types import NegativesRequest
from hardneg.miners.vocabulary import VocabularyMiner
from tests.fakes import openai_server as fake

FACTORIES = {"vocabulary": VocabularyMiner, "llm": LLMMiner}
BUS = {"id": "img-1", "positives": ["yellow school bus"], "present": ["road"]}


def request(**kw: Any) -> NegativesRequest:
    return NegativesRequest.model_validate({"items": [BUS], **kw})


async def test_llm_proposals_pass_guard_and_filter(make_pipeline, llm: fake.FakeLLM):
    pipe = make_pipeline(factories=FACTORIES, miners=None, llm_url=llm.url)
    item = {**BUS, "exclude": ["blue school bus"]}
    req = NegativesRequest.model_validate(
        {"items": [item], "k": 200, "miners": ["llm"], "min_similarity": -1.0}
    )
    result = (await pipe.mine(req)).items[0]
    await pipe.aclose()
    assert result.miners["llm"].status == "ok" and not result.degraded
    proposed = {p["phrase"] for p in fake.propose({"positive": "yellow school bus", "count": 40})}
    got = {n.phrase: n for n in result.negatives}
    assert "blue school bus" in proposed and "blue school bus" not in got  # the guard applies
    assert got and set(got) <= proposed
    bus = got["red school bus"]
    assert bus.sources == ["llm"] and bus.evidence["llm"]["prompt_hash"] == PROMPT_HASH
    assert bus.evidence["llm"]["shared_attribute"] == "type: school bus"


FAILURES = [
    (fake.rate_limited("0"), "error", "returned 429"),
    (fake.status(500, "engine dead"), "error", "returned 500 (engine dead) after 2 retries"),
    (fake.stall(30), "timeout", ""),
    (fake.invalid_json(), "error", "unparseable JSON after one retry"),
    (
        fake.content('{"negatives": [{"phrase": "red sch', "length"),
        "error",
        "truncated reply after one retry",
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "state", "message"),
    FAILURES,
    ids=["429", "500", "stall", "invalid-json", "truncated"],
)
async def test_llm_failure_degrades_but_other_miners_answer(
    make_pipeline, llm: fake.FakeLLM, behaviour: fake.Behaviour, state: str, message: str
):
    llm.reset(default=behaviour)
    pipe = make_pipeline(factories=FACTORIES, miners=None, llm_url=llm.url, llm_timeout_s=0.5)
    pipe.registry.miners["llm"].client.sleep = _no_sleep  # backoff pauses are not under test
    result = (await pipe.mine(request(k=10))).items[0]
    await pipe.aclose()
    llm_status = result.miners["llm"]
    assert llm_status.status == state and message in (llm_status.error or "")
    assert result.miners["vocabulary"].status == "ok"
    assert len(result.negatives) == 10 and result.degraded is True
    assert all(n.sources == ["vocabulary"] for n in result.negatives)


async def _no_sleep(_: float) -> None:
    return None


async def test_without_url_llm_is_disabled_and_default_still_works(make_pipeline):
    pipe = make_pipeline(factories=FACTORIES, miners=None, llm_url=None)
    result = (await pipe.mine(request(k=5, miners=["vocabulary", "llm"]))).items[0]
    await pipe.aclose()
    assert result.miners["llm"].status == "disabled"
    assert (result.miners["llm"].error or "").startswith("no LLM configured")
    assert len(result.negatives) == 5


@pytest.mark.llm
@pytest.mark.skipif(
    not os.environ.get("HARDNEG_TEST_LLM_URL"),
    reason="opt-in: set HARDNEG_TEST_LLM_URL to a real OpenAI-compatible server",
)
async def test_real_llm_server_end_to_end(make_pipeline):
    """A real model (e.g. SmolLM2-135M under llama.cpp, see docs/llm.md) through the pipeline."""
    model = os.environ.get("HARDNEG_TEST_LLM_MODEL", "meta-llama/Llama-3.1-8B-Instruct")
    pipe = make_pipeline(
        factories=FACTORIES,
        miners=None,
        llm_model=model,
        llm_timeout_s=120,
        llm_url=os.environ["HARDNEG_TEST_LLM_URL"],
    )
    req = request(k=30, miners=["llm"], min_similarity=-1.0)
    result = (await pipe.mine(req)).items[0]
    await pipe.aclose()
    status = result.miners["llm"]
    assert status.status == "ok", status.error
    assert result.negatives, f"no proposal survived validation, guard and filter: {status.note}"
    for neg in result.negatives:
        assert neg.sources == ["llm"] and neg.phrase not in ("yellow school bus", "road")
        assert neg.evidence["llm"]["model"] == model
