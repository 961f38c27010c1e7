"""The SPARQL client's manners towards the public Wikidata query service.

The service itself is unreachable here; ``FakeWDQS`` stands in for it at the wire level (SPARQL
JSON, 429 + Retry-After, 5xx, slow and malformed answers). What is asserted is what the public
service would notice: the User-Agent, the gap after a 429, retries spaced out, requests in
flight, a circuit breaker that stops calling, and errors instead of hangs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from hardneg.miners.base import MineQuery, MinerContext
from hardneg.miners.ontology import (
    Etiquette,
    HttpEndpoint,
    OntologyMiner,
    SparqlBadQuery,
    SparqlError,
    SparqlRateLimited,
    SparqlTimeout,
    SparqlUnavailable,
)
from hardneg.miners.ontology.sparql import parse_retry_after
from tests.miners.ontology.conftest import settings
from tests.miners.ontology.fake_wdqs import FakeWDQS, Reply, results
from tests.procs import free_port

UA = "hardneg-tests/1 (https://example.org/hardneg; tests@example.org)"


@pytest.fixture(scope="module")
def wdqs() -> Iterator[FakeWDQS]:
    srv = FakeWDQS()
    srv.start()
    yield srv
    srv.stop()


class FakeTime:
    """Clock + sleep for the client: sleeping advances the clock at once and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def endpoint(url: str, fake: FakeTime | None = None, **kw: float) -> HttpEndpoint:
    et = Etiquette(user_agent=UA, **kw)
    if fake is None:
        return HttpEndpoint(url, et)
    return HttpEndpoint(url, et, clock=fake.clock, sleep=fake.sleep)


async def test_user_agent_accept_and_results(wdqs):
    wdqs.plan(Reply(body=results({"item": "http://www.wikidata.org/entity/Q58678"})))
    ep = endpoint(wdqs.url)
    rows = await ep.select("SELECT ?item WHERE { ?item ?p ?o } LIMIT 1")
    assert rows == [{"item": "http://www.wikidata.org/entity/Q58678"}]
    seen = wdqs.seen[0]
    assert seen.headers["User-Agent"] == UA
    assert seen.headers["Accept"].startswith("application/sparql-results+json")
    assert seen.query.startswith("SELECT ?item")
    await ep.aclose()


async def test_429_retry_after_is_honoured(wdqs):
    wdqs.plan(Reply(status=429, headers={"Retry-After": "1"}, body=b"Too Many Requests"))
    ep = endpoint(wdqs.url)
    assert await ep.select("SELECT * {}") == [{"x": "1"}]
    first, second = wdqs.seen
    assert second.at - first.at >= 1.0  # not one request before the service said we may
    await ep.aclose()


async def test_retry_after_is_shared_by_every_caller(wdqs):
    wdqs.plan(Reply(status=429, headers={"Retry-After": "1"}))
    ep = endpoint(wdqs.url)
    await asyncio.gather(*(ep.select(f"SELECT * {{}} # {i}") for i in range(3)))
    refused, *after = wdqs.seen
    # the callers queued behind the refused one wait too, not only the one that was refused
    assert len(after) == 3 and all(s.at - refused.at >= 1.0 for s in after)
    await ep.aclose()


async def test_retry_after_beyond_the_deadline_fails_fast_and_calls_no_more(wdqs):
    wdqs.plan(Reply(status=429, headers={"Retry-After": "120"}))
    ep = endpoint(wdqs.url)
    with pytest.raises(SparqlRateLimited, match="retry after"):
        await ep.select("SELECT * {}", deadline=time.monotonic() + 2)
    with pytest.raises(SparqlRateLimited):
        await ep.select("SELECT * {}", deadline=time.monotonic() + 2)
    assert len(wdqs.seen) == 1  # the second call did not knock again
    await ep.aclose()


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now_epoch=1445412470.0) == 10.0
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("soon") is None


async def test_5xx_retried_with_growing_backoff(wdqs):
    wdqs.plan(Reply(status=503, body=b"busy"), Reply(status=502, body=b"bad gateway"))
    fake = FakeTime()
    ep = endpoint(wdqs.url, fake, backoff_s=0.5)
    assert await ep.select("SELECT * {}") == [{"x": "1"}]
    assert len(wdqs.seen) == 3
    assert len(fake.sleeps) == 2 and 0 < fake.sleeps[0] <= fake.sleeps[1]
    await ep.aclose()


