"""Snapshot builders: WordNet mode (the shipped file) and live-endpoint mode (paged CONSTRUCT)."""

from __future__ import annotations

import gzip

import pytest

from hardneg.miners.base import MineQuery, MinerContext
from hardneg.miners.build.ontology import main as build_main
from hardneg.miners.build.ontology_endpoint import build_from_endpoint
from hardneg.miners.build.ontology_wordnet import build_from_wordnet
from hardneg.miners.ontology import Etiquette, OntologyMiner
from hardneg.miners.ontology.endpoints import LocalEndpoint
from hardneg.miners.ontology.snapshot import default_snapshot_path
from tests.miners.ontology import mini_wordnet
from tests.miners.ontology.conftest import settings

WD = "http://www.wikidata.org/entity/"
P = """PREFIX wd: <http://www.wikidata.org/entity/> PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX hn: <http://hardneg.dev/> PREFIX hnp: <http://hardneg.dev/prop/> PREFIX dct: <http://purl.org/dc/terms/>
"""


def ask(ep: LocalEndpoint, where: str) -> list[dict[str, str]]:
    return ep.select_sync(P + f"SELECT * WHERE {{ {where} }}")


@pytest.fixture(scope="module")
def shipped() -> LocalEndpoint:
    return LocalEndpoint(default_snapshot_path())


def test_shipped_snapshot_provenance(shipped):
    (prov,) = ask(
        shipped,
        "hn:snapshot hnp:snapshotId ?id ; dct:source ?src ; dct:created ?d ;"
        " hnp:scriptVersion ?v ; hnp:count_items ?items ; hnp:count_triples ?t .",
    )
    assert prov["id"].startswith(f"wn30-wikidata-{prov['d']}-") and "WordNet 3.0" in prov["src"]
    n_labelled = ask(shipped, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s rdfs:label ?l }")
    assert int(prov["items"]) > 40_000
    assert int(n_labelled[0]["n"]) >= int(prov["items"])  # + attribute nodes
    assert default_snapshot_path().stat().st_size < 4_000_000


def test_shipped_snapshot_speaks_wikidata(shipped):
    assert ask(shipped, 'wd:Q58678 rdfs:label "school bus"@en ; hnp:wordnet30 "school_bus.n.01" .')
    bus = ask(shipped, "wd:Q58678 wdt:P279 ?bus . ?bus wdt:P279 ?up . ?up rdfs:label ?l")
    assert {"public transport", "motor vehicle"} <= {r["l"] for r in bus}  # WordNet + patch
    assert ask(shipped, 'wd:Q42889 rdfs:label "vehicle"@en')
    unmapped = ask(shipped, '?s hnp:wordnet30 "motor_vehicle.n.01"')[0]["s"]
    assert unmapped.startswith("http://hardneg.dev/wn30/")
    tower = ask(shipped, '?e hnp:wordnet30 "eiffel_tower.n.01" ; wdt:P31 ?c . ?c rdfs:label ?l')
    assert {r["l"] for r in tower} == {"tower"}
    colours = ask(shipped, "<http://hardneg.dev/attr/colour> hnp:group ?g . ?g rdfs:label ?l")
    assert {"red", "yellow", "white"} <= {r["l"] for r in colours}


def build_mini(tmp_path, name="a.nt.gz"):
    wn30 = mini_wordnet.write(tmp_path / "wn30", v31=False)
    wn31 = mini_wordnet.write(tmp_path / "wn31", v31=True)
    shared = mini_wordnet.write_map(tmp_path / "shared")
    out = tmp_path / name
    return build_from_wordnet(wn30, wn31, shared, out, "2024-01-02"), out


def test_wordnet_build_is_deterministic_and_maps_through_sense_keys(tmp_path):
    prov, a = build_mini(tmp_path, "a.nt.gz")
    _, b = build_mini(tmp_path, "b.nt.gz")
    assert a.read_bytes() == b.read_bytes()
    assert prov.snapshot_id.startswith("wn30-wikidata-2024-01-02-")
    ep = LocalEndpoint(a)
    assert ask(ep, 'wd:Q58678 rdfs:label "school bus"@en ; skos:altLabel "schoolbus"@en')
    # car names Q1420, so it gets it; the cab synset that also claims it stays in our namespace
    assert ask(ep, 'wd:Q1420 rdfs:label "car"@en')
    (cab,) = ask(ep, '?cab rdfs:label "cab"@en ; skos:altLabel "taxi"@en ; wdt:P279 wd:Q1420')
    assert cab["cab"] == "http://hardneg.dev/wn30/02930766-n"
    assert ask(ep, 'wd:Q5638 wdt:P279 ?m . ?m rdfs:label "motor vehicle"@en')  # patched link
    assert ask(ep, '?e rdfs:label "Eiffel Tower"@en ; wdt:P31 ?t . ?t rdfs:label "tower"@en')
    assert ask(ep, '?r rdfs:label "red"@en ; hnp:modifierLabel "reddish"@en')
    big = ask(
        ep,
        '?a rdfs:label "large"@en ; skos:altLabel "big"@en ; wdt:P31 ?size .'
        ' ?size rdfs:label "size"@en . ?h wdt:P279 ?a ; rdfs:label "huge"@en',
    )
    assert big and not ask(ep, '?x rdfs:label "bouffant"@en')  # unused satellite left out
    (p,) = ask(ep, "hn:snapshot hnp:snapshotId ?id ; hnp:count_wikidata_items ?n")
    assert p["id"] == prov.snapshot_id and int(p["n"]) == 5  # 6 claims, 5 distinct QIDs


