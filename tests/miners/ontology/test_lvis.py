"""Every LVIS v1 category whose synset is in the shipped snapshot, through miner + guard.

Acceptance: at least 30 ontology candidates survive the exclusion guard for >= 90% of them, and
no surviving candidate is a WordNet synonym or hypernym of the category's synset (checked
against the guard's own WordNet 3.0 graph, not against the snapshot that produced them).
"""

from __future__ import annotations

import pytest

from hardneg.miners.base import MineQuery
from hardneg.miners.knowledge import Knowledge
from hardneg.miners.knowledge.guard import Guard
from hardneg.miners.knowledge.loaders import GRAPH_FILE, NounGraph, read_json
from hardneg.miners.knowledge.normalize import match_key


def lvis_categories() -> list[dict[str, str]]:
    """LVIS names and synsets, as the guard's vocabulary ships them (no ../shared at run time)."""
    kn = Knowledge.load_default()
    return [
        {"name": e.phrase if not e.qualifier else f"{e.phrase} ({e.qualifier})", "synset": e.synset}
        for e in kn.vocabulary()
        if e.lvis_id is not None and e.synset
    ]


@pytest.mark.slow
async def test_lvis_categories_get_30_guarded_candidates(local_miner):
    graph = NounGraph.from_json(read_json(GRAPH_FILE))
    knowledge = Knowledge.load_default()
    in_snapshot = {
        r["n"]
        for r in local_miner.endpoint.inner.select_sync(
            "SELECT ?n WHERE { ?i <http://hardneg.dev/prop/wordnet30> ?n }"
        )
    }
    cats = [c for c in lvis_categories() if c["synset"] in in_snapshot]
    assert len(cats) > 1100
    short, leaks = [], []
    for c in cats:
        phrase = c["name"]
        out = await local_miner.mine(MineQuery(positive=phrase, k=120), None)
        related = await local_miner.related([phrase], None)
        guard = Guard.for_item([phrase], [], [], knowledge, [related])
        kept = [x.phrase for x in out.candidates if guard.check(x.phrase) is None]
        syn = graph.by_name[c["synset"]]
        wordnet = graph.phrases([syn]) | graph.phrases(graph.ancestors([syn]))
        forbidden = {match_key(p) for p in wordnet}
        leaks += [(phrase, p) for p in kept if match_key(p) in forbidden]
        if len(kept) < 30:
            short.append((phrase, len(kept)))
    assert leaks == []
    assert len(short) <= 0.10 * len(cats), short
