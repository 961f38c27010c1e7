"""The ontology miner: look-alike concepts from a Wikidata-vocabulary class graph over SPARQL.

Endpoint: ``HARDNEG_SPARQL_URL`` (the Wikidata query service, QLever, an Oxigraph server over the
snapshot), or, when unset, the shipped snapshot loaded in-process with pyoxigraph. Same queries
either way. Also a knowledge source: ``related`` tells the exclusion guard each phrase's
synonyms (labels and aliases of its items) and ancestors (labels of all P279 ancestors).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hardneg.miners.base import (
    MineQuery,
    MinerBase,
    MinerContext,
    MinerOutput,
    MinerTraits,
    MinerUnavailable,
    Progress,
    Related,
)
from hardneg.miners.knowledge import Knowledge
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.ontology import queries
from hardneg.miners.ontology.compose import Composer, add_neighbours, add_swaps
from hardneg.miners.ontology.endpoints import CachedEndpoint, LocalEndpoint, SnapshotError
from hardneg.miners.ontology.linking import (
    AttributeVocab,
    Parsed,
    choose_head,
    head_spans,
    lineage,
    score_links,
)
from hardneg.miners.ontology.neighbours import LEVELS, Neighbour, level_query, neighbours_from_rows
from hardneg.miners.ontology.settings import OntologySettings
from hardneg.miners.ontology.snapshot import default_snapshot_path
from hardneg.miners.ontology.sparql import Endpoint, Etiquette, HttpEndpoint, SparqlError
from hardneg.miners.ontology.terms import compact_id

log = logging.getLogger(__name__)

MINER_VERSION = "1.0"
# Attribute roots on endpoints whose graph declares no hn:attr groups (Wikidata itself):
# values of a kind are the instances of its root class, and their subclasses.
WIKIDATA_ATTRIBUTE_ROOTS: tuple[tuple[str, str], ...] = (
    ("colour", "Q1075"),  # color
    ("material", "Q214609"),  # material
    ("pattern", "Q2083958"),  # pattern
)


@dataclass
class Analysis:
    """What the ontology knows of one phrase."""

    parsed: Parsed
    synonyms: set[str] = field(default_factory=set)
    ancestors: set[str] = field(default_factory=set)
    ancestor_items: set[str] = field(default_factory=set)

    @property
    def known(self) -> bool:
        return bool(self.parsed.links)


class OntologyMiner(MinerBase):
    """Siblings, cousins, leaf uncles and attribute swaps of the positive in the class graph."""

    name = "ontology"
    version = MINER_VERSION

    def __init__(
        self, ctx: MinerContext, *, snapshot: Path | None = None, endpoint: Endpoint | None = None
    ) -> None:
        s = ctx.section(OntologySettings)
        self.timeout_s = float(s.miner_timeout_s)
        self.traits = MinerTraits(timeout_s=self.timeout_s)
        url = s.sparql_url
        inner: Endpoint
        if endpoint is not None:
            inner, self.snapshot_id = endpoint, f"endpoint:{endpoint.id}"
        elif url:
            etiquette = Etiquette(
                user_agent=s.sparql_user_agent,
                max_inflight=s.sparql_max_inflight,
                timeout_s=s.sparql_timeout_s,
            )
            inner = HttpEndpoint(url, etiquette)
            self.snapshot_id = f"endpoint:{inner.id}"
        else:
            path = Path(snapshot or s.ontology_snapshot or default_snapshot_path())
            if not path.is_file():
                raise MinerUnavailable(f"no ontology snapshot at {path}; set HARDNEG_SPARQL_URL")
            try:
                local = LocalEndpoint(path)
            except SnapshotError as exc:
                raise MinerUnavailable(str(exc)) from exc
            inner = local
            rows = local.select_sync(queries.load("provenance"))
            self.snapshot_id = rows[0]["id"] if rows else f"unversioned:{path.name}"
        self._resolved = url is None and endpoint is None
        self.endpoint_id = inner.id
        self.endpoint = CachedEndpoint(inner, ctx.cache, s.ontology_cache_ttl_s, self._namespace())
        self._vocab: AttributeVocab | None = None
        self._lock = asyncio.Lock()

    def _namespace(self) -> str:
        return f"{MINER_VERSION}:{self.endpoint_id}:{self.snapshot_id}"

    async def ready(self, progress: Progress | None = None) -> None:
        """Warm-up hook of the pipeline: snapshot id and attribute vocabularies, now. An
        endpoint that is down must not stop the service from starting: tried again on use."""
        try:
            await self.vocabulary(self._deadline())
        except SparqlError as exc:
            log.warning("ontology endpoint %s not ready: %s", self.endpoint_id, exc)

    async def vocabulary(self, deadline: float | None = None) -> AttributeVocab:
        """Read the snapshot id (remote endpoints) and the attribute vocabularies, once."""
        if self._vocab is not None:
            return self._vocab
        async with self._lock:
            if not self._resolved:
                rows = await self.endpoint.inner.select(
                    queries.load("provenance"), deadline=deadline
                )
                if rows:
                    self.snapshot_id = rows[0]["id"]
                self._resolved = True
                self.endpoint.namespace = self._namespace()
            if self._vocab is None:
                self._vocab = await self._read_vocabulary(deadline)
        return self._vocab

    async def _read_vocabulary(self, deadline: float | None) -> AttributeVocab:
        roots = [(queries.literal(k, None), queries.iri(q)) for k, q in WIKIDATA_ATTRIBUTE_ROOTS]
        q = queries.render("attributes", roots=roots)
        vocab = AttributeVocab.from_rows(await self.endpoint.select(q, deadline=deadline))
        groups = sorted({g for kind in vocab.groups.values() for g in kind})
        if groups:  # their ancestors rank swaps: leather -> suede before leather -> concrete
            q = queries.render("ancestors", items=[queries.iri(g) for g in groups])
            for r in await self.endpoint.select(q, deadline=deadline):
                vocab.lineage.setdefault(r["item"], set()).add(r["node"])
        return vocab

    def _deadline(self) -> float:
        return time.monotonic() + self.timeout_s

    async def analyse(
        self, phrase: str, deadline: float | None = None, knowledge: Knowledge | None = None
    ) -> Analysis:
        """Link ``phrase`` and collect its synonyms and ancestors; with ``knowledge``, links
        whose WordNet sense is not the visual reading of the head weigh less ("cutter" in
        "pizza cutter" is the tool, not the boat)."""
        deadline = deadline or self._deadline()
        vocab = await self.vocabulary(deadline)
        tokens, texts = head_spans(phrase)
        if not tokens:
            return Analysis(Parsed(phrase=phrase))
        q = queries.render("link", texts=[queries.literal(t) for t in sorted(texts)])
        parsed = choose_head(
            phrase, await self.endpoint.select(q, deadline=deadline), vocab, texts, tokens
        )
        if not parsed.links:
            return Analysis(parsed)
        modifier_items = await self._modifier_items(parsed, deadline)
        items = [link.item for link in parsed.links] + sorted(modifier_items)
        q = queries.render("ancestors", items=[queries.iri(i) for i in items])
        rows = await self.endpoint.select(q, deadline=deadline)
        head_rows = [r for r in rows if r["item"] not in modifier_items]
        score_links(parsed, lineage(head_rows), _sense_fit(knowledge, parsed.head))
        an = _with_knowledge(Analysis(parsed), head_rows)
        # "crock pot" is a crock and "fighter jet" a fighter: what the other words name, and
        # its ancestors, are no negatives either.
        for r in rows:
            if r["item"] in modifier_items:
                an.ancestors.add(r["label"])
                an.ancestor_items.add(r["node"])
        return an

    async def _modifier_items(self, parsed: Parsed, deadline: float) -> set[str]:
        """Items named by the non-attribute words before the head ("crock" in "crock pot")."""
        if not parsed.modifiers:
            return set()
        _, texts = head_spans(" ".join(parsed.modifiers))
        q = queries.render("link", texts=[queries.literal(t) for t in sorted(texts)])
        rows = await self.endpoint.select(q, deadline=deadline)
        return {r["item"] for r in rows} - {link.item for link in parsed.links}

    async def related(self, phrases: Sequence[str], ctx: MinerContext) -> dict[str, Related]:
        """Synonyms and ancestors per phrase, for the exclusion guard (unknown phrases: empty)."""
        deadline = self._deadline()
        unique = list(dict.fromkeys(phrases))
        found = await asyncio.gather(
            *(self.analyse(p, deadline, ctx.knowledge if ctx else None) for p in unique)
        )
        out: dict[str, Related] = {}
        for phrase, an in zip(unique, found, strict=True):
            out[phrase] = Related(
                synonyms=an.synonyms,
                ancestors=an.ancestors,
                evidence={"qids": [compact_id(link.item) for link in an.parsed.links]},
            )
        return out

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        deadline = self._deadline()
        an = await self.analyse(query.positive, deadline, ctx.knowledge if ctx else None)
        if not an.known:
            return MinerOutput(
                note=f"{query.positive!r} is not in the ontology ({self.snapshot_id})"
            )
        p = an.parsed
        excluded = {
            query.positive,
            p.head,
            *an.synonyms,
            *an.ancestors,
            *query.present,
            *query.exclude,
        }
        composer = Composer.start(query.positive, excluded)
        primary = p.primary()
        best = primary[0].score
        weights = {link.item: link.score / best for link in primary}
        if p.attributes:
            add_swaps(composer, p, await self.vocabulary(deadline), 1.0)
        neighbours = await self._neighbours(an, list(weights), query.k, composer.excluded, deadline)
        add_neighbours(composer, p, neighbours, weights)
        cands = composer.ranked(query.k)
        note = None
        if len(cands) < query.k:
            note = f"{len(cands)} candidates: all the class graph has near it"
        return MinerOutput(candidates=cands, note=note)

    async def _neighbours(
        self, an: Analysis, items: list[str], want: int, excluded: set[str], deadline: float
    ) -> list[Neighbour]:
        """Widen level by level (siblings first) until ``want`` distinct phrases are found."""
        found: dict[str, Neighbour] = {}
        blocked = an.ancestor_items | {link.item for link in an.parsed.links}
        for level in LEVELS:
            rows = await self.endpoint.select(level_query(level, items), deadline=deadline)
            for nb in neighbours_from_rows(level, rows):
                key = match_key(nb.label)
                if nb.item in blocked or key in excluded or key in found:
                    continue
                found[key] = nb
            if len(found) >= want:
                break
        return list(found.values())

    async def aclose(self) -> None:
        await self.endpoint.aclose()


def _with_knowledge(an: Analysis, rows: list[dict[str, str]]) -> Analysis:
    """Fill synonyms/ancestors from ancestors.rq rows; attribute words carry over to both."""
    own = {r["label"] for r in rows if r["node"] == r["item"]}
    up = {r["label"] for r in rows if r["node"] != r["item"]}
    an.ancestor_items = {r["node"] for r in rows if r["node"] != r["item"]}
    words = [s for s, _ in an.parsed.attributes] + an.parsed.modifiers
    if not words:
        an.synonyms, an.ancestors = own, up
        return an
    # "big yellow school bus": "big yellow schoolbus" is a synonym; "school bus", "yellow bus",
    # "big vehicle" are all ancestors (drop any attribute word and you get something present).
    prefix = " ".join(words)
    an.synonyms = {f"{prefix} {label}" for label in own}
    an.ancestors = set(own | up)
    for n in range(1, len(words)):
        for subset in itertools.combinations(words, n):
            an.ancestors |= {f"{' '.join(subset)} {label}" for label in own | up}
    an.ancestors |= {f"{prefix} {label}" for label in up}
    return an


def _sense_fit(knowledge: Knowledge | None, head: str) -> Callable[[str], float] | None:
    """1 for the head's visual sense (Knowledge.senses), 0.5 for its other physical senses,
    0.15 for the rest (a person who strolls, a boat called cutter)."""
    if knowledge is None:
        return None
    senses = knowledge.senses(head)
    if not senses:
        return None
    names = knowledge.sense_names(senses)

    def fit(wn: str) -> float:
        if wn == names[0]:
            return 1.0
        return 0.5 if wn in names[1:] and knowledge.is_physical_sense(wn) else 0.15

    return fit
