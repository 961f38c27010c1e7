"""One test group per class of bad negative the judged benchmark found (issue: "negatives that
are actually hard"): wrong word sense, compounds split apart, attribute swaps without realism,
spelling look-alikes, guard holes, filler. Concepts here are not in bench/quality/concepts.json.
"""

from __future__ import annotations

import pytest

from hardneg.miners.knowledge import Guard, Knowledge
from hardneg.miners.knowledge.companions import COMPANIONS, ROLES
from hardneg.miners.knowledge.structure import NATURAL_LEXFILES
from hardneg.miners.knowledge.swaps import (
    COLOURS_BY_CATEGORY,
    DOMESTIC_ANIMALS,
    FLOWERING,
    MATERIALS_BY_CATEGORY,
    unrealistic,
)
from hardneg.service.scoring import FEATURES, features, model_for, rarity


@pytest.fixture(scope="module")
def k() -> Knowledge:
    return Knowledge.load_default()


def _first(k: Knowledge, phrase: str) -> str:
    return k.sense_names(k.senses(phrase))[0]


# --- 1. wrong word sense ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("phrase", "sense"),
    [
        ("stroller", "baby_buggy.n.01"),  # not saunterer.n.01, "a person who strolls"
        ("pushchair", "baby_buggy.n.01"),
        ("tortoise", "tortoise.n.01"),
        ("crane", "crane.n.04"),  # LVIS's crane is the machine, not the bird
    ],
)
def test_wrong_sense_the_visual_sense_comes_first(k: Knowledge, phrase: str, sense: str) -> None:
    assert _first(k, phrase) == sense


def test_wrong_sense_physical_senses_before_people_and_abstractions(k: Knowledge) -> None:
    """WordNet's senses are ordered physical first, then by the word's own sense order."""
    graph = k.structure.graph
    ordered = k.sense_names(k.structure.order(graph.lookup("stroller"), "stroller"))
    assert ordered.index("baby_buggy.n.01") < ordered.index("saunterer.n.01")
    assert k.is_physical_sense("baby_buggy.n.01") and not k.is_physical_sense("saunterer.n.01")
    # "cutter": a synset named after another lemma ("tender.n.05") has no rank for the word
    cutter = k.sense_names(k.structure.order(graph.lookup("cutter"), "cutter"))
    assert cutter.index("tender.n.05") > max(
        i for i, n in enumerate(cutter) if n.startswith("cutter.") and k.is_physical_sense(n)
    )


def test_wrong_sense_relatedness_separates_senses(k: Knowledge) -> None:
    """Tortoise and tortilla share only "physical entity"; tortoise and turtle a family."""
    assert k.relatedness("tortoise", "tortilla") <= 4
    assert k.relatedness("tortoise", "sea turtle") >= 8
    assert k.relatedness("qwzx blorf", "tortoise") == -1


# --- 2. compounds split apart ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("positive", "candidate"),
    [
        ("bottle opener", "bottle corkscrew"),
        ("bottle opener", "bottle universe"),
        ("yellow school bus", "pastel school bus"),
    ],
)
def test_compound_modifiers_are_never_glued_on(k: Knowledge, positive: str, candidate: str) -> None:
    assert "glued" in (unrealistic(k, positive, candidate) or "")


@pytest.mark.parametrize(
    ("positive", "candidate"),
    [
        ("bottle opener", "corkscrew"),
        ("yellow school bus", "yellow taxi"),
        ("coffee mug", "tea mug"),
    ],
)
def test_compounds_whole_or_attribute_kept_are_fine(
    k: Knowledge, positive: str, candidate: str
) -> None:
    assert unrealistic(k, positive, candidate) is None


# --- 3. attribute swaps without realism --------------------------------------------------------
@pytest.mark.parametrize(
    ("positive", "candidate", "why"),
    [
        ("black crow", "purple crow", "does not come in"),  # natural kind: attested colours only
        ("yellow school bus", "orange school bus", "overlaps"),  # hue neighbours
        ("red kettle", "pink kettle", "overlaps"),
        ("ceramic mug", "denim mug", "not a material"),
        ("metal ladder", "steel ladder", "overlaps"),  # steel is a metal
        ("ripe mango", "wooden mango", "not made of"),
        ("striped scarf", "herringbone scarf", "not a pattern annotators use"),
        ("plaid scarf", "tartan scarf", "own pattern by another name"),
        ("white ambulance", "purple ambulance", "rarely comes in"),
        ("yellow school bus", "gamboge school bus", "not a colour annotators use"),
        ("small dog", "small big cat", "names one already"),
    ],
)
def test_unrealistic_swaps_are_dropped(
    k: Knowledge, positive: str, candidate: str, why: str
) -> None:
    assert why in (unrealistic(k, positive, candidate) or "")


