"""The exclusion guard: a candidate negative must not be anything the item shows or the caller bans.

Blocked, all compared on ``match_key`` (case, spacing, punctuation, underscores, plurals): the
positives, the present concepts and the caller's exclusions; their synonyms; the ancestors of
positives and present concepts ("bus", "vehicle" for "school bus"); and the attribute-keeping
generalisations of them ("yellow bus" for "yellow school bus"). "red school bus" stays allowed.

Also blocked for positives and present concepts, because they are in the image whenever the
concept is: its parts (WordNet part meronyms, inherited from specific ancestors: a school bus
has a wheel), things nearly always pictured with it and role/category nouns covering it
(``companions.py``: oars for a rowing boat, "pet" for a dog), and the category word a closed
compound ends in ("houseboat" -> "boat", "teacup" -> "cup") when WordNet knows it as a noun.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hardneg.miners.base import Related
from hardneg.miners.knowledge.companions import companions_of, roles_covering
from hardneg.miners.knowledge.knowledge import Knowledge
from hardneg.miners.knowledge.normalize import match_key, normalize

__all__ = ["Guard"]

_ROLES = ("positive", "present", "exclude")


@dataclass(frozen=True)
class _AttributeRule:
    """Candidates with a subset of these attributes and one of these heads are blocked."""

    attributes: frozenset[str]
    heads: Mapping[str, str]  # match_key of head -> reason


def _label(role: str, phrase: str) -> str:
    return {"positive": f"'{phrase}'", "present": f"present '{phrase}'"}.get(
        role, f"excluded '{phrase}'"
    )


class Guard:
    """Decides, per item, which candidate phrases may be returned as negatives."""

    def __init__(
        self,
        blocked: dict[str, str],
        protected: list[str],
        rules: list[_AttributeRule],
        knowledge: Knowledge,
        subsumers: dict[str, str] | None = None,
    ) -> None:
        self._blocked = blocked
        self._protected = protected
        self._rules = rules
        self._knowledge = knowledge
        self._subsumers = subsumers or {}

    @classmethod
    def for_item(
        cls,
        positives: Sequence[str],
        present: Sequence[str],
        exclude: Sequence[str],
        knowledge: Knowledge,
        related: Sequence[Mapping[str, Related]] = (),
    ) -> Guard:
        """Guard for one item; ``related`` adds miners' knowledge (e.g. Wikidata aliases, P279)."""
        items = [
            (r, p)
            for r, ps in zip(_ROLES, (positives, present, exclude), strict=True)
            for p in ps
            if match_key(p)
        ]
        extra = _index_related(related)
        blocked, protected = _blocked_phrases(items, knowledge, extra)
        rules = [
            r
            for role, p in items
            if role != "exclude"
            for r in [_attribute_rule(role, p, knowledge, extra)]
            if r
        ]
        return cls(
            blocked, list(protected.values()), rules, knowledge, _subsumers(items, knowledge, extra)
        )

    def check(self, phrase: str) -> str | None:
        """None when ``phrase`` may be returned, else a short reason ("ancestor of 'school bus'")."""
        key = match_key(phrase)
        if not key:
            return "empty after normalisation"
        reason = self._blocked.get(key) or self._kind_of_shown(phrase)
        if reason is not None or not self._rules:
            return reason
        attrs, head = self._knowledge.split_attributes(phrase)
        if not attrs:
            return None
        values = self._knowledge.attribute_values(attrs)
        head_key = match_key(head)
        for rule in self._rules:
            if values <= rule.attributes and head_key in rule.heads:
                return rule.heads[head_key]
        return None

    def _kind_of_shown(self, phrase: str) -> str | None:
        """A hyponym of a positive or present concept may be exactly what the image shows: the
        annotation "bus" may well be a school bus, so "school bus" is no safe negative for it."""
        if not self._subsumers:
            return None
        kn = self._knowledge
        up = kn.ancestor_keys(phrase) | kn.shared_ancestor_keys(phrase)
        for key in sorted(up & self._subsumers.keys()):
            return self._subsumers[key]
        return None

    @property
    def protected_phrases(self) -> list[str]:
        """Positives, present, exclusions and their synonyms (display form), for the filter."""
        return list(self._protected)


_DIRECT = {"positive": "is a positive", "present": "is present", "exclude": "excluded by caller"}


