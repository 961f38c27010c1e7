"""Build a snapshot from a live SPARQL endpoint that speaks Wikidata's vocabulary.

For users with network access: page through the items below chosen root classes (and the
instances of chosen attribute classes), fetch their P279/P31 links, English labels, aliases and
sitelink counts with CONSTRUCT queries, add the roots' ancestors, and write the same kind of
snapshot file as the WordNet builder. Every request goes through the etiquette client
(User-Agent, one request in flight, Retry-After, backoff, circuit breaker).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from hardneg.miners.ontology import queries
from hardneg.miners.ontology.snapshot import Provenance, write_snapshot
from hardneg.miners.ontology.sparql import Etiquette, HttpEndpoint, SparqlError

log = logging.getLogger(__name__)

SCRIPT_VERSION = "1"
DEFAULT_INSTANCE_ROOTS = ("Q1075", "Q214609", "Q2083958")  # colour, material, pattern
PAGE_SIZE = 2000
DESCRIBE_BATCH = 200  # items per CONSTRUCT: short POST bodies, short queries


async def _page_items(
    ep: HttpEndpoint, name: str, page_size: int, max_pages: int, **params: Sequence[str]
) -> list[str]:
    """All item IRIs of a paged SELECT (ORDER BY + LIMIT/OFFSET), page after page."""
    out: list[str] = []
    for n in range(max_pages):
        q = queries.render(name, page=(page_size, n * page_size), **params)
        rows = await ep.select(q)
        out += [r["item"] for r in rows if "item" in r]
        log.info("%s page %d: %d items", name, n + 1, len(rows))
        if len(rows) < page_size:
            return out
    raise SparqlError(f"{name}: more than {max_pages} pages of {page_size}; raise --max-pages")


def _parse(body: bytes, content_type: str) -> list[str]:
    """N-Triples lines of a CONSTRUCT answer (N-Triples or Turtle), blank nodes dropped."""
    import pyoxigraph as ox

    fmt = ox.RdfFormat.TURTLE if "turtle" in content_type else ox.RdfFormat.N_TRIPLES
    try:
        triples = list(ox.parse(input=body, format=fmt))
    except SyntaxError as exc:
        raise SparqlError(f"unreadable CONSTRUCT answer ({content_type}): {exc}") from exc
    return [
        f"{t.subject} {t.predicate} {t.object} ."
        for t in triples
        if isinstance(t.subject, ox.NamedNode) and not isinstance(t.object, ox.BlankNode)
    ]


async def _describe(ep: HttpEndpoint, items: list[str]) -> list[str]:
    lines: list[str] = []
    for i in range(0, len(items), DESCRIBE_BATCH):
        batch = [queries.iri(x) for x in items[i : i + DESCRIBE_BATCH]]
        body, ctype = await ep.construct(queries.render("build_describe", items=batch))
        lines += _parse(body, ctype)
    return lines


async def build_from_endpoint(
    url: str,
    roots: Sequence[str],
    out: Path,
    created: str,
    *,
    etiquette: Etiquette,
    instance_roots: Sequence[str] = DEFAULT_INSTANCE_ROOTS,
    page_size: int = PAGE_SIZE,
    max_pages: int = 1000,
) -> Provenance:
    """Crawl below ``roots`` on ``url`` and write the snapshot to ``out``; returns provenance."""
    if not roots:
        raise ValueError("give at least one root class (--roots Q42889,...)")
    ep = HttpEndpoint(url, etiquette)
    start = time.monotonic()
    try:
        root_terms = [queries.iri(r) for r in roots]
        inst_terms = [queries.iri(r) for r in instance_roots]
        items = await _page_items(
            ep, "build_items", page_size, max_pages, roots=root_terms, instance_roots=inst_terms
        )
        items += await _page_items(ep, "build_ancestors", page_size, max_pages, roots=root_terms)
        lines = await _describe(ep, sorted(set(items)))
    finally:
        await ep.aclose()
    log.info("crawled %d items in %.1fs", len(set(items)), time.monotonic() - start)
    prov = Provenance(
        source=f"SPARQL endpoint {url}",
        created=created,
        script_version=SCRIPT_VERSION,
        kind="sparql",
        notes=[
            f"roots (P279*): {', '.join(roots)}",
            f"instance roots (P31): {', '.join(instance_roots) or 'none'}",
            f"page size {page_size}",
        ],
    )
    return write_snapshot(lines, prov, out)