async def test_gives_up_after_max_retries(wdqs):
    wdqs.plan(default=Reply(status=500, body=b"java.util.concurrent.TimeoutException"))
    ep = endpoint(wdqs.url, FakeTime(), max_retries=2, breaker_failures=10)
    with pytest.raises(SparqlError, match=r"gave up after 3 attempts.*TimeoutException"):
        await ep.select("SELECT * {}")
    assert len(wdqs.seen) == 3
    await ep.aclose()


async def test_circuit_breaker_opens_then_lets_one_trial_through(wdqs):
    wdqs.plan(default=Reply(status=500, body=b"down"))
    fake = FakeTime()
    ep = endpoint(wdqs.url, fake, max_retries=0, breaker_failures=3, breaker_reset_s=30)
    for _ in range(3):
        with pytest.raises(SparqlError, match="gave up"):
            await ep.select("SELECT * {}")
    with pytest.raises(SparqlUnavailable, match="circuit open"):
        await ep.select("SELECT * {}")
    assert len(wdqs.seen) == 3 and ep.breaker.state == "open"
    wdqs.plan()  # the service recovers
    fake.now += 31
    assert await ep.select("SELECT * {}") == [{"x": "1"}]
    assert ep.breaker.state == "closed" and len(wdqs.seen) == 1
    await ep.aclose()


@pytest.mark.parametrize("limit", [1, 3])
async def test_at_most_n_requests_in_flight(wdqs, limit):
    wdqs.plan(default=Reply(delay_s=0.4))  # long enough for `limit` requests to overlap
    ep = endpoint(wdqs.url, max_inflight=limit)
    await asyncio.gather(*(ep.select(f"SELECT * {{}} # {i}") for i in range(2 * limit)))
    assert len(wdqs.seen) == 2 * limit
    assert wdqs.max_inflight == limit
    await ep.aclose()


async def test_slow_endpoint_times_out(wdqs):
    wdqs.plan(default=Reply(delay_s=3))
    ep = endpoint(wdqs.url, timeout_s=0.3, max_retries=0)
    with pytest.raises(SparqlTimeout, match=r"no answer in 0\.3s"):
        await ep.select("SELECT * {}", deadline=time.monotonic() + 30)
    assert ep.breaker.consecutive == 1
    await ep.aclose()


@pytest.mark.parametrize(
    "body", [b'{"head": {"vars": ["x"]}, "results": {"bind', b"<html>proxy error</html>", b"{}"]
)
async def test_malformed_or_truncated_results_are_errors(wdqs, body):
    wdqs.plan(Reply(body=body))
    ep = endpoint(wdqs.url)
    with pytest.raises(SparqlError, match="malformed SPARQL JSON"):
        await ep.select("SELECT * {}")
    await ep.aclose()


async def test_bad_query_is_not_retried(wdqs):
    wdqs.plan(default=Reply(status=400, body=b"MalformedQueryException: line 1"))
    ep = endpoint(wdqs.url, FakeTime())
    with pytest.raises(SparqlBadQuery, match=r"400.*MalformedQuery"):
        await ep.select("SELEC")
    assert len(wdqs.seen) == 1 and ep.breaker.consecutive == 0
    await ep.aclose()


async def test_down_endpoint_is_an_error_not_a_hang():
    ep = endpoint(f"http://127.0.0.1:{free_port()}/sparql", FakeTime(), max_retries=2)
    with pytest.raises(SparqlError, match="connection failed"):
        await ep.select("SELECT * {}")
    await ep.aclose()


def test_endpoint_url_must_be_http():
    with pytest.raises(ValueError, match="http"):
        endpoint("ftp://example.org/sparql")


async def test_slow_endpoint_fails_the_miner_within_its_timeout(wdqs):
    """What the pipeline sees: our own error before its per-miner timeout, never a hang."""
    wdqs.plan(default=Reply(delay_s=5))
    s = settings(sparql_url=wdqs.url, sparql_timeout_s=0.3, miner_timeout_s=2.0)
    miner = OntologyMiner(MinerContext(settings=s))
    with pytest.raises(SparqlError):
        await asyncio.wait_for(miner.mine(MineQuery(positive="school bus"), None), 2.0)
    await miner.aclose()
