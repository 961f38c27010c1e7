"""LLM proposal miner: a language model served behind an OpenAI-compatible API proposes negatives.

Built for vLLM (``/v1/chat/completions`` with a JSON-schema ``response_format``) but asks nothing
vLLM-only, so llama.cpp's server or any OpenAI-compatible server works too. The HTTP side
(retries, Retry-After, concurrency limit, circuit breaker) lives in ``client`` on the shared ``hardneg.miners.resilience``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from hardneg.miners.base import (
    MineQuery,
    MinerBase,
    MinerContext,
    MinerOutput,
    MinerTraits,
    MinerUnavailable,
)
from hardneg.miners.cache import MinerCache
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.llm.client import (
    BREAKER_COOLDOWN_S,
    BREAKER_FAILURES,
    ChatClient,
    ChatReply,
    LLMError,
    LLMHTTPError,
    normalise_base_url,
)
from hardneg.miners.llm.prompt import (
    PROMPT_HASH,
    PROMPT_VERSION,
    SCHEMA_NAME,
    BadOutput,
    Proposal,
    build_messages,
    parse_reply,
    response_schema,
    salvage,
)
from hardneg.miners.llm.settings import LLMSettings
from hardneg.miners.resilience import CircuitBreaker
from hardneg.miners.types import Candidate

log = logging.getLogger(__name__)

MINER_REVISION = "2"  # bump on any change to how replies become candidates
MAX_PROPOSALS = 40  # asked per positive; more costs decode time for little gain
TOKENS_PER_PROPOSAL = 40  # max_tokens budget; doubled on the retry after a truncated reply
TEMPERATURE = 0.6
SEED = 0  # same prompt -> same answer on every replica, so cached and fresh answers agree
TIMEOUT_SLACK_S = 5.0  # the miner's own timeout: one request plus room for a quick retry


class Answer(BaseModel):
    """What the model gave for one item (this is what the cache stores)."""

    proposals: list[Proposal]
    invalid: int = 0  # entries that failed validation
    truncated: bool = False  # cut off at max_tokens twice; the complete entries were kept


def _norm(phrase: str) -> str:
    """How a phrase is shown to the model: casefolded, single spaces."""
    return " ".join(phrase.casefold().split())


def _decode_answer(blob: bytes) -> Answer | None:
    try:
        return Answer.model_validate_json(blob)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


class LLMMiner(MinerBase):
    """Asks the model for look-alike concepts that are not present, validates and caches them."""

    name = "llm"

    def __init__(self, ctx: MinerContext) -> None:
        s = ctx.section(LLMSettings)
        url = s.llm_url
        if not url:
            raise MinerUnavailable(
                "no LLM configured: set HARDNEG_LLM_URL to an OpenAI-compatible server"
                " (e.g. vLLM at http://vllm:8000/v1)"
            )
        self.model: str = s.llm_model
        self.timeout_s: float = s.llm_timeout_s + TIMEOUT_SLACK_S
        self.traits = MinerTraits(timeout_s=self.timeout_s)
        self.cache_ttl_s = s.llm_cache_ttl_s
        self.cache: MinerCache[Answer] = MinerCache(
            ctx.cache,
            f"llm:{PROMPT_VERSION}",
            self.cache_ttl_s,
            encode=lambda a: a.model_dump_json().encode(),
            decode=_decode_answer,
        )
        self.version = f"{MINER_REVISION}+prompt.{PROMPT_VERSION}.{PROMPT_HASH[:8]}+{self.model}"
        self.client = ChatClient(
            normalise_base_url(url),
            s.llm_api_key,
            s.llm_timeout_s,
            s.llm_max_concurrency,
            retries=s.llm_max_retries,
        )
        self.max_proposals = s.llm_max_proposals
        self.breaker = CircuitBreaker(BREAKER_FAILURES, BREAKER_COOLDOWN_S, name="LLM")
        # json_schema is the OpenAI/vLLM form; llama-cpp-python only knows json_object+schema.
        self.response_format = "json_schema"

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        count = max(1, min(query.k, self.max_proposals))
        present = sorted({_norm(p) for p in query.present})
        avoid = sorted({_norm(p) for p in query.exclude} - set(present))
        key = self._cache_text(_norm(query.positive), present, avoid, count)
        cache = self.cache.on(ctx.cache)
        answer = await cache.get(key)
        if answer is None:
            answer = await self._ask(query.positive, present, avoid, count)
            await cache.set(key, answer)
        return self._output(query, answer, count)

    async def _ask(self, positive: str, present: list[str], avoid: list[str], count: int) -> Answer:
        """One request, retried once when the reply is truncated or not the JSON asked for."""
        messages = build_messages(positive, present, avoid, count)
        max_tokens = count * TOKENS_PER_PROPOSAL + 64
        problem, cut = "", None
        for _ in range(2):
            try:
                reply = await self._complete(messages, max_tokens, count)
                if reply.finish_reason != "length":
                    proposals, invalid = parse_reply(reply.content)
                    return Answer(proposals=proposals, invalid=invalid)
                problem = f"truncated reply: finish_reason=length at max_tokens={max_tokens}"
                cut, max_tokens = reply.content, max_tokens * 2
            except BadOutput as exc:
                problem = f"unparseable JSON: {exc}"
        kept, invalid = salvage(cut)
        if kept:  # a model that rambles past max_tokens twice still gave us whole entries
            return Answer(proposals=kept, invalid=invalid, truncated=True)
        what, _, detail = problem.partition(": ")
        raise LLMError(f"{what} after one retry: {detail}")

    async def _complete(
        self, messages: list[dict[str, str]], max_tokens: int, count: int
    ) -> ChatReply:
        """One chat call through the circuit breaker."""
        self.breaker.before_call()
        try:
            reply = await self._negotiated(self._body(messages, max_tokens, count))
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except BadOutput:
            self.breaker.success()  # the server answered; the answer is the problem
            raise
        except LLMError as exc:
            self.breaker.failure(str(exc))
            raise
        self.breaker.success()
        return reply

    async def _negotiated(self, body: dict[str, Any]) -> ChatReply:
        """Send with json_schema; if the server rejects that form, switch to json_object+schema."""
        try:
            return await self.client.chat(body)
        except LLMHTTPError as exc:
            rejected = exc.status in (400, 422) and (
                "response_format" in exc.body or "json_schema" in exc.body
            )
            if not rejected or body["response_format"]["type"] != "json_schema":
                raise
        log.warning("LLM server rejects response_format json_schema; using json_object+schema")
        self.response_format = "json_object"
        schema = body["response_format"]["json_schema"]["schema"]
        return await self.client.chat(
            {**body, "response_format": {"type": "json_object", "schema": schema}}
        )

    def _body(self, messages: list[dict[str, str]], max_tokens: int, count: int) -> dict[str, Any]:
        schema = response_schema(count)
        fmt: dict[str, Any] = {"type": "json_object", "schema": schema}
        if self.response_format == "json_schema":
            fmt = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
            }
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": TEMPERATURE,
            "seed": SEED,
            "response_format": fmt,
        }

    def _output(self, query: MineQuery, answer: Answer, count: int) -> MinerOutput:
        """Candidates, minus duplicates and echoes of the positive/present/excluded concepts."""
        taken = {match_key(p) for p in (query.positive, *query.present, *query.exclude)}
        seen: set[str] = set()
        echoes = dups = 0
        out: list[Candidate] = []
        for p in answer.proposals:
            key = match_key(p.phrase)
            if key in taken:
                echoes += 1
            elif key in seen:
                dups += 1
            elif len(out) < count:
                seen.add(key)
                out.append(self._candidate(query.positive, p))
        counts = [
            (answer.invalid, "invalid entries dropped"),
            (dups, "duplicates dropped"),
            (echoes, "proposals named the positive or a present/excluded concept"),
        ]
        notes = [f"{n} {what}" for n, what in counts if n]
        if answer.truncated:
            notes.insert(0, "reply cut off at max_tokens twice: kept its complete entries")
        if not out:
            notes.append("the model proposed nothing usable")
        return MinerOutput(candidates=out, note="; ".join(notes) or None)

    def _candidate(self, positive: str, p: Proposal) -> Candidate:
        evidence = {
            "model": self.model,
            "prompt_version": PROMPT_VERSION,
            "prompt_hash": PROMPT_HASH,
            "shared_attribute": p.shared_attribute,
        }
        return Candidate(
            phrase=p.phrase, for_positive=positive, source=self.name, kind=p.kind, evidence=evidence
        )

    def _cache_text(self, positive: str, present: list[str], avoid: list[str], count: int) -> str:
        """What identifies an answer: model, prompt, miner revision and the item asked about."""
        return json.dumps(
            [self.model, PROMPT_HASH, MINER_REVISION, positive, present, avoid, count],
            ensure_ascii=False,
            separators=(",", ":"),
        )

    async def check(self) -> tuple[bool, str]:
        """Readiness: is the server up and does it serve HARDNEG_LLM_MODEL? (for doctor/ready)"""
        try:
            served = await self.client.models()
        except LLMError as exc:
            return False, str(exc)
        where = self.client.base_url
        if self.model in served:
            return True, f"{where} serves {self.model} (circuit {self.breaker.state})"
        return False, f"{where} does not serve {self.model!r}; it serves {served}"

    async def aclose(self) -> None:
        await self.client.aclose()
