"""Hand-curated inputs of the data builders (``vocab``, ``lexicon``, ``ontology_wordnet``): every decision here is written down with its reason.

Everything else in the shipped data is derived from LVIS v1, COCO 2017 and WordNet 3.0 by code.
"""

from __future__ import annotations

# Words that end in -s but are not plurals of another noun we want to merge with (pluralia
# tantum and -s singulars): ``match_key`` leaves them as they are.
KEEP_AS_IS: tuple[str, ...] = (
    "barracks", "bellows", "billiards", "binoculars", "boxers", "briefs", "chaos", "crossroads",
    "darts", "economics", "ethics", "eyeglasses", "gallows", "goggles", "gymnastics",
    "headquarters", "jeans", "leggings", "lens", "mathematics", "means", "news", "overalls",
    "pajamas", "pants", "physics", "pliers", "politics", "pyjamas", "scissors", "series",
    "shears", "shorts", "species", "spectacles", "sunglasses", "suspenders", "tights", "tongs",
    "trousers", "tweezers",
)  # fmt: skip

# Irregular plurals WordNet's noun.exc leaves out because the plural is a lemma of its own.
EXTRA_PLURALS: dict[str, str] = {"people": "person"}

# COCO names that are not spelled like any LVIS name/synonym (after match_key), mapped onto the
# LVIS category that is the same concept (LVIS is built on COCO's images and covers its classes).
COCO_TO_LVIS: dict[str, str] = {
    "sports ball": "ball",
    "potted plant": "",  # no LVIS category for a plant in a pot (flowerpot is the pot only)
    "laptop": "laptop_computer",
    "remote": "remote_control",
    "cell phone": "cellular_telephone",
    "microwave": "microwave_oven",
    "hair drier": "hair_dryer",
}

# WordNet 3.0 synsets for COCO names that have no LVIS counterpart.
COCO_SYNSETS: dict[str, str] = {"hot dog": "hotdog.n.02", "potted plant": "pot_plant.n.01"}

# Is-a links WordNet 3.0 lacks: it files bus and train only under public_transport.n.01, so
# "vehicle" would not be an ancestor of "school bus". WordNet's own glosses say otherwise
# (bus.n.01: "a vehicle carrying many passengers"). (child, parent, reason)
HYPERNYM_PATCHES: tuple[tuple[str, str, str], ...] = (
    ("bus.n.01", "motor_vehicle.n.01", "gloss: 'a vehicle carrying many passengers'"),
    ("train.n.01", "wheeled_vehicle.n.01", "a train is railway cars (wheeled vehicles) coupled"),
)

# Attribute words WordNet has no tidy subtree for. Sizes and patterns: a short allow-list.
SIZE_WORDS: tuple[str, ...] = (
    "big", "giant", "huge", "large", "little", "long", "mini", "miniature", "narrow", "short",
    "small", "tall", "thick", "thin", "tiny", "wide",
)  # fmt: skip
PATTERN_WORDS: tuple[str, ...] = (
    "camouflage", "checked", "checkered", "chequered", "dotted", "floral", "flowered",
    "herringbone", "houndstooth", "paisley", "patterned", "plaid", "polka dot", "polka dotted",
    "spotted", "striped", "stripy", "tartan", "tie dye", "tie dyed",
)  # fmt: skip

# Materials: common words used adjectivally, each checked at build time to be a noun under
# one of MATERIAL_ROOTS in WordNet 3.0 (glass and plastic are filed under solid.n.01, fabrics under
# fabric.n.01, brick and concrete under building_material.n.01).
# Adjectival forms map onto their noun (wooden -> wood).
MATERIAL_WORDS: tuple[str, ...] = (
    "aluminium", "aluminum", "bamboo", "brass", "brick", "bronze", "canvas", "cardboard",
    "ceramic", "clay", "concrete", "copper", "cotton", "denim", "felt", "fur", "glass", "gold",
    "granite", "iron", "lace", "leather", "linen", "marble", "metal", "nylon", "paper",
    "plastic", "porcelain", "rubber", "silk", "silver", "steel", "stone", "straw", "suede",
    "tin", "velvet", "wicker", "wood", "wool",
)  # fmt: skip
MATERIAL_ADJECTIVES: dict[str, str] = {
    "ceramics": "ceramic", "golden": "gold", "metallic": "metal", "silken": "silk",
    "wooden": "wood", "woolen": "wool", "woollen": "wool", "stainless": "steel",
}  # fmt: skip
MATERIAL_ROOTS: tuple[str, ...] = (
    "building_material.n.01", "ceramic.n.01", "ceramic_ware.n.01", "fabric.n.01", "material.n.01",
    "metallic_element.n.01", "solid.n.01", "substance.n.01",
)  # fmt: skip

# Colour adjectives that WordNet lists only as adjectives; mapped onto a colour noun.
COLOUR_ADJECTIVES: dict[str, str] = {
    "bluish": "blue", "blueish": "blue", "brownish": "brown", "greenish": "green",
    "greyish": "gray", "grayish": "gray", "pinkish": "pink", "purplish": "purple",
    "reddish": "red", "silvery": "silver", "yellowish": "yellow", "whitish": "white",
    "blackish": "black", "orangish": "orange",
}  # fmt: skip
# Words that make a colour word more precise ("dark red", "light blue").
COLOUR_MODIFIERS: tuple[str, ...] = ("bright", "dark", "deep", "light", "pale", "pastel")
# WordNet colour lemmas dropped: abstract nouns, and words whose everyday sense is a food, animal
# or object (a leading "lemon" or "salmon" names a flavour or a fish far more often than a colour).
COLOUR_DROP: tuple[str, ...] = (
    "apricot", "bleach", "bone", "canary", "caramel", "cardinal", "carnation", "chalk", "cherry",
    "chocolate", "coffee", "complementary", "complementary color", "drab", "lemon", "maize",
    "mocha", "olive", "pastel", "peach", "salmon", "sanguine", "tangerine", "viridity", "wheat",
    "wine",
)  # fmt: skip
# Spelling variants that name the same attribute ("grey" and "gray" are one colour).
SPELLING: dict[str, str] = {"aluminium": "aluminum", "colour": "color", "grey": "gray",
                            "ochre": "ocher", "woollen": "woolen"}  # fmt: skip
