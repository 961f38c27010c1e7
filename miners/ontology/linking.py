"""Phrase -> ontology items: split attribute words from the head noun, then link by label/alias.

"big yellow school bus" -> size ``big`` + colour ``yellow`` + head ``school bus``: the head is the
longest phrase suffix that some item has as English label or alias (case and singular variants
tried); attribute words come from the ontology's own attribute vocabularies. Several items may
share a label; all are kept, each with a score (label over alias, the qualifier in "bat (animal)"
matched against ancestors, WordNet tag counts or Wikidata sitelinks as popularity).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hardneg.miners.knowledge.normalize import default_morphology
from hardneg.miners.ontology.sparql import Bindings

MAX_TOKENS = 8
MAX_ATTR_TOKENS = 3
STOPWORDS = frozenset({"a", "an", "the", "of", "with"})
_QUALIFIER_RE = re.compile(r"^(?P<base>.*?)\s*\((?P<qual>[^()]*)\)\s*$")
_SPACE_RE = re.compile(r"\s+")


def clean(phrase: str) -> str:
    """Underscores to spaces, whitespace collapsed; case and hyphens kept (labels have them)."""
    return _SPACE_RE.sub(" ", phrase.replace("_", " ")).strip()


def split_qualifier(phrase: str) -> tuple[str, list[str]]:
    """ "bat (animal)" -> ("bat", ["animal"]); LVIS uses the parenthesis to pick a sense."""
    m = _QUALIFIER_RE.match(clean(phrase))
    if not m or not m.group("base"):
        return clean(phrase), []
    qual = [w for w in re.findall(r"[a-z]+", m.group("qual").lower()) if w not in STOPWORDS]
    return m.group("base"), qual


def popularity(row: dict[str, str]) -> int:
    """WordNet tag count (snapshot) or Wikidata sitelinks (live), whichever the endpoint has."""
    raw = row.get("sitelinks") or row.get("tags")
    return int(raw) if raw and raw.isdigit() else 0


def pop_factor(pop: int) -> float:
    """A small tie-breaker in [0.85, 1]: commoner concepts first among equals."""
    return 0.85 + 0.15 * min(1.0, math.log1p(pop) / math.log1p(50))


@dataclass(frozen=True)
class AttrValue:
    kind: str
    value: str  # IRI
    group: str  # IRI of the value's group (yellow for "lemon yellow")
    label: str  # the value's rdfs:label (display form used in swaps)
    pop: int
    via: tuple[str, str]  # how the group belongs to the kind: (property, attribute node IRI)


@dataclass
class AttributeVocab:
    """Surface words of every attribute value, and the groups of each kind (for swaps)."""

    words: dict[str, list[AttrValue]] = field(default_factory=dict)
    groups: dict[str, dict[str, AttrValue]] = field(default_factory=dict)  # kind -> group -> head
    lineage: dict[str, set[str]] = field(default_factory=dict)  # group -> itself + ancestors

    def swaps(self, value: AttrValue) -> list[AttrValue]:
        """Other groups of the value's kind, commoner and closer first: each ancestor shared
        beyond what the whole kind shares counts a little (leather -> suede, fur early)."""
        mine = self.lineage.get(value.group, set())
        others = [g for g in self.groups.get(value.kind, {}).values() if g.group != value.group]
        shared = {g.group: len(mine & self.lineage.get(g.group, set())) for g in others}
        base = min(shared.values(), default=0)

        def rank(g: AttrValue) -> tuple[float, str]:
            return (-(pop_factor(g.pop) + 0.05 * min(3, shared[g.group] - base)), g.label)

        return sorted(others, key=rank)

    @classmethod
    def from_rows(cls, rows: Bindings) -> AttributeVocab:
        labels: dict[str, str] = {}
        for r in sorted(rows, key=_surface_rank):
            labels.setdefault(r["value"], r["label"])
        words: dict[str, dict[tuple[str, str], AttrValue]] = defaultdict(dict)
        groups: dict[str, dict[str, AttrValue]] = defaultdict(dict)
        for r in sorted(rows, key=lambda r: (r["kind"], r["value"], r["label"])):
            via = ("hnp:group", r["attr"]) if r.get("via") == "declared" else ("wdt:P31", r["attr"])
            label = labels.get(r["value"], r["label"])
            v = AttrValue(r["kind"], r["value"], r["group"], label, popularity(r), via)
            words[r["label"].lower()][(v.kind, v.value)] = v
            if r["value"] == r["group"]:
                groups[v.kind][v.group] = v
        return cls({w: list(vs.values()) for w, vs in words.items()}, dict(groups))

    def parse(self, tokens: list[str]) -> tuple[list[tuple[str, AttrValue]], list[str]]:
        """Greedy longest match of attribute words; returns (surface, value) pairs, leftovers."""
        found: list[tuple[str, AttrValue]] = []
        rest: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(MAX_ATTR_TOKENS, len(tokens) - i), 0, -1):
                surface = " ".join(tokens[i : i + n])
                values = self.words.get(surface.lower())
                if values:
                    found.append((surface, _preferred(values)))
                    i += n
                    break
            else:
                if tokens[i].lower() not in STOPWORDS:
                    rest.append(tokens[i])
                i += 1
        return found, rest


KIND_ORDER = ("colour", "material", "size", "pattern")


def _surface_rank(row: dict[str, str]) -> tuple[int, bool, int, str]:
    """The name a value goes by in a phrase: fewest words, then its label ("metal" rather
    than "metallic element", but "iron" rather than its alias "Fe")."""
    text = row["label"]
    return (len(text.split()), row.get("how") != "label", len(text), text)


def _preferred(values: list[AttrValue]) -> AttrValue:
    """A word naming values of several kinds ("gold") reads as the first kind in KIND_ORDER."""
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    return min(values, key=lambda v: (rank.get(v.kind, 99), -v.pop, v.value))


@dataclass(frozen=True)
class Link:
    item: str
    text: str
    how: str  # label | alias
    pop: int
    score: float = 1.0
    wn: str = ""  # WordNet 3.0 synset name, when the endpoint knows it (the offline snapshot)


@dataclass
class Parsed:
    """A phrase taken apart: attribute words, other modifiers, the head and its links."""

    phrase: str
    head: str = ""
    attributes: list[tuple[str, AttrValue]] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    qualifier: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        """The words before the head, as written ("big yellow")."""
        return " ".join([*(s for s, _ in self.attributes), *self.modifiers])

    def primary(self, ratio: float = 0.5) -> list[Link]:
        """Links scoring at least ``ratio`` of the best one: the senses we mine from."""
        if not self.links:
            return []
        best = max(link.score for link in self.links)
        return [link for link in self.links if link.score >= ratio * best]


def head_spans(phrase: str) -> tuple[list[str], dict[str, list[int]]]:
    """Tokens of the phrase and, per lookup text, the start indexes of the suffixes it stands for."""
    base, _ = split_qualifier(phrase)
    tokens = base.split()[-MAX_TOKENS:]
    texts: dict[str, list[int]] = defaultdict(list)
    sing = default_morphology().singular
    for i in range(len(tokens)):
        span = tokens[i:]
        low = " ".join(span).lower()
        variants = {" ".join(span), low, low[:1].upper() + low[1:]}
        last = span[-1].lower()
        for form in {sing(last), last[:-1] if last.endswith("s") and len(last) > 3 else last}:
            # "pajamas" is kept as is by the guard's morphology, but WordNet files "pajama"
            variants.add(" ".join([*span[:-1], form]).lower())
        for v in variants:
            if i not in texts[v]:
                texts[v].append(i)
    return tokens, dict(texts)


def choose_head(
    phrase: str,
    rows: Bindings,
    vocab: AttributeVocab,
    texts: dict[str, list[int]],
    tokens: list[str],
) -> Parsed:
    """The longest linked suffix is the head; the words before it are attributes/modifiers."""
    _, qualifier = split_qualifier(phrase)
    parsed = Parsed(phrase=phrase, qualifier=qualifier)
    by_start: dict[int, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        for start in texts.get(r["text"], []):
            by_start[start].append(r)
    if not by_start:
        return parsed
    start = min(by_start)
    parsed.head = " ".join(tokens[start:])
    parsed.attributes, parsed.modifiers = vocab.parse(tokens[:start])
    links: dict[str, Link] = {}
    for r in sorted(by_start[start], key=lambda r: (r["item"], r["how"] != "label")):
        if r["item"] not in links:
            links[r["item"]] = Link(
                r["item"], r["text"], r["how"], popularity(r), wn=r.get("wn", "")
            )
    parsed.links = list(links.values())
    return parsed


def score_links(
    parsed: Parsed,
    lineage_labels: dict[str, set[str]],
    sense_fit: Callable[[str], float] | None = None,
) -> None:
    """Score each link: label 1.0 / alias 0.8, x qualifier fit, x popularity, x how well its
    WordNet sense fits the visual reading of the phrase (``sense_fit``; in place)."""
    top = max((link.pop for link in parsed.links), default=0)
    scored = []
    for link in parsed.links:
        s = 1.0 if link.how == "label" else 0.8
        if parsed.qualifier:
            words = {w for lab in lineage_labels.get(link.item, ()) for w in lab.lower().split()}
            s *= 1.0 if words & set(parsed.qualifier) else 0.25
        s *= 0.3 + 0.7 * (link.pop / top if top else 1.0)
        if sense_fit is not None and link.wn:
            s *= sense_fit(link.wn)
        scored.append(Link(link.item, link.text, link.how, link.pop, round(s, 4), link.wn))
    parsed.links = sorted(scored, key=lambda x: (-x.score, x.item))


def lineage(rows: Bindings) -> dict[str, set[str]]:
    """item -> labels of the item and all its ancestors (rows of ancestors.rq)."""
    out: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        out[r["item"]].add(r["label"])
    return out


def flatten(groups: Iterable[Iterable[str]]) -> set[str]:
    return {x for g in groups for x in g}
