"""The snapshot file: sorted N-Triples, gzip without timestamps, provenance stored inside it.

Both builders (WordNet and live endpoint) end here, so every snapshot has the same shape: the
graph, then a provenance node ``<http://hardneg.dev/snapshot>`` with source, date, counts, script
version and a snapshot id that hashes the graph (same inputs -> same bytes -> same id).
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from hardneg.miners.ontology.terms import (
    DCT,
    HNP,
    P31,
    P279,
    RDFS_LABEL,
    SKOS_ALT,
    SNAPSHOT_NODE,
    WD,
    nt_int,
    nt_iri,
    nt_literal,
)

SNAPSHOT_PACKAGE = "hardneg.miners.ontology.data"
SNAPSHOT_FILE = "wordnet_wikidata.nt.gz"


def default_snapshot_path() -> Path:
    """The snapshot shipped inside the package."""
    return Path(str(resources.files(SNAPSHOT_PACKAGE).joinpath(SNAPSHOT_FILE)))


@dataclass
class Provenance:
    """What a snapshot was built from; stored in the snapshot, reported as ``snapshot_id``."""

    source: str
    created: str  # ISO date
    script_version: str
    kind: str  # short tag that starts the snapshot id: "wn30-wikidata", "endpoint"
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    snapshot_id: str = ""


def check_date(text: str) -> str:
    """An ISO date (YYYY-MM-DD), or a clear error."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ValueError(f"--created must be a date like 2025-01-31, got {text!r}") from exc


def graph_counts(lines: Iterable[str]) -> dict[str, int]:
    """Triples, items, Wikidata items and P279/P31 edges of a set of N-Triples lines."""
    triples = items = wikidata = p279 = p31 = 0
    seen: set[str] = set()
    p279_t, p31_t = nt_iri(P279), nt_iri(P31)
    labels = (nt_iri(RDFS_LABEL), nt_iri(SKOS_ALT))
    for line in lines:
        triples += 1
        s, p, _ = line.split(" ", 2)
        p279 += p == p279_t
        p31 += p == p31_t
        if p in labels and s not in seen:
            seen.add(s)
            items += 1
            wikidata += s.startswith("<" + WD)
    return {
        "triples": triples,
        "items": items,
        "wikidata_items": wikidata,
        "p279": p279,
        "p31": p31,
    }


def provenance_lines(prov: Provenance) -> list[str]:
    s = nt_iri(SNAPSHOT_NODE)
    out = [
        f"{s} {nt_iri(HNP + 'snapshotId')} {nt_literal(prov.snapshot_id)} .",
        f"{s} {nt_iri(DCT + 'source')} {nt_literal(prov.source)} .",
        f"{s} {nt_iri(DCT + 'created')} {nt_literal(prov.created)} .",
        f"{s} {nt_iri(HNP + 'scriptVersion')} {nt_literal(prov.script_version)} .",
    ]
    out += [f"{s} {nt_iri(HNP + 'note')} {nt_literal(n)} ." for n in prov.notes]
    out += [f"{s} {nt_iri(HNP + 'count_' + k)} {nt_int(v)} ." for k, v in prov.counts.items()]
    return out


def write_snapshot(graph: Iterable[str], prov: Provenance, out: Path) -> Provenance:
    """Sort, hash, add provenance, gzip deterministically; returns the provenance written."""
    lines = sorted(set(graph))
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    prov.counts = graph_counts(lines)
    prov.snapshot_id = f"{prov.kind}-{prov.created}-{digest[:12]}"
    body = "\n".join(sorted([*lines, *provenance_lines(prov)])) + "\n"
    buf = io.BytesIO()
    # mtime=0 and no file name: the same graph gives the same bytes on every machine.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(body.encode("utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return prov


def read_provenance(path: Path) -> dict[str, str]:
    """The provenance literals of a snapshot file (streamed; the store is not loaded)."""
    prefix = nt_iri(SNAPSHOT_NODE) + " "
    out: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(prefix):
                _, pred, obj = line.rstrip(" .\n").split(" ", 2)
                key = pred.strip("<>").rsplit("/", 1)[-1]
                value = obj.split('"')[1] if obj.startswith('"') else obj
                out[key] = f"{out[key]}; {value}" if key in out else value
    return out


def load_store(snapshot: Path, location: Path, if_changed: bool = False) -> tuple[str, bool]:
    """Fill an on-disk Oxigraph store (what ``oxigraph serve-read-only`` serves) with a
    snapshot, replacing what it held. A marker next to it (``<location>.snapshot-id``) names
    the loaded snapshot; ``if_changed`` skips the load when it already names this one.
    Returns (snapshot id, loaded?)."""
    import pyoxigraph as ox

    snap_id = read_provenance(snapshot).get("snapshotId", "unversioned")
    marker = location.with_name(location.name + ".snapshot-id")
    if if_changed and marker.is_file() and marker.read_text().strip() == snap_id:
        return snap_id, False
    location.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)  # a half-loaded store must not look loaded
    store = ox.Store(str(location))
    store.clear()
    store.bulk_load(input=gzip.decompress(snapshot.read_bytes()), format=ox.RdfFormat.N_TRIPLES)
    store.flush()
    del store  # releases the database lock before a server opens it
    marker.write_text(snap_id + "\n")
    return snap_id, True


def main(argv: list[str] | None = None) -> int:
    """``python -m hardneg.miners.ontology.snapshot {info,load-store}``."""
    import argparse
    import json
    import sys

    p = argparse.ArgumentParser(prog="python -m hardneg.miners.ontology.snapshot")
    sub = p.add_subparsers(dest="cmd", required=True)
    info = sub.add_parser("info", help="print a snapshot's provenance as JSON")
    info.add_argument("snapshot", type=Path, nargs="?", default=None)
    load = sub.add_parser("load-store", help="load a snapshot into an Oxigraph store directory")
    load.add_argument("location", type=Path)
    load.add_argument("--snapshot", type=Path, default=None, help="default: the shipped one")
    load.add_argument(
        "--if-changed", action="store_true", help="skip when the store holds this snapshot"
    )
    args = p.parse_args(argv)
    path = args.snapshot or default_snapshot_path()
    try:
        if args.cmd == "info":
            print(json.dumps(read_provenance(path), indent=2, sort_keys=True))
        else:
            snap_id, loaded = load_store(path, args.location, args.if_changed)
            print(f"{'loaded' if loaded else 'already holds'} {snap_id}: {args.location}")
    except (OSError, EOFError, SyntaxError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
