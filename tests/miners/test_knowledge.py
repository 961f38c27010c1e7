"""Knowledge from the shipped LVIS + COCO + WordNet 3.0 files, and the builder that makes them."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from hardneg.miners.base import Related
from hardneg.miners.build import vocab as build_vocab
from hardneg.miners.build.wordnet import read_wordnet
from hardneg.miners.knowledge import Knowledge, VocabEntry
from hardneg.miners.knowledge.loaders import read_json
from hardneg.miners.types import Kind

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def k() -> Knowledge:
    return Knowledge.load_default()


def test_snapshot_id_names_sources_and_data_hash(k: Knowledge) -> None:
    assert re.fullmatch(r"lvis-v1\+coco2017\+wn30@[0-9a-f]{8}", k.snapshot_id)
    assert Knowledge.load_default() is k


def test_vocabulary_is_lvis_plus_coco_only(k: Knowledge) -> None:
    vocab = k.vocabulary()
    assert all(isinstance(e, VocabEntry) for e in vocab)
    assert len([e for e in vocab if e.lvis_id is not None]) == 1203
    coco_ids = [e.coco_id for e in vocab if e.coco_id is not None]
    assert len(coco_ids) == len(set(coco_ids)) == 80
    bus = next(e for e in vocab if e.lvis_id and e.synset == "bus.n.01")
    assert (bus.phrase, bus.qualifier, bus.coco_id) == ("bus", "vehicle", 6)
    hot_dog = next(e for e in vocab if e.phrase == "hot dog")  # COCO-only: LVIS has none
    assert hot_dog.lvis_id is None and hot_dog.synset == "hotdog.n.02"


def test_school_bus_ancestors_and_synonyms(k: Knowledge) -> None:
    r = k.related("school bus")
    assert {"bus", "vehicle", "motor vehicle", "public transport", "conveyance"} <= r.ancestors
    assert {"autobus", "omnibus"} <= r.ancestors  # every lemma of an ancestor synset
    assert "school bus" not in r.synonyms | r.ancestors
    assert r.evidence == {"synsets": ["school_bus.n.01"], "via": "exact"}


def test_lvis_synonyms_are_synonyms(k: Knowledge) -> None:
    r = k.related("person")
    assert {"human", "child", "individual", "someone"} <= r.synonyms
    assert "organism" in r.ancestors
    assert "doughnut" in k.related("donut").synonyms  # LVIS synonym + COCO name


def test_attributed_phrase_has_its_head_as_ancestor(k: Knowledge) -> None:
    r = k.related("Yellow School-Buses")
    assert {"school bus", "bus", "vehicle"} <= r.ancestors
    assert r.evidence["via"] == "head" and r.evidence["head"] == "school buses"


def test_unknown_compound_falls_back_to_a_known_suffix(k: Knowledge) -> None:
    r = k.related("double decker bus")
    assert {"bus", "vehicle"} <= r.ancestors and r.evidence["via"] == "suffix"
    assert "cup" in k.related("cup of cold coffee").ancestors
    assert k.related("xqzzt blorf") == Related(evidence={"synsets": [], "via": "unknown"})


def test_lvis_category_missing_from_wordnet_still_gets_ancestors(k: Knowledge) -> None:
    r = k.related("stop sign")  # stop_sign.n.01 is not in WordNet 3.0
    assert r.evidence["via"] == "exact+suffix" and "sign" in r.ancestors


def test_qualified_lvis_name_picks_one_sense(k: Knowledge) -> None:
    assert "weapon" in k.related("bow (weapon)").ancestors
    assert "decoration" not in k.related("bow (weapon)").ancestors
    assert {"weapon", "decoration"} <= k.related("bow").ancestors  # both LVIS bows


def test_plural_lemma_of_another_synset_is_not_looked_up(k: Knowledge) -> None:
    # WordNet's "roads" (a roadstead) must not leak into "road"
    assert "anchorage" not in k.related("road").ancestors | k.related("road").synonyms


def test_split_attributes(k: Knowledge) -> None:
    assert k.split_attributes("yellow school bus") == ([(Kind.colour, "yellow")], "school bus")
    assert k.split_attributes("Light-Blue polka dot shirt") == (
        [(Kind.colour, "light blue"), (Kind.pattern, "polka dot")],
        "shirt",
    )
    assert k.split_attributes("small wooden chair") == (
        [(Kind.size, "small"), (Kind.material, "wooden")],
        "chair",
    )
    assert k.split_attributes("red fox") == ([], "red fox")  # a species, known as a whole
    assert k.split_attributes("orange") == ([], "orange")


@pytest.mark.parametrize(
    ("positive", "negative", "kind"),
    [
        ("yellow school bus", "red school bus", Kind.colour),
        ("yellow school bus", "yellow taxi", Kind.type),
        ("grey car", "gray car", Kind.other),  # same colour, two spellings
        ("wooden chair", "metal chair", Kind.material),
        ("small dog", "large dog", Kind.size),
        ("striped shirt", "plaid shirt", Kind.pattern),
        ("cat", "dog", Kind.type),
        ("school bus", "road", Kind.other),  # only generic ancestors in common
        ("red car", "blue truck", Kind.other),
    ],
)
def test_kind_of(k: Knowledge, positive: str, negative: str, kind: Kind) -> None:
    assert k.kind_of(positive, negative) == kind


def test_shipped_vocab_matches_the_lvis_source() -> None:
    if not (SHARED / "lvis_v1_categories.json").is_file():
        pytest.skip(f"source data not beside the checkout ({SHARED})")
    lvis = json.loads((SHARED / "lvis_v1_categories.json").read_text())
    shipped = {e["lvis_id"]: e for e in read_json("vocab_lvis_coco.json.gz")["entries"]}
    for c in lvis:
        e = shipped[c["id"]]
        assert e["synset"] == c["synset"] and e["definition"] == c["def"]
        phrase, qualifier, _ = build_vocab.split_name(c["name"])
        assert (e["phrase"], e["qualifier"]) == (phrase, qualifier)
        for s in c["synonyms"]:
            assert build_vocab.split_name(s)[0] in e["synonyms"]


def test_split_name_handles_qualifiers_and_odd_names() -> None:
    assert build_vocab.split_name("bow_(weapon)") == ("bow", "weapon", None)
    assert build_vocab.split_name("school_bus") == ("school bus", None, None)
    odd = "monitor_(computer_equipment) computer_monitor"  # as spelled in LVIS v1
    assert build_vocab.split_name(odd) == ("monitor", "computer equipment", "computer monitor")


# A tiny WordNet in the real wndb(5WN) format: the builder's reader must name synsets like NLTK.
_DATA_NOUN = """\
  1 This is a licence header line
