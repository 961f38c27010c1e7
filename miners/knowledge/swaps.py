"""Realism of attribute swaps: which colours, materials and patterns a thing really comes in.

A swap ("red school bus" for "yellow school bus") is a hard negative only when the combination
is natural and the new value is really different. Rules, each a function of shipped data:

- Colours: only basic colour terms people annotate (not "pastel", "alizarine red", "gamboge");
  a colour next to the positive's own on the hue circle overlaps it ("orange" for a yellow bus,
  "pink" for a red one) and could be true of the same object.
- Natural kinds (animals, plants, food, natural objects: WordNet's lexicographer file) come only
  in colours WordNet attests for them or their kinds (glosses and names: "black swan", "brown
  bear"); no material swaps ("wooden banana"), and only the patterns animals have.
- Materials stay in the positive's family: rigid (wood, metal, glass, ceramic, plastic ...) or
  textile (cotton, denim, leather, wool ...): "glass mug" for "ceramic mug", never "denim mug".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import Kind

if TYPE_CHECKING:
    from hardneg.miners.knowledge.knowledge import Knowledge

__all__ = ["BASIC_COLOURS", "unrealistic"]

BASIC_COLOURS = frozenset(
    {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white"}
    | {"gray", "silver", "gold", "beige"}
)
# Neighbours on the hue circle (and light/dark neighbours): too close to be a different colour.
_NEAR: dict[str, frozenset[str]] = {}
for _a, _bs in {
    "yellow": ("orange", "gold", "beige"),
    "orange": ("red", "gold", "brown"),
    "red": ("pink",),
    "pink": ("purple",),
    "purple": ("blue",),
    "brown": ("beige", "gold"),
    "black": ("gray",),
    "white": ("beige",),
    "gray": ("silver",),
}.items():
    for _b in _bs:
        _NEAR[_a] = _NEAR.get(_a, frozenset()) | {_b}
        _NEAR[_b] = _NEAR.get(_b, frozenset()) | {_a}

RIGID = frozenset(
    {"aluminum", "bamboo", "brass", "brick", "bronze", "cardboard", "ceramic", "clay", "concrete"}
    | {"copper", "glass", "gold", "granite", "iron", "marble", "metal", "paper", "plastic"}
    | {"porcelain", "rubber", "silver", "steel", "stone", "straw", "tin", "wicker", "wood"}
)
TEXTILE = frozenset(
    {"canvas", "cotton", "denim", "felt", "fur", "lace", "leather", "linen", "nylon", "silk"}
    | {"suede", "velvet", "wool", "plastic", "rubber"}
)
# Materials that contain each other (steel is a metal, cardboard a paper, porcelain a ceramic):
# one for the other could be true of the same object.
_SAME_MATERIAL = (
    frozenset({"metal", "steel", "iron", "aluminum", "brass", "bronze", "copper", "tin"}),
    frozenset({"metal", "silver"}),
    frozenset({"metal", "gold"}),
    frozenset({"paper", "cardboard"}),
    frozenset({"ceramic", "porcelain", "clay"}),
    frozenset({"stone", "granite", "marble"}),
    frozenset({"leather", "suede"}),
    frozenset({"wood", "bamboo"}),
)
# State words (the fifth attribute kind; the lexicon has no kind for them): "empty",
# "burnt" on a look-alike type is a real phrase. Pattern nouns used as adjectives likewise.
STATE_WORDS = frozenset(
    {"empty", "full", "open", "closed", "broken", "burnt", "burned", "dead", "ripe", "unripe"}
    | {"rotten", "wet", "dry", "rusty", "old", "new", "used", "dirty", "clean", "sliced"}
    | {"cooked", "raw", "frozen", "melted", "lit", "folded", "torn", "cracked", "peeled"}
    | {"stripe", "check", "checked", "dot", "flower", "floral"}
)
ANIMAL_PATTERNS = frozenset({"striped", "spotted", "stripy", "dotted"})
# Patterns people annotate; "herringbone", "houndstooth" are weaver's words.
COMMON_PATTERNS = frozenset(
    {"striped", "stripy", "plaid", "tartan", "checkered", "checked", "chequered", "polka dot"}
    | {"polka dotted", "dotted", "spotted", "floral", "flowered", "camouflage", "paisley"}
    | {"tie dye", "tie dyed"}
)
# Patterns too alike to be different (a tartan is a plaid, dots are spots).
_SAME_PATTERN = (
    frozenset({"plaid", "tartan", "checkered", "checked", "chequered"}),
    frozenset({"polka dot", "polka dotted", "dotted", "spotted"}),
    frozenset({"striped", "stripy"}),
    frozenset({"floral", "flowered"}),
    frozenset({"tie dye", "tie dyed"}),
)
# What things of a category are really made of / painted in (synset -> values). A head under
# none of them keeps the rigid/textile family rule; the first category that covers it wins.
MATERIALS_BY_CATEGORY: tuple[tuple[str, frozenset[str]], ...] = (
    ("bag.n.01", frozenset({"leather", "canvas", "plastic", "paper", "cotton", "nylon", "straw"})),
    ("tableware.n.01", frozenset({"ceramic", "glass", "plastic", "metal", "paper", "porcelain", "wood", "steel", "clay"})),
    ("crockery.n.01", frozenset({"ceramic", "glass", "plastic", "porcelain", "clay", "metal"})),
    ("furniture.n.01", frozenset({"wood", "metal", "plastic", "wicker", "leather", "glass", "steel", "iron", "bamboo", "velvet"})),
    ("building.n.01", frozenset({"brick", "stone", "wood", "concrete", "steel", "glass"})),
    ("container.n.01", frozenset({"metal", "plastic", "glass", "wood", "ceramic", "paper", "cardboard", "steel", "tin", "wicker", "clay", "aluminum"})),
    ("jewelry.n.01", frozenset({"gold", "silver", "metal", "plastic", "wood", "glass"})),
    ("tool.n.01", frozenset({"metal", "steel", "wood", "plastic", "iron"})),
    ("clothing.n.01", frozenset({"cotton", "denim", "leather", "wool", "silk", "linen", "nylon", "velvet", "fur", "suede", "lace", "canvas", "felt"})),
)  # fmt: skip
# Colours domestic animals are bred in, which WordNet's glosses rarely name (its glosses attest
# wild kinds well: "black swan", "brown bear").
DOMESTIC_COLOURS = frozenset({"black", "white", "gray", "brown"})
DOMESTIC_ANIMALS = (
    "dog.n.01", "domestic_cat.n.01", "sheep.n.01", "cattle.n.01", "horse.n.01", "goat.n.01",
    "hog.n.03", "rabbit.n.01", "domestic_fowl.n.01", "domestic_ass.n.01",
)  # fmt: skip
# Flowering plants are bred in most colours (a red tulip, a purple rose are real).
FLOWER_COLOURS = frozenset({"red", "white", "pink", "purple", "yellow", "orange", "blue"})
FLOWERING = ("flower.n.01", "flower.n.02", "bulbous_plant.n.01", "rose.n.01", "orchid.n.01")
COLOURS_BY_CATEGORY: tuple[tuple[str, frozenset[str]], ...] = (
    ("motor_vehicle.n.01", frozenset({"white", "black", "gray", "silver", "red", "blue", "green", "yellow", "brown", "beige", "orange"})),
)  # fmt: skip


def _values(knowledge: Knowledge, phrase: str) -> tuple[dict[str, set[str]], str]:
    attrs, head = knowledge.split_attributes(phrase)
    out: dict[str, set[str]] = {}
    for kind, word in attrs:
        canon = knowledge.canonical_attribute(word).get(kind.value)
        if canon:
            out.setdefault(kind.value, set()).add(
                canon.split()[-1] if kind == Kind.colour else canon
            )
    return out, head


def _glued(knowledge: Knowledge, head: str, pos_head: str) -> str | None:
    """ "pastel school bus", "bottle corkscrew": a word no lexicon knows as an attribute pasted
    before a known head; the phrase as a whole is no known thing."""
    words, pos_words = head.split(), pos_head.split()
    if len(words) < 2 or knowledge.is_word(head):
        return None
    for i in range(1, len(words)):
        if set(words[:i]) <= STATE_WORDS:
            return None  # "empty beer glass", "burnt waffle": a state, not a compound part
        tail = " ".join(words[i:])
        if knowledge.is_word(tail) and (
            tail == pos_head or words[:i] == pos_words[: len(words[:i])]
        ):
            return f"'{' '.join(words[:i])}' glued onto '{tail}'"
    return None


def unrealistic(knowledge: Knowledge, positive: str, candidate: str) -> str | None:
    """Why the candidate's attribute words make it no hard negative for ``positive``, or None."""
    cand, head = _values(knowledge, candidate)
    pos, pos_head = _values(knowledge, positive)
    glued = _glued(knowledge, head, pos_head)
    if glued:
        return glued
    if not cand or not head:
        return None
    natural = knowledge.is_natural(head)
    same_head = match_key(head) == match_key(pos_head)
    for colour in cand.get("colour", set()) - pos.get("colour", set()):
        if colour not in BASIC_COLOURS:
            return f"'{colour}' is not a colour annotators use"
        allowed = _by_category(knowledge, head, COLOURS_BY_CATEGORY)
        if allowed is not None and colour not in allowed:
            return f"a {head} rarely comes in {colour}"
        if natural and colour not in _natural_colours(knowledge, head):
            return f"a {head} does not come in {colour}"
        if same_head and _NEAR.get(colour, frozenset()) & pos.get("colour", set()):
            return f"'{colour}' overlaps the positive's colour"
    new_materials = cand.get("material", set()) - pos.get("material", set())
    if new_materials and natural:
        return f"a {head} is not made of {', '.join(sorted(new_materials))}"
    made_of = _by_category(knowledge, head, MATERIALS_BY_CATEGORY)
    own = pos.get("material", set())
    for group in _SAME_MATERIAL:
        if same_head and new_materials & group and own & group:
            return f"'{', '.join(sorted(new_materials))}' overlaps the positive's material"
    for material in new_materials:
        family = RIGID if own <= RIGID else TEXTILE
        if material not in (made_of if made_of is not None else family if own else {material}):
            return f"'{material}' is not a material a {head} is made of"
    return _pattern_problem(
        cand.get("pattern", set()) - pos.get("pattern", set()),
        pos.get("pattern", set()),
        head,
        natural,
    ) or _attribute_in_head(knowledge, candidate, head)


