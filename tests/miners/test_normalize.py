"""normalize / match_key: the spelling variants the exclusion guard must treat as one phrase."""

from __future__ import annotations

import pytest

from hardneg.miners.knowledge.normalize import Morphology, match_key, normalize, tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  School_Bus! ", "school bus"),
        ("school-bus", "school bus"),
        ("“Teddy Bear”", "teddy bear"),
        ("'hot dog'.", "hot dog"),
        ("(yellow taxi)", "yellow taxi"),
        ("bow (weapon)", "bow (weapon)"),
        ("bow (weapon", "bow (weapon"),
        ("ＣＡＴ", "cat"),  # full-width letters fold under NFKC
        ("tie\u2013dyed   shirt", "tie dyed shirt"),
        ("???", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "variants",
    [
        ["school bus", "schoolbus", "School_Buses", "school-bus", "SCHOOL BUS", "schoolbuses"],
        ["bus", "buses", "Bus."],
        ["box", "boxes"],
        ["berry", "berries"],
        ["knife", "knives"],
        ["goose", "geese"],
        ["mouse", "mice"],
        ["wine glass", "wine glasses", "wineglass"],
        ["potato", "potatoes"],
        ["person", "people"],
        ["taxi", "taxis"],
        ["octopus", "octopuses"],
        ["cactus", "cacti"],
        ["fireman", "firemen"],
        ["café", "cafe", "cafés"],
        ["men's shirt", "man shirt"],
    ],
)
def test_match_key_merges_variants(variants: list[str]) -> None:
    assert len({match_key(v) for v in variants}) == 1, {v: match_key(v) for v in variants}


@pytest.mark.parametrize(
    "word",
    [
        "glass",
        "bus",
        "lens",
        "series",
        "species",
        "jeans",
        "scissors",
        "gas",
        "iris",
        "pass",
        "canvas",
        "atlas",
        "news",
        "pants",
        "shorts",
        "chaos",
        "schoolbus",
        "walrus",
        "hummus",
    ],
)
def test_match_key_keeps_singulars_that_end_in_s(word: str) -> None:
    assert match_key(word) == word


def test_match_key_keeps_distinct_concepts_apart() -> None:
    assert match_key("school bus") != match_key("school van")
    assert match_key("red school bus") != match_key("yellow school bus")
    assert match_key("bus") != match_key("bu")
    assert match_key("glass") != match_key("gas")


def test_match_key_of_empty_and_punctuation_only() -> None:
    assert match_key("") == ""
    assert match_key("  --  ") == ""


def test_tokens_drop_possessive_and_punctuation() -> None:
    assert tokens("Men's  T-shirt!") == ["men", "t", "shirt"]


def test_morphology_from_bad_data_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="morphology data"):
        Morphology.from_json({"nouns": "bus", "exceptions": {}, "keep": []})


def test_unknown_words_get_conservative_rules() -> None:
    m = Morphology(frozenset({"bus"}), {}, frozenset())
    assert m.singular("zorbs") == "zorb"
    assert m.singular("zorbuses") == "zorbus"  # the known noun "bus" ends the word
    assert m.singular("flurries") == "flurry"
    assert m.singular("zorbus") == "zorbus"
    assert m.singular("klass") == "klass"
