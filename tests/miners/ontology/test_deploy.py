"""How the service deploys the snapshot: a store filled by the package, served by ``oxigraph``."""

from __future__ import annotations

import json

import hardneg.miners.ontology as ontology
from hardneg.miners.base import MineQuery, MinerContext
from hardneg.miners.ontology import OntologyMiner
from hardneg.miners.ontology.snapshot import default_snapshot_path, main, read_provenance
from tests.miners.ontology.conftest import OxigraphServer, settings


async def test_load_store_then_serve_read_only(tmp_path, capsys):
    """What deploy/oxigraph does: ``snapshot load-store DIR``, then ``oxigraph serve-read-only``."""
    assert main(["load-store", str(tmp_path / "store"), "--if-changed"]) == 0
    assert "loaded wn30-wikidata-" in capsys.readouterr().out
    assert main(["load-store", str(tmp_path / "store"), "--if-changed"]) == 0
    assert "already holds wn30-wikidata-" in capsys.readouterr().out  # restarts stay cheap
    srv = OxigraphServer(default_snapshot_path(), tmp_path)
    srv.start(store=tmp_path / "store")
    try:
        miner = OntologyMiner(MinerContext(settings=settings(sparql_url=srv.url)))
        await miner.ready()
        assert miner.snapshot_id == read_provenance(default_snapshot_path())["snapshotId"]
        out = await miner.mine(MineQuery(positive="school bus", k=20), None)
        assert len(out.candidates) == 20
        await miner.aclose()
    finally:
        srv.stop()


def test_snapshot_info_and_bad_file(tmp_path, capsys):
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"snapshotId", "source", "created", "scriptVersion", "count_items"} <= set(info)
    bad = tmp_path / "x.nt.gz"
    bad.write_bytes(b"not gzip")
    assert main(["info", str(bad)]) == 2
    assert "error:" in capsys.readouterr().err


def test_public_names_are_pinned():
    assert ontology.__all__ == [
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
    assert all(getattr(ontology, name) is not None for name in ontology.__all__)
