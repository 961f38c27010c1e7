"""Ontology miner: look-alike concepts from a Wikidata-vocabulary class graph (see docs/ontology.md)."""

from __future__ import annotations

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