async def test_miner_on_a_wordnet_build(tmp_path):
    _, path = build_mini(tmp_path)
    miner = OntologyMiner(MinerContext(settings=settings()), snapshot=path)
    out = await miner.mine(MineQuery(positive="yellow school bus", k=50), None)
    got = {c.phrase for c in out.candidates}
    assert {"red school bus", "white school bus", "yellow minibus", "minibus"} <= got
    assert not {"bus", "coach", "vehicle", "motor vehicle", "school bus"} & got
    assert miner.snapshot_id.startswith("wn30-wikidata-2024-01-02-")


async def test_endpoint_build_pages_through_a_live_endpoint(mini_wikidata, tmp_path):
    et = Etiquette(user_agent="hardneg-tests/1 (tests@example.org)")
    out_a, out_b = tmp_path / "a.nt.gz", tmp_path / "b.nt.gz"
    prov = await build_from_endpoint(mini_wikidata.url, ["Q752870"], out_a, "2024-05-06",
                                     etiquette=et, page_size=4)  # fmt: skip
    await build_from_endpoint(mini_wikidata.url, ["Q752870"], out_b, "2024-05-06",
                              etiquette=et, page_size=4)  # fmt: skip
    assert out_a.read_bytes() == out_b.read_bytes()
    assert prov.snapshot_id.startswith("sparql-2024-05-06-")
    text = gzip.decompress(out_a.read_bytes()).decode()
    assert f'<{WD}Q58678> <http://www.w3.org/2004/02/skos/core#altLabel> "schoolbus"@en' in text
    assert '"Bus"@de' not in text and "bicycle" not in text  # English only, below the roots only
    assert f"<{WD}Q752870> <http://www.wikidata.org/prop/direct/P279> <{WD}Q42889>" in text
    assert '"vehicle"@en' in text and '"yellow"@en' in text  # ancestors, colour instances
    assert mini_wikidata.url in text and "Q752870" in text  # provenance: source and roots


async def test_miner_same_on_live_endpoint_and_its_snapshot(mini_wikidata, tmp_path):
    out = tmp_path / "mini.nt.gz"
    et = Etiquette(user_agent="hardneg-tests/1 (tests@example.org)")
    await build_from_endpoint(mini_wikidata.url, ["Q42889"], out, "2024-05-06", etiquette=et)
    live = OntologyMiner(MinerContext(settings=settings(sparql_url=mini_wikidata.url)))
    local = OntologyMiner(MinerContext(settings=settings()), snapshot=out)
    q = MineQuery(positive="yellow school bus", k=60)
    a, b = await live.mine(q, None), await local.mine(q, None)
    assert [c.phrase for c in a.candidates] == [c.phrase for c in b.candidates]
    got = {c.phrase: c for c in a.candidates}
    assert {"red school bus", "yellow minibus", "minibus", "yellow taxi"} <= set(got)
    assert not {"bus", "school bus", "schoolbus", "vehicle", "motor vehicle"} & set(got)
    assert got["red school bus"].evidence["path"][1] == "wdt:P31"  # Wikidata's colour model
    assert live.snapshot_id == f"endpoint:{live.endpoint_id}"  # Wikidata has no provenance node
    await live.aclose()


def test_cli_errors_are_clear(tmp_path, capsys):
    assert build_main(["--created", "2024-13-01", "--wordnet30", "x"]) == 2
    assert "--created must be a date" in capsys.readouterr().err
    assert build_main(["--wordnet30", str(tmp_path)]) == 2
    assert "give --wordnet30, --wordnet31 and --shared-data" in capsys.readouterr().err
    assert (
        build_main(
            [
                "--wordnet30",
                str(tmp_path),
                "--wordnet31",
                str(tmp_path),
                "--shared-data",
                str(tmp_path),
                "--out",
                str(tmp_path / "x.nt.gz"),
            ]
        )
        == 2
    )
    assert "wordnet31_wikidata.json" in capsys.readouterr().err
    assert build_main(["--from-endpoint", "http://127.0.0.1:9/sparql", "--roots", "Q1"]) == 2
    assert "--out is required" in capsys.readouterr().err
