"""The ontology miner on the shipped snapshot, in-process and behind a real Oxigraph server."""

from __future__ import annotations

import gzip
import re

import pytest

from hardneg.miners.base import MineQuery, MinerContext, MinerUnavailable
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.ontology import OntologyMiner
from hardneg.miners.types import Kind
from hardneg.service.cache import RedisCache
from tests.miners.ontology.conftest import settings

NEVER = ["bus", "school bus", "schoolbus", "vehicle", "motor vehicle"]
QID = re.compile(r"^Q\d+$")


async def mine(miner: OntologyMiner, phrase: str, k: int = 120, **kw):
    return await miner.mine(MineQuery(positive=phrase, k=k, **kw), MinerContext(settings=None))


async def test_yellow_school_bus_local(local_miner):
    out = await mine(local_miner, "yellow school bus")
    phrases = [c.phrase for c in out.candidates]
    assert len(phrases) >= 10 and out.note is None
    assert not {match_key(p) for p in phrases} & {match_key(n) for n in NEVER}
    assert all(
        c.source == "ontology" and c.for_positive == "yellow school bus" for c in out.candidates
    )
    assert all(any(QID.match(q) for q in c.evidence["qids"]) for c in out.candidates)
    by_phrase = {c.phrase: c for c in out.candidates}
    # same head, other colour; same colour, look-alike type; the look-alike type alone
    assert by_phrase["red school bus"].kind == Kind.colour
    assert by_phrase["yellow minibus"].kind == Kind.type
    assert by_phrase["minibus"].kind == Kind.type
    sibling = by_phrase["minibus"].evidence
    assert sibling["relation"] == "sibling" and sibling["path"][1] == "wdt:P279"
    assert sibling["path"][0] == "Q58678" and sibling["path"][3] == "^wdt:P279"
    swap = by_phrase["red school bus"].evidence
    assert swap["relation"] == "colour swap" and "hnp:group" in swap["path"]


async def test_same_answer_from_the_oxigraph_server(local_miner, served_miner):
    for phrase in ("yellow school bus", "bat (animal)", "big red car"):
        local = await mine(local_miner, phrase)
        served = await mine(served_miner, phrase)
        assert [c.model_dump() for c in served.candidates] == [
            c.model_dump() for c in local.candidates
        ]
    assert served_miner.snapshot_id == local_miner.snapshot_id


async def test_unknown_phrase_is_ok_with_a_reason(local_miner):
    out = await mine(local_miner, "qwzx blorf")
    assert out.candidates == [] and "not in the ontology" in (out.note or "")
    assert (await local_miner.related(["qwzx blorf"], None))["qwzx blorf"].synonyms == set()


@pytest.mark.parametrize("phrase", ["", "   ", "(", "\"'", "a" * 200, "x) (y"])
async def test_odd_input_never_crashes(local_miner, phrase):
    out = await mine(local_miner, phrase)
    assert out.candidates == [] or all(c.phrase for c in out.candidates)


async def test_related_gives_synonyms_and_all_ancestors(local_miner):
    rel = await local_miner.related(["school bus", "yellow school bus", "dog"], None)
    assert {"bus", "motor vehicle", "vehicle", "conveyance"} <= rel["school bus"].ancestors
    assert "Q58678" in rel["school bus"].evidence["qids"]
    yellow = rel["yellow school bus"]
    assert {"school bus", "yellow bus", "yellow vehicle", "bus"} <= yellow.ancestors
    assert "yellow school bus" in yellow.synonyms
    assert {"dog", "domestic dog", "Canis familiaris"} <= rel["dog"].synonyms
    assert {"canine", "carnivore", "mammal", "animal"} <= rel["dog"].ancestors


