"""Prometheus metrics: requests, latency, cache hits/misses, per-miner latency and errors."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("hardneg_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "hardneg_request_seconds",
    "HTTP request latency",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ITEMS = Counter("hardneg_items_total", "Request items answered")
CACHE_HITS = Counter("hardneg_cache_hits_total", "Items answered from the cache")
CACHE_MISSES = Counter("hardneg_cache_misses_total", "Items computed (cache miss)")
CACHE_COALESCED = Counter(
    "hardneg_cache_coalesced_total",
    "Items answered by a concurrent identical computation (single-flight), not computed again",
)
MINER_LATENCY = Histogram(
    "hardneg_miner_seconds",
    "Latency of one miner call (one positive)",
    ["miner"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MINER_CALLS = Counter("hardneg_miner_calls_total", "Miner calls by outcome", ["miner", "status"])

CONTENT_TYPE = CONTENT_TYPE_LATEST


def record_cache(hits: int = 0, misses: int = 0, coalesced: int = 0) -> None:
    """Count answered items: cache hits, computed ones (misses) and coalesced ones."""
    ITEMS.inc(hits + misses + coalesced)
    if hits:
        CACHE_HITS.inc(hits)
    if misses:
        CACHE_MISSES.inc(misses)
    if coalesced:
        CACHE_COALESCED.inc(coalesced)


def record_miner(name: str, ms: float, status: str) -> None:
    MINER_LATENCY.labels(name).observe(ms / 1000)
    MINER_CALLS.labels(name, status).inc()


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)


def render() -> bytes:
    return generate_latest()
