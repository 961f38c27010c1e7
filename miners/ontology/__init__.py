"""Ontology miner: look-alike concepts from a Wikidata-vocabulary class graph (docs/ontology.md).

Names are imported on first use, so ``python -m hardneg.miners.ontology.snapshot`` and
``python -m hardneg.miners.build.ontology`` run without loading the miner first.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hardneg.miners.ontology.miner import MINER_VERSION, Analysis, OntologyMiner
    from hardneg.miners.ontology.sparql import (
        Etiquette,
        HttpEndpoint,
        SparqlBadQuery,
        SparqlError,
        SparqlRateLimited,
        SparqlTimeout,
        SparqlUnavailable,
    )

_WHERE = {
    "MINER_VERSION": "miner",
    "Analysis": "miner",
    "OntologyMiner": "miner",
    "Etiquette": "sparql",
    "HttpEndpoint": "sparql",
    "SparqlBadQuery": "sparql",
    "SparqlError": "sparql",
    "SparqlRateLimited": "sparql",
    "SparqlTimeout": "sparql",
    "SparqlUnavailable": "sparql",
}
__all__ = [
    "MINER_VERSION",
    "Analysis",
    "Etiquette",
    "HttpEndpoint",
    "OntologyMiner",
    "SparqlBadQuery",
    "SparqlError",
    "SparqlRateLimited",
    "SparqlTimeout",
    "SparqlUnavailable",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