def _pattern_problem(new: set[str], own: set[str], head: str, natural: bool) -> str | None:
    if natural and new - ANIMAL_PATTERNS:
        return f"a {head} is not {', '.join(sorted(new - ANIMAL_PATTERNS))}"
    if new - COMMON_PATTERNS:
        return f"'{', '.join(sorted(new - COMMON_PATTERNS))}' is not a pattern annotators use"
    for group in _SAME_PATTERN:
        if new & group and own & group:
            return f"'{', '.join(sorted(new))}' is the positive's own pattern by another name"
    return None


def _attribute_in_head(knowledge: Knowledge, candidate: str, head: str) -> str | None:
    """ "small big cat": an attribute pasted onto a head that already names one of its kind."""
    attrs, _ = knowledge.split_attributes(candidate)
    kinds = {k.value for k, _ in attrs}
    for word in head.split():
        clash = kinds & set(knowledge.canonical_attribute(word))
        if clash:
            return f"a {sorted(clash)[0]} word on '{head}', which names one already"
    return None


def _natural_colours(knowledge: Knowledge, head: str) -> set[str]:
    found = knowledge.attested_colours(head)
    if any(knowledge.under(head, s) for s in DOMESTIC_ANIMALS):
        found |= DOMESTIC_COLOURS
    if any(knowledge.under(head, s) for s in FLOWERING):
        found |= FLOWER_COLOURS
    return found


def _by_category(
    knowledge: Knowledge, head: str, table: tuple[tuple[str, frozenset[str]], ...]
) -> frozenset[str] | None:
    return next((values for synset, values in table if knowledge.under(head, synset)), None)