00000010 03 n 01 entity 0 001 ~ 00000020 n 0000 | that which exists
00000020 03 n 01 vehicle 0 003 @ 00000010 n 0000 ~ 00000030 n 0000 ~ 00000040 n 0000 | a conveyance
00000030 06 n 02 bus 0 autobus 0 001 @ 00000020 n 0000 | a vehicle carrying passengers
00000040 06 n 01 bus 1 001 @ 00000020 n 0000 | a second sense
"""
_INDEX_NOUN = """\
  1 header
autobus n 1 1 @ 1 0 00000030
bus n 2 1 @ 2 0 00000040 00000030
entity n 1 1 ~ 1 0 00000010
vehicle n 1 2 @ ~ 1 0 00000020
"""


def test_wordnet_reader_names_synsets_by_sense_order(tmp_path: Path) -> None:
    (tmp_path / "data.noun").write_text(_DATA_NOUN)
    (tmp_path / "index.noun").write_text(_INDEX_NOUN)
    (tmp_path / "data.adj").write_text("")
    (tmp_path / "index.adj").write_text("")
    (tmp_path / "noun.exc").write_text("buses bus\n")
    (tmp_path / "LICENSE").write_text("WordNet Release 3.0\n")
    db = read_wordnet(tmp_path)
    assert db.version == "3.0" and db.noun_exceptions == {"buses": ["bus"]}
    assert db.by_name["bus.n.02"].lemmas == ["bus", "autobus"]  # 2nd in index.noun's order
    assert db.by_name["bus.n.01"].gloss == "a second sense"
    assert [s.name for s in db.closure(db.by_name["bus.n.02"], ("@",))] == [
        "entity.n.01",
        "vehicle.n.01",
    ]


def test_wordnet_reader_rejects_a_dir_without_wordnet(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"data\.noun"):
        read_wordnet(tmp_path)


def test_write_json_is_deterministic(tmp_path: Path) -> None:
    obj = {"b": [1, 2], "a": "é"}
    build_vocab.write_json(tmp_path / "x.json.gz", obj)
    first = (tmp_path / "x.json.gz").read_bytes()
    build_vocab.write_json(tmp_path / "x.json.gz", dict(reversed(obj.items())))
    assert (tmp_path / "x.json.gz").read_bytes() == first
    assert json.loads(gzip.decompress(first)) == obj


def test_shipped_files_carry_provenance() -> None:
    for name in (
        "vocab_lvis_coco.json.gz",
        "wordnet_nouns.json.gz",
        "morphology.json.gz",
        "attributes.json",
    ):
        prov = read_json(name)["provenance"]
        assert prov["script"] == "hardneg.miners.build.vocab" and prov["sources"]
        assert "Princeton University" in prov["sources"]["wordnet"]["licence"]
