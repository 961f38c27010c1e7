"""End to end over all of LVIS: the pipeline never returns the positive, a synonym, a WordNet
hypernym, a WordNet part, a hyponym, or a role/companion the guard's tables name."""

from __future__ import annotations

import pytest

from hardneg.miners.knowledge import Knowledge
from hardneg.miners.knowledge.companions import companions_of, roles_covering
from hardneg.miners.knowledge.knowledge import synonym_override
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import NegativesRequest
from tests.service.test_guard import (
    _shipped,
    _wordnet_hypernym_lemmas,
    wordnet_parts_and_hyponyms,
)


@pytest.mark.slow
async def test_no_lvis_category_gets_a_relative_back(make_pipeline):
    hypernyms = _wordnet_hypernym_lemmas()
    below = wordnet_parts_and_hyponyms()
    kn = Knowledge.load_default()
    lvis = [e for e in _shipped("vocab_lvis_coco.json.gz")["entries"] if e["lvis_id"]]
    pipe = make_pipeline()
    leaks: list[str] = []
    answered = 0
    for start in range(0, len(lvis), 500):
        chunk = lvis[start : start + 500]
        req = NegativesRequest.model_validate(
            {"items": [{"id": e["phrase"], "positives": [e["phrase"]]} for e in chunk], "k": 30}
        )
        resp = await pipe.mine(req)
        for e, item in zip(chunk, resp.items, strict=True):
            synonyms = [s for s in e["synonyms"] if not synonym_override(e["phrase"], s)]
            tables = [*companions_of(kn, e["phrase"]), *roles_covering(kn, e["phrase"])]
            related = (*hypernyms.get(e["synset"], ()), *below.get(e["synset"], ()), *tables)
            banned = {match_key(p) for p in (*synonyms, *related)}
            banned.add(match_key(e["phrase"]))
            answered += bool(item.negatives)
            leaks += [
                f"{e['phrase']}: {n.phrase}"
                for n in item.negatives
                if match_key(n.phrase) in banned
            ]
    assert not leaks, f"{len(leaks)} leaks, e.g. {leaks[:10]}"
    assert answered >= 0.95 * len(lvis)
