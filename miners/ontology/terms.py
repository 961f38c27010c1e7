"""IRIs of the vocabulary the ontology miner speaks (Wikidata's, plus a small ``hardneg.dev`` one).

Items with a Wikidata QID use ``wd:Q..``; WordNet synsets without one live under
``http://hardneg.dev/wn30/`` so they can never be mistaken for Wikidata items. ``compact_id``
is how items are named in evidence (``Q58678``, ``wn30:02924116-n``).
"""

from __future__ import annotations

from functools import lru_cache

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_ALT = "http://www.w3.org/2004/02/skos/core#altLabel"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
WIKIBASE_SITELINKS = "http://wikiba.se/ontology#sitelinks"
DCT = "http://purl.org/dc/terms/"
XSD = "http://www.w3.org/2001/XMLSchema#"

HN = "http://hardneg.dev/"
HN_WN30 = HN + "wn30/"
HNP = HN + "prop/"
HN_ATTR = HN + "attr/"
SNAPSHOT_NODE = HN + "snapshot"

P279 = WDT + "P279"  # subclass of
P31 = WDT + "P31"  # instance of

PREFIXES = {
    "wd:": WD,
    "wdt:": WDT,
    "wn30:": HN_WN30,
    "hn:": HN,
}


def wn30_iri(offset: int, pos: str = "n") -> str:
    """The IRI of a WordNet 3.0 synset that has no Wikidata item (``pos`` n or a)."""
    return f"{HN_WN30}{offset:08d}-{pos}"


@lru_cache(maxsize=262144)
def compact_id(iri: str) -> str:
    """``Q58678`` for Wikidata items, ``wn30:02924116-n`` / ``hn:attr/colour`` for ours."""
    if iri.startswith(WD):
        return iri[len(WD) :]
    if iri.startswith(HN_WN30):
        return "wn30:" + iri[len(HN_WN30) :]
    if iri.startswith(HN):
        return "hn:" + iri[len(HN) :]
    return iri


def expand_id(ident: str) -> str:
    """Inverse of :func:`compact_id`; accepts ``Q42``, ``wd:Q42``, ``wn30:...`` or a full IRI."""
    if ident.startswith(("http://", "https://")):
        return ident
    for prefix, base in PREFIXES.items():
        if ident.startswith(prefix):
            return base + ident[len(prefix) :]
    if ident[:1] == "Q" and ident[1:].isdigit():
        return WD + ident
    raise ValueError(f"not an item id: {ident!r} (expected Q123, wd:Q123, wn30:... or an IRI)")


def nt_iri(iri: str) -> str:
    return f"<{iri}>"


def nt_literal(text: str, lang: str | None = None, datatype: str | None = None) -> str:
    """An N-Triples literal; only the characters N-Triples requires are escaped."""
    esc = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    if lang:
        return f'"{esc}"@{lang}'
    if datatype:
        return f'"{esc}"^^<{datatype}>'
    return f'"{esc}"'


def nt_int(value: int) -> str:
    return nt_literal(str(value), datatype=XSD + "integer")
