"""The SPARQL queries, as ``.rq`` files that run as they are in the Wikidata query service.

Each file carries example values on lines marked ``# @param NAME``; :func:`render` swaps in the
real ones, so the query the miner sends is the file a reader can paste, with other values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

from hardneg.miners.ontology.terms import expand_id

QUERY_PACKAGE = "hardneg.miners.ontology.rq"
_PAGE_RE = re.compile(r"LIMIT\s+\d+\s+OFFSET\s+\d+(?P<tail>\s*#\s*@page)")
_PARAM_RE = re.compile(
    r"VALUES\s+(?P<vars>\?\w+|\([^)]*\))\s*\{[^}\n]*\}(?P<tail>\s*#\s*@param\s+(?P<name>\w+))"
)

Term = str  # an already rendered SPARQL term: <iri>, "text"@en
Row = tuple[Term, ...]


@cache
def load(name: str) -> str:
    """The text of ``rq/<name>.rq``."""
    return resources.files(QUERY_PACKAGE).joinpath(f"{name}.rq").read_text(encoding="utf-8")


def iri(ident: str) -> Term:
    """A SPARQL IRI term from an item id (``Q42``, ``wn30:...``) or a full IRI."""
    full = expand_id(ident)
    if any(c in full for c in '<>"{}|^`\\ \n'):
        raise ValueError(f"not a valid IRI: {full!r}")
    return f"<{full}>"


def literal(text: str, lang: str | None = "en") -> Term:
    """A SPARQL string literal; quotes, backslashes and line breaks are escaped."""
    esc = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{esc}"@{lang}' if lang else f'"{esc}"'


def render(
    name: str, page: tuple[int, int] | None = None, **params: Sequence[Term] | Sequence[Row]
) -> str:
    """The query ``name`` with each ``# @param`` VALUES block filled from ``params``, and the
    ``# @page`` line set to ``page`` = (limit, offset)."""
    text = load(name)
    if page is not None:
        limit, offset = page
        text, n = _PAGE_RE.subn(f"LIMIT {int(limit)} OFFSET {int(offset)}\\g<tail>", text)
        if n != 1:
            raise KeyError(f"query {name!r} has no '# @page' line")
    seen: set[str] = set()

    def fill(m: re.Match[str]) -> str:
        pname = m.group("name")
        if pname not in params:
            raise KeyError(f"query {name!r} needs parameter {pname!r}")
        seen.add(pname)
        values = params[pname]  # may be empty: "VALUES ?x { }" matches nothing
        body = " ".join("(" + " ".join(v) + ")" if isinstance(v, tuple) else str(v) for v in values)
        return f"VALUES {m.group('vars')} {{ {body} }}"

    out = _PARAM_RE.sub(fill, text)
    unknown = set(params) - seen
    if unknown:
        raise KeyError(f"query {name!r} has no parameter(s) {sorted(unknown)}")
    return out