def _blocked_phrases(
    items: list[tuple[str, str]], knowledge: Knowledge, extra: Mapping[str, list[Related]]
) -> tuple[dict[str, str], dict[str, str]]:
    """(match_key -> reason, match_key -> protected display phrase); the first reason wins:
    the phrases themselves, then synonyms, then ancestors (of positives and present only)."""
    rel = {p: _merge(knowledge.related(p), extra.get(match_key(p), [])) for _, p in items}
    blocked: dict[str, str] = {}
    protected: dict[str, str] = {}
    for role, p in items:
        blocked.setdefault(match_key(p), _DIRECT[role])
        protected.setdefault(match_key(p), normalize(p))
    for role, p in items:
        for s in sorted(rel[p].synonyms):
            blocked.setdefault(match_key(s), f"synonym of {_label(role, p)}")
            protected.setdefault(match_key(s), normalize(s))
    for role, p in items:
        if role != "exclude":
            for a in sorted(rel[p].ancestors):
                blocked.setdefault(match_key(a), f"ancestor of {_label(role, p)}")
    for role, p in items:
        if role != "exclude":
            for key, why in _always_with(p, knowledge).items():
                blocked.setdefault(key, f"{why} {_label(role, p)}")
    blocked.pop("", None)
    protected.pop("", None)
    return blocked, protected


_MIN_HEAD = 3  # "houseboat" -> "boat"; never a two-letter tail ("ox" in "box")


def _always_with(phrase: str, knowledge: Knowledge) -> dict[str, str]:
    """match_key -> reason prefix for what the image shows whenever it shows ``phrase``."""
    out: dict[str, str] = {}
    for part in sorted(knowledge.parts_of(phrase)):
        out.setdefault(match_key(part), "part of")
    for companion, why in companions_of(knowledge, phrase).items():
        out.setdefault(match_key(companion), f"pictured with ({why})")
    for role, why in roles_covering(knowledge, phrase).items():
        out.setdefault(match_key(role), f"a role or category covering ({why})")
    head = _closed_compound_head(phrase, knowledge)
    if head:
        out.setdefault(match_key(head), "the category word of")
    return out


def _closed_compound_head(phrase: str, knowledge: Knowledge) -> str | None:
    """ "houseboat" -> "boat": a one-word phrase made of two known words whose second names a
    more general thing of the same kind, closely related to it (so "ambulance" is no "lance",
    "barbell" no "bell", "mammoth" no "moth")."""
    words = knowledge.split_attributes(phrase)[1].split()
    if len(words) != 1:
        return None
    w = words[0]
    for i in range(_MIN_HEAD, len(w) - _MIN_HEAD + 1):
        first, tail = w[:i], w[i:]
        if tail in _NOT_HEADS or not (knowledge.is_word(first) and knowledge.is_word(tail)):
            continue
        if (
            knowledge.relatedness(phrase, tail) >= _RELATED_HEAD
            and knowledge.same_lexfile(phrase, tail)
            and knowledge.breadth(tail) > knowledge.breadth(phrase)
        ):
            return tail
    return None


_RELATED_HEAD = 7  # a deep common ancestor, the same kind of thing, the tail more general
# Word endings that are nouns but not the category of the compound ("cutlet" is no "let").
_NOT_HEADS = frozenset(
    {"let", "ling", "ette", "ess", "ment", "ness", "ship", "hood", "ion", "age", "ant"}
)


def _subsumers(
    items: list[tuple[str, str]], knowledge: Knowledge, extra: Mapping[str, list[Related]]
) -> dict[str, str]:
    """match_key of every positive/present phrase and synonym -> "a kind of ..." reason."""
    out: dict[str, str] = {}
    for role, p in items:
        if role == "exclude":
            continue
        rel = _merge(knowledge.related(p), extra.get(match_key(p), []))
        for s in [p, *sorted(rel.synonyms)]:
            out.setdefault(match_key(s), f"a kind of {_label(role, p)}")
    out.pop("", None)
    return out


def _index_related(related: Sequence[Mapping[str, Related]]) -> dict[str, list[Related]]:
    out: dict[str, list[Related]] = {}
    for mapping in related:
        for asked, rel in mapping.items():
            out.setdefault(match_key(asked), []).append(rel)
    return out


def _merge(base: Related, extra: Sequence[Related]) -> Related:
    if not extra:
        return base
    merged = Related(synonyms=set(base.synonyms), ancestors=set(base.ancestors))
    for r in extra:
        merged.synonyms |= r.synonyms
        merged.ancestors |= r.ancestors
    return merged


def _attribute_rule(
    role: str, phrase: str, knowledge: Knowledge, extra: Mapping[str, list[Related]]
) -> _AttributeRule | None:
    """For "yellow school bus": "yellow bus", "yellow vehicle", "yellow schoolbus" are blocked."""
    attrs, head = knowledge.split_attributes(phrase)
    if not attrs or not head:
        return None
    rel = _merge(knowledge.related(head), extra.get(match_key(head), []))
    label = _label(role, phrase)
    heads: dict[str, str] = {}
    for s in [head, *sorted(rel.synonyms)]:
        heads.setdefault(match_key(s), f"synonym of {label}")
    for a in sorted(rel.ancestors):
        heads.setdefault(match_key(a), f"ancestor of {label}")
    heads.pop("", None)
    return _AttributeRule(knowledge.attribute_values(attrs), heads)