async def test_qualifier_picks_the_sense(local_miner):
    an = await local_miner.analyse("bat (animal)")
    assert an.parsed.head == "bat" and an.parsed.qualifier == ["animal"]
    best, *others = an.parsed.links
    assert best.score > 2 * max(o.score for o in others)
    out = await mine(local_miner, "bat (animal)")
    assert all(c.evidence["qids"][0] == best.item.rsplit("/", 1)[-1] for c in out.candidates[:20])
    assert "club" not in {c.phrase for c in out.candidates}


async def test_attributes_come_from_the_graph(local_miner):
    vocab = await local_miner.vocabulary()
    labels = {k: {g.label for g in groups.values()} for k, groups in vocab.groups.items()}
    assert {"red", "yellow", "blue", "black", "white"} <= labels["colour"]
    assert {"wood", "glass", "plastic", "leather"} <= labels["material"]
    assert {"large", "small"} <= labels["size"]
    assert {"dotted", "tartan", "stripe"} <= labels["pattern"]  # one-word names in swaps
    assert (
        vocab.words["polka dot"][0].kind == "pattern" and vocab.words["wooden"][0].label == "wood"
    )
    out = await mine(local_miner, "big red car")
    got = {c.phrase: c.kind for c in out.candidates}
    assert got["small red car"] == Kind.size and got["big blue car"] == Kind.colour
    assert "big red truck" in got
    assert not {"big car", "red car", "car", "big red auto"} & set(got)


async def test_wooden_and_other_modifiers(local_miner):
    an = await local_miner.analyse("wooden chair")
    assert an.parsed.head == "chair" and an.parsed.attributes[0][1].kind == "material"
    out = await mine(local_miner, "wooden chair")
    assert any(c.kind == Kind.material for c in out.candidates)
    # "crock pot" is a crock, a jar: neither may come back
    crock = await mine(local_miner, "crock pot")
    assert not {"jar", "crock"} & {c.phrase for c in crock.candidates}


async def test_present_and_excluded_phrases_are_not_proposed(local_miner):
    out = await mine(local_miner, "school bus", present=["minibus"], exclude=["Trolleybus"])
    assert not {"minibus", "trolleybus"} & {c.phrase.lower() for c in out.candidates}


async def test_results_cached_in_redis_with_the_long_ttl(redis_url):
    cache = RedisCache(redis_url)
    s = settings(ontology_cache_ttl_s=12345)
    first = OntologyMiner(MinerContext(settings=s, cache=cache))
    a = await mine(first, "taxi")
    second = OntologyMiner(MinerContext(settings=s, cache=cache))  # empty in-process LRU
    b = await mine(second, "taxi")
    assert a == b and second.endpoint.stats["miss"] == 0 and second.endpoint.stats["shared"] > 0
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_url)
    keys = await r.keys("hardneg:ontology:*")
    assert keys and all(first.snapshot_id.encode() in k for k in keys)
    assert 12000 < await r.ttl(keys[0]) <= 12345
    await r.aclose()
    await cache.aclose()


def test_snapshot_id_is_the_provenance_of_the_file(local_miner):
    assert re.fullmatch(r"wn30-wikidata-\d{4}-\d\d-\d\d-[0-9a-f]{12}", local_miner.snapshot_id)
    assert local_miner.version and local_miner.name == "ontology"


def test_missing_or_corrupt_snapshot_disables_the_miner(tmp_path):
    with pytest.raises(MinerUnavailable, match="no ontology snapshot"):
        OntologyMiner(MinerContext(settings=settings()), snapshot=tmp_path / "nope.nt.gz")
    bad = tmp_path / "bad.nt.gz"
    bad.write_bytes(gzip.compress(b"<http://a> <http://b> this is not RDF .\n"))
    with pytest.raises(MinerUnavailable, match="cannot load"):
        OntologyMiner(MinerContext(settings=settings()), snapshot=bad)
    bad.write_bytes(b"not gzip")
    with pytest.raises(MinerUnavailable, match="cannot load"):
        OntologyMiner(MinerContext(settings=settings()), snapshot=bad)
