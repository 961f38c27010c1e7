"""Writes a tiny WordNet (3.0 and 3.1 dict layouts, real file formats) for builder tests.

The real WordNet is not shipped with the repository; these few synsets exercise what the
builder does with it: hypernym and instance-hypernym links, the 3.0 -> 3.1 bridge through sense
keys, one QID claimed by two synsets, colour and size vocabularies, an adjective satellite.
"""

from __future__ import annotations

import json
from pathlib import Path

# name: (offset 3.0, lex_filenum, lemmas, [(pointer, target name)], tag count)
NOUNS: dict[str, tuple[int, int, list[str], list[tuple[str, str]], int]] = {
    "entity.n.01": (1740, 3, ["entity"], [], 10),
    "physical_entity.n.01": (1930, 3, ["physical_entity"], [("@", "entity.n.01")], 5),
    "abstraction.n.06": (2137, 3, ["abstraction"], [("@", "entity.n.01")], 5),
    "object.n.01": (2684, 3, ["object", "physical_object"], [("@", "physical_entity.n.01")], 9),
    "vehicle.n.01": (4524313, 6, ["vehicle"], [("@", "object.n.01")], 20),
    "motor_vehicle.n.01": (
        3791235,
        6,
        ["motor_vehicle", "automotive_vehicle"],
        [("@", "vehicle.n.01")],
        3,
    ),
    "public_transport.n.01": (4019101, 6, ["public_transport"], [("@", "object.n.01")], 1),
    "bus.n.01": (2924116, 6, ["bus", "autobus", "coach"], [("@", "public_transport.n.01")], 12),
    "school_bus.n.01": (4146614, 6, ["school_bus"], [("@", "bus.n.01")], 1),
    "minibus.n.01": (3769881, 6, ["minibus"], [("@", "bus.n.01")], 0),
    "trolleybus.n.01": (4487081, 6, ["trolleybus", "trolley_coach"], [("@", "bus.n.01")], 0),
    "car.n.01": (2958343, 6, ["car", "auto", "automobile"], [("@", "motor_vehicle.n.01")], 30),
    "cab.n.03": (2930766, 6, ["cab", "taxi", "taxicab"], [("@", "car.n.01")], 4),
    "tower.n.01": (4460130, 6, ["tower"], [("@", "object.n.01")], 6),
    "eiffel_tower.n.01": (3259505, 6, ["Eiffel_Tower"], [("@i", "tower.n.01")], 1),
    "color.n.01": (4956594, 7, ["color", "colour"], [("@", "abstraction.n.06")], 8),
    "chromatic_color.n.01": (4959672, 7, ["chromatic_color"], [("@", "color.n.01")], 0),
    "achromatic_color.n.01": (4960277, 7, ["achromatic_color"], [("@", "color.n.01")], 0),
    "red.n.01": (4962784, 7, ["red", "redness"], [("@", "chromatic_color.n.01")], 5),
    "yellow.n.01": (4965661, 7, ["yellow", "yellowness"], [("@", "chromatic_color.n.01")], 4),
    "white.n.02": (4961331, 7, ["white", "whiteness"], [("@", "achromatic_color.n.01")], 3),
    "size.n.01": (5098942, 7, ["size"], [("@", "abstraction.n.06")], 7),
}
# adjectives: name: (offset, ss_type, lemmas, pointers, tag count)
ADJECTIVES = {
    "large.a.01": (1382086, "a", ["large", "big"], [("=", "size.n.01"), ("&", "huge.s.01")], 40),
    "huge.s.01": (1385255, "s", ["huge", "immense"], [("&", "large.a.01")], 3),
    "bouffant.s.01": (1383582, "s", ["bouffant"], [("&", "large.a.01")], 0),
    "small.a.01": (1391351, "a", ["small", "little"], [("=", "size.n.01")], 35),
}
SHIFT_31 = 100_000  # WordNet 3.1 renumbers every synset; sense keys stay


def _pos_of(name: str) -> str:
    return name.split(".")[1]


def _offset(name: str, v31: bool) -> int:
    off = NOUNS[name][0] if name in NOUNS else ADJECTIVES[name][0]
    return off + SHIFT_31 if v31 else off


def _data_line(name: str, v31: bool) -> str:
    if name in NOUNS:
        _, lex, lemmas, ptrs, _ = NOUNS[name]
        ss = "n"
    else:
        _, ss, lemmas, ptrs, _ = ADJECTIVES[name]
        lex = 0
    words = " ".join(f"{w} 0" for w in lemmas)
    pointers = " ".join(f"{sym} {_offset(t, v31):08d} {_pos_of(t)[0]} 0000" for sym, t in ptrs)
    return (f"{_offset(name, v31):08d} {lex:02d} {ss} {len(lemmas):02x} {words} "
            f"{len(ptrs):03d} {pointers} | gloss of {name}")  # fmt: skip


def _sense_key(lemma: str, name: str) -> str:
    ss_type = {"n": 1, "a": 3, "s": 5}[_pos_of(name)]
    if name in NOUNS:
        return f"{lemma.lower()}%{ss_type}:{NOUNS[name][1]:02d}:00::"
    head = "large" if ADJECTIVES[name][1] == "s" else ""
    return f"{lemma.lower()}%{ss_type}:00:00:{head}:{'01' if head else ''}"


def write(root: Path, v31: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.noun").write_text("".join(_data_line(n, v31) + "\n" for n in NOUNS))
    (root / "data.adj").write_text("".join(_data_line(n, v31) + "\n" for n in ADJECTIVES))
    index: dict[str, list[str]] = {}
    for name, (_, _, lemmas, _, _) in NOUNS.items():
        for lemma in lemmas:
            index.setdefault(lemma.lower(), []).append(name)
    lines = [f"{lemma} n {len(ns)} 0 {len(ns)} 0 " + " ".join(f"{_offset(n, v31):08d}" for n in ns)
             for lemma, ns in sorted(index.items())]  # fmt: skip
    (root / "index.noun").write_text("\n".join(lines) + "\n")
    senses = []
    for table in (NOUNS, ADJECTIVES):
        for name, entry in table.items():
            for i, lemma in enumerate(entry[2]):
                tags = entry[4] if i == 0 else 0
                senses.append(f"{_sense_key(lemma, name)} {_offset(name, v31):08d} 1 {tags}")
    (root / "index.sense").write_text("\n".join(sorted(senses)) + "\n")
    return root


def write_map(root: Path) -> Path:
    """The WordNet 3.1 -> Wikidata map; car and cab both claim Q1420 (car names it)."""
    entries = {
        "school_bus.n.01": ("Q58678", "school bus", ["schoolbus"]),
        "bus.n.01": ("Q5638", "bus", []),
        "vehicle.n.01": ("Q42889", "vehicle", []),
        "car.n.01": ("Q1420", "car", ["motor car"]),
        "cab.n.03": ("Q1420", "car", []),
        "color.n.01": ("Q1075", "color", []),
    }
    data = {f"{_offset(n, True):08d}-n": {"qid": q, "label": lab, "aliases": al}
            for n, (q, lab, al) in entries.items()}  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    (root / "wordnet31_wikidata.json").write_text(json.dumps(data))
    return root