@pytest.mark.parametrize(
    ("positive", "candidate"),
    [
        ("yellow school bus", "red school bus"),
        ("white swan", "black swan"),  # black swans are attested
        ("ceramic mug", "glass mug"),
        ("denim jacket", "leather jacket"),
        ("striped scarf", "plaid scarf"),
        ("white ambulance", "red ambulance"),
        ("brown goat", "white goat"),  # domestic animals: bred in black, white, gray, brown
        ("yellow orchid", "purple orchid"),  # flowers are bred in most colours
        ("empty jam jar", "empty mason jar"),  # a state word is no glued compound part
        ("silver hatchback", "white hatchback"),
    ],
)
def test_realistic_swaps_are_kept(k: Knowledge, positive: str, candidate: str) -> None:
    assert unrealistic(k, positive, candidate) is None


def test_natural_kinds_get_only_attested_colours(k: Knowledge) -> None:
    assert k.is_natural("swan") and not k.is_natural("school bus")
    assert {"white", "black"} <= k.attested_colours("swan")
    assert "purple" not in k.attested_colours("crow")
    assert "pastel" not in k.attested_colours("swan")


# --- 4. spelling look-alikes ---------------------------------------------------------------------
def test_spelling_lookalikes_score_below_real_kin(k: Knowledge) -> None:
    """With the same similarity and the same proposer, a sub-word neighbour ("tortilla" for
    "tortoise") is less likely hard than a real relative under the shipped model."""
    model = model_for("minilm:all-MiniLM-L6-v2")
    assert model is not None
    evidence = {"vocabulary": {"score": 0.5}}
    for positive, lookalike, real in (
        ("tortoise", "tortilla", "sea turtle"),
        ("magpie", "magazine", "jay"),
    ):
        kin = model.p_hard(features(k, positive, real, evidence, 0.5))
        x = features(k, positive, lookalike, evidence, 0.5)
        assert x[FEATURES.index("spelling")] > 0.1
        assert model.p_hard(x) < kin


# --- 5. guard holes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("positive", "blocked", "why"),
    [
        ("school bus", "wheel", "part of"),  # inherited from wheeled_vehicle.n.01
        ("school bus", "roof", "part of"),
        ("heron", "beak", "part of"),
        ("rowing boat", "oar", "pictured with"),
        ("rowing boat", "oarlock", "part of"),
        ("saddle horse", "saddle", "pictured with"),
        ("stagecoach", "horse", "pictured with"),
        ("birthday cake", "candle", "pictured with"),
        ("school bus", "license plate", "pictured with"),
        ("dog", "pet", "role or category"),
        ("mug", "tableware", "role or category"),
        ("soccer ball", "sports ball", "role or category"),
        ("frying pan", "kitchenware", "role or category"),
        ("earring", "ring", "category word"),  # closed compounds WordNet does not file
        ("sweatshirt", "shirt", "category word"),  # under their head
        ("motorcycle", "cycle", "category word"),
        ("yellow school bus", "bus", "ancestor"),
        ("bus", "school bus", "a kind of"),  # hyponym of a general positive
        ("vehicle", "minivan", "a kind of"),
    ],
)
def test_guard_blocks(k: Knowledge, positive: str, blocked: str, why: str) -> None:
    reason = Guard.for_item([positive], [], [], k).check(blocked)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize(
    ("positive", "allowed"),
    [
        ("bus", "pet"),  # roles cover only what they name
        ("school bus", "minibus"),
        ("plastic bag", "paper bag"),  # LVIS audit: not a synonym (SYNONYM_OVERRIDES)
        ("dog", "wolf"),
        ("houseboat", "canoe"),
        ("ambulance", "lance"),  # a closed compound needs two words and related senses
        ("mammoth", "moth"),
        ("heron", "goose"),  # a bird's flesh is a part; goose meat below it is not
        ("ottoman", "chair"),
    ],
)
def test_guard_allows(k: Knowledge, positive: str, allowed: str) -> None:
    assert Guard.for_item([positive], [], [], k).check(allowed) is None


def test_guard_data_names_only_real_synsets(k: Knowledge) -> None:
    names = [s for synsets, _ in ROLES.values() for s in synsets] + list(COMPANIONS)
    names += [s for s, _ in MATERIALS_BY_CATEGORY] + [s for s, _ in COLOURS_BY_CATEGORY]
    names += list(DOMESTIC_ANIMALS) + list(FLOWERING)
    missing = [n for n in names if not k.phrases_of(n)]
    assert not missing
    assert all(why for _, why in ROLES.values()) and all(why for _, why in COMPANIONS.values())


def test_relations_data_covers_the_graph(k: Knowledge) -> None:
    lex = k.structure.lexfile
    assert len(lex) == len(k.structure.graph.names)
    assert sum(1 for x in lex if x in NATURAL_LEXFILES) > 10_000


# --- 6. filler -----------------------------------------------------------------------------------
def test_word_frequency_prior(k: Knowledge) -> None:
    """Obscure words nobody annotates get a high rarity; everyday words a low one."""
    assert rarity("dog") < 0.2 < 0.5 < rarity("quagga")
    assert rarity("horseless carriage") > rarity("car")
