"""Judged quality benchmark: mine a fixed concept set, hand packets to a judge, report figures.

    python bench/quality.py run --name baseline [--k 30] [--split all|tune|heldout]
    python bench/quality.py pending --run baseline [--packet-size 8]
    python bench/quality.py ingest answers.json --judge NAME
    python bench/quality.py report --run baseline [--split heldout|tune|all] [--json]
    python bench/quality.py compare --base baseline --new candidate [--split heldout]

The rubric (labels H hard / E easy / I invalid) is /work/shared/QUALITY.md; the concept set, the
split rule and the file formats are described in bench/quality/README.md. Labels are data: they
are appended, never overwritten, so later runs only need judging for phrases that are new.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "quality"
CONCEPTS = HERE / "concepts.json"
RUNS = HERE / "runs"
PACKETS = HERE / "packets"
LABELS = HERE / "labels.jsonl"
SPLITS = ("tune", "heldout")
GROUPS = ("plain", "attribute", "rare", "general")
LABEL_NAMES = ("H", "E", "I")
BATCH = 16  # concepts per in-process request

Row = dict[str, Any]  # one line of a run file
Pair = tuple[str, str]  # (normalised concept, normalised phrase)
Figures = dict[str, Any]


class QualityError(Exception):
    """A user-facing error: bad input file, unknown run, invalid answer record."""


# --- shared helpers --------------------------------------------------------------------------


def norm(text: str) -> str:
    """How phrases and concepts are compared: case-insensitive, whitespace collapsed."""
    return " ".join(text.lower().split())


def split_of(concept: str) -> str:
    """The fixed split rule: about 40% held out, decided by the concept's text alone."""
    return "heldout" if int(hashlib.sha256(concept.encode()).hexdigest(), 16) % 5 < 2 else "tune"


def load_concepts(path: Path = CONCEPTS) -> list[Row]:
    """The concept set, checked against the split rule and the group names."""
    data = json.loads(path.read_text())
    concepts: list[Row] = data["concepts"]
    seen: set[str] = set()
    for entry in concepts:
        name = entry["concept"]
        if entry["group"] not in GROUPS:
            raise QualityError(f"{path}: {name!r} has unknown group {entry['group']!r}")
        if entry["split"] != split_of(name):
            raise QualityError(f"{path}: {name!r} is in {entry['split']!r}, the rule says other")
        if norm(name) in seen:
            raise QualityError(f"{path}: {name!r} is listed twice")
        seen.add(norm(name))
    return concepts


def read_jsonl(path: Path) -> list[Row]:
    if not path.exists():
        return []
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def run_path(name: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise QualityError(f"run name {name!r}: use letters, digits, '_', '-', '.'")
    return RUNS / f"{name}.jsonl"


def load_run(name: str) -> list[Row]:
    path = run_path(name)
    if not path.exists():
        raise QualityError(f"no run {name!r} ({path} does not exist)")
    return read_jsonl(path)


def load_labels(path: Path) -> dict[Pair, Row]:
    """Labels keyed by (concept, phrase), normalised; the first label of a pair wins."""
    out: dict[Pair, Row] = {}
    for row in read_jsonl(path):
        out.setdefault((norm(row["concept"]), norm(row["phrase"])), row)
    return out


def in_split(rows: Iterable[Row], split: str) -> list[Row]:
    return [r for r in rows if split == "all" or r["split"] == split]


def chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


# --- run -------------------------------------------------------------------------------------


def negative_line(neg: Any) -> Row:
    """One returned negative as stored in a run file (the ontology relation kept, if any)."""
    line: Row = {
        "phrase": neg.phrase,
        "sources": list(neg.sources),
        "kind": str(neg.kind),
        "score": round(float(neg.score), 4),
    }
    onto = neg.evidence.get("ontology") if isinstance(neg.evidence, dict) else None
    if isinstance(onto, dict) and onto.get("relation"):
        line["relation"] = onto["relation"]
    return line


async def mine_batch(pipeline: Any, batch: Sequence[Row], k: int) -> tuple[list[Row], Any]:
    """Mine one batch of concepts; ``ms`` is the batch's wall time shared among its items."""
    from hardneg.miners.types import NegativesRequest, RequestItem

    items = [RequestItem(id=c["concept"], positives=[c["concept"]]) for c in batch]
    start = time.perf_counter()
    resp = await pipeline.mine(NegativesRequest(items=items, k=k))
    ms = (time.perf_counter() - start) * 1000 / len(batch)
    by_id = {item.id: item for item in resp.items}
    lines = []
    for c in batch:
        item = by_id[c["concept"]]
        lines.append(
            {
                "concept": c["concept"],
                "group": c["group"],
                "split": c["split"],
                "negatives": [negative_line(n) for n in item.negatives],
                "miners": {name: s.status for name, s in sorted(item.miners.items())},
                "ms": round(ms, 1),
            }
        )
    return lines, resp


async def mine_all(concepts: Sequence[Row], k: int) -> tuple[list[Row], Row]:
    """Mine every concept with the in-process pipeline on the embedded default settings."""
    from hardneg.service.pipeline import Pipeline

    pipeline = Pipeline.create()
    lines: list[Row] = []
    meta: Row = {}
    try:
        await pipeline.warm_up()
        for n, batch in enumerate(chunks(concepts, BATCH), 1):
            got, resp = await mine_batch(pipeline, batch, k)
            lines.extend(got)
            meta = {"embedder": resp.embedder, "versions": resp.versions}
            print(f"  batch {n}: {len(lines)}/{len(concepts)} concepts", file=sys.stderr)
    finally:
        await pipeline.aclose()
    return lines, meta


def cmd_run(args: argparse.Namespace) -> int:
    path = run_path(args.name)
    if path.exists() and not args.force:
        raise QualityError(f"{path} exists; runs are kept as data (pass --force to replace it)")
    concepts = in_split(load_concepts(args.concepts), args.split)
    start = time.perf_counter()
    lines, meta = asyncio.run(mine_all(concepts, args.k))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    meta.update(
        name=args.name,
        k=args.k,
        split=args.split,
        concepts=len(lines),
        concepts_version=json.loads(args.concepts.read_text())["version"],
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        wall_s=round(time.perf_counter() - start, 1),
    )
    path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    returned = sum(len(line["negatives"]) for line in lines)
    print(f"wrote {path}: {len(lines)} concepts, {returned} negatives, {meta['wall_s']} s")
    return 0


# --- pending ---------------------------------------------------------------------------------


def unlabelled(rows: Iterable[Row], labels: dict[Pair, Row]) -> dict[str, list[str]]:
    """Per concept, the distinct returned phrases that have no label yet, sorted."""
    out: dict[str, list[str]] = {}
    for row in rows:
        phrases: dict[str, str] = {}
        for neg in row["negatives"]:
            key = norm(neg["phrase"])
            if (norm(row["concept"]), key) not in labels:
                phrases.setdefault(key, neg["phrase"])
        if phrases:
            out[row["concept"]] = sorted(phrases.values(), key=lambda p: (norm(p), p))
    return out


def cmd_pending(args: argparse.Namespace) -> int:
    todo = unlabelled(load_run(args.run), load_labels(args.labels))
    for old in args.packets.glob(f"{args.run}-[0-9][0-9].json"):
        old.unlink()  # packets are derived from run + labels; stale ones would ask twice
    concepts = sorted(todo, key=lambda c: (norm(c), c))  # no group/split order to read
    paths: list[Path] = []
    args.packets.mkdir(parents=True, exist_ok=True)
    for n, part in enumerate(chunks(concepts, args.packet_size), 1):
        packet = [{"concept": c, "phrases": todo[c]} for c in part]
        path = args.packets / f"{args.run}-{n:02d}.json"
        path.write_text(json.dumps(packet, indent=2, ensure_ascii=False) + "\n")
        paths.append(path)
    total = sum(len(p) for p in todo.values())
    print(f"{total} phrases of {len(todo)} concepts need judging (run {args.run!r})")
    for path in paths:
        print(f"  {path}")
    return 0


# --- ingest ----------------------------------------------------------------------------------


def asked_pairs(packets: Path, labels: dict[Pair, Row]) -> dict[Pair, Pair]:
    """Every (concept, phrase) a packet asks or a label already holds -> its spelling there."""
    out: dict[Pair, Pair] = {key: (r["concept"], r["phrase"]) for key, r in labels.items()}
    for path in sorted(packets.glob("*.json")):
        for entry in json.loads(path.read_text()):
            for phrase in entry["phrases"]:
                out.setdefault((norm(entry["concept"]), norm(phrase)), (entry["concept"], phrase))
    return out


def check_record(i: int, rec: Any, asked: dict[Pair, Pair]) -> Pair:
    """One answer record checked strictly; returns its normalised pair."""
    where = f"record {i}"
    if not isinstance(rec, dict):
        raise QualityError(f"{where}: not an object: {rec!r}")
    where = f"record {i} ({rec.get('concept')!r} / {rec.get('phrase')!r})"
    extra = set(rec) - {"concept", "phrase", "label", "reason"}
    if extra:
        raise QualityError(f"{where}: unknown field(s) {sorted(extra)}")
    for field in ("concept", "phrase", "reason"):
        if not isinstance(rec.get(field), str) or not rec[field].strip():
            raise QualityError(f"{where}: missing or empty {field!r}")
    if rec.get("label") not in LABEL_NAMES:
        raise QualityError(f"{where}: label {rec.get('label')!r} is not one of H, E, I")
    key = (norm(rec["concept"]), norm(rec["phrase"]))
    if key not in asked:
        raise QualityError(f"{where}: this concept/phrase pair was not asked in any packet")
    return key


def read_answers(path: Path) -> list[Any]:
    try:
        answers = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise QualityError(f"{path}: cannot read answers: {exc}") from exc
    if not isinstance(answers, list):
        raise QualityError(f"{path}: expected a JSON list of records")
    return answers


def cmd_ingest(args: argparse.Namespace) -> int:
    labels = load_labels(args.labels)
    asked = asked_pairs(args.packets, labels)
    seen: dict[Pair, int] = {}
    new: list[Row] = []
    skipped = 0
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for i, rec in enumerate(read_answers(args.file)):
        key = check_record(i, rec, asked)
        if key in seen:
            raise QualityError(
                f"record {i} ({rec['concept']!r} / {rec['phrase']!r}): repeats record {seen[key]}"
            )
        seen[key] = i
        if key in labels:
            skipped += 1
            continue
        concept, phrase = asked[key]
        reason = rec["reason"].strip()
        new.append({"concept": concept, "phrase": phrase, "label": rec["label"], "reason": reason})
    for row in new:
        row.update(judge=args.judge, judged_at=now)
    args.labels.parent.mkdir(parents=True, exist_ok=True)
    with args.labels.open("a") as f:  # written only once every record has passed
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in new)
    print(f"ingested {len(new)} labels into {args.labels} (judge {args.judge!r})")
    print(f"skipped {skipped} already labelled (labels are never overwritten)")
    return 0


# --- report ----------------------------------------------------------------------------------


def figures(per_positive: Sequence[Sequence[str | None]]) -> Figures:
    """Headline figures of labels grouped per positive (None = not labelled yet)."""
    flat = [lab for labs in per_positive for lab in labs]
    judged = [lab for lab in flat if lab is not None]
    hard = [sum(lab == "H" for lab in labs) for labs in per_positive]
    n_pos = len(per_positive)
    zero = sum(h == 0 for h in hard)
    out: Figures = {
        "positives": n_pos,
        "returned": len(flat),
        "unlabelled": len(flat) - len(judged),
    }
    for name in LABEL_NAMES:
        out[f"share_{name}"] = judged.count(name) / len(judged) if judged else None
    out["mean_H"] = float(statistics.mean(hard)) if hard else None
    out["median_H"] = float(statistics.median(hard)) if hard else None
    out["zero_H"] = zero
    out["zero_H_frac"] = zero / n_pos if n_pos else None
    out["mean_returned"] = len(flat) / n_pos if n_pos else None
    return out


def labels_of(
    rows: Sequence[Row], labels: dict[Pair, Row], keep: Callable[[Row], bool] | None = None
) -> list[list[str | None]]:
    """Per positive, the label of each returned negative that ``keep(negative)`` accepts."""
    out: list[list[str | None]] = []
    for row in rows:
        concept = norm(row["concept"])
        labs: list[str | None] = []
        for neg in row["negatives"]:
            if keep is None or keep(neg):
                hit = labels.get((concept, norm(neg["phrase"])))
                labs.append(hit["label"] if hit else None)
        out.append(labs)
    return out


def slices(rows: Sequence[Row], field: str) -> list[str]:
    """Group, miner or kind names present in ``rows`` (groups in their fixed order)."""
    if field == "group":
        return [g for g in GROUPS if any(r["group"] == g for r in rows)]
    values = {v for r in rows for n in r["negatives"] for v in _as_list(n.get(field))}
    return sorted(values)


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [] if value is None else [value]


def has(field: str, value: str) -> Callable[[Row], bool]:
    """A negative filter: ``value`` is the negative's ``field`` or one of its values."""
    return lambda neg: value in _as_list(neg.get(field))


def report_figures(rows: Sequence[Row], labels: dict[Pair, Row]) -> Figures:
    """Overall figures and the same per group, per miner (each proposer counts) and per kind."""
    out: Figures = {"overall": figures(labels_of(rows, labels))}
    out["group"] = {
        g: figures(labels_of([r for r in rows if r["group"] == g], labels))
        for g in slices(rows, "group")
    }
    out["miner"] = {
        m: figures(labels_of(rows, labels, has("sources", m))) for m in slices(rows, "sources")
    }
    out["kind"] = {
        k: figures(labels_of(rows, labels, has("kind", k))) for k in slices(rows, "kind")
    }
    return out


def miner_trouble(rows: Sequence[Row]) -> dict[str, dict[str, int]]:
    """Per miner, how many concepts it did not answer with status ok (by status)."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        for name, status in row["miners"].items():
            if status != "ok":
                out.setdefault(name, {}).setdefault(status, 0)
                out[name][status] += 1
    return out


COLUMNS = [  # (heading, key, format)
    ("pos", "positives", "{:d}"),
    ("returned", "returned", "{:d}"),
    ("unlab", "unlabelled", "{:d}"),
    ("H%", "share_H", "{:.1%}"),
    ("E%", "share_E", "{:.1%}"),
    ("I%", "share_I", "{:.1%}"),
    ("mean H", "mean_H", "{:.2f}"),
    ("med H", "median_H", "{:.1f}"),
    ("zero H", "zero_H", "{:d}"),
    ("zero H%", "zero_H_frac", "{:.1%}"),
    ("ret/pos", "mean_returned", "{:.1f}"),
]


def cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def aligned(rows: Sequence[Sequence[str]], rule: bool = True) -> list[str]:
    """Rows of cells as text: first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def table(title: str, rows: dict[str, Figures]) -> list[str]:
    """An aligned plain-text table: one line per slice, one column per figure."""
    head = [title, *(h for h, _, _ in COLUMNS)]
    body = [[name, *(cell(f[key], fmt) for _, key, fmt in COLUMNS)] for name, f in rows.items()]
    return aligned([head, *body])


def print_report(name: str, split: str, figs: Figures, trouble: dict[str, dict[str, int]]) -> None:
    total = figs["overall"]
    judged = total["returned"] - total["unlabelled"]
    print(f"run {name!r}  split {split}  positives {total['positives']}", end="")
    print(f"  embedder {figs['embedder']}  k {figs['k']}")
    print(f"coverage: {judged}/{total['returned']} returned phrases labelled")
    if total["unlabelled"]:
        print(f"INCOMPLETE: {total['unlabelled']} unlabelled (figures are not final; H is a floor)")
    print("shares are over labelled negatives; per-positive figures count labelled H only\n")
    for title, rows in (
        ("overall", {"all": total}),
        ("group", figs["group"]),
        ("miner", figs["miner"]),
        ("kind", figs["kind"]),
    ):
        print("\n".join(table(title, rows)), end="\n\n")
    for miner, counts in sorted(trouble.items()):
        print(f"miner {miner}: not ok on " + ", ".join(f"{n} ({s})" for s, n in counts.items()))


def run_meta(name: str) -> Row:
    path = run_path(name).with_suffix(".meta.json")
    return json.loads(path.read_text()) if path.exists() else {}


def cmd_report(args: argparse.Namespace) -> int:
    rows = in_split(load_run(args.run), args.split)
    figs = report_figures(rows, load_labels(args.labels))
    unlab = figs["overall"]["unlabelled"]
    meta = run_meta(args.run)
    figs |= {"run": args.run, "split": args.split, "complete": unlab == 0}
    figs |= {"embedder": meta.get("embedder"), "k": meta.get("k")}
    if args.json:
        print(json.dumps(figs, indent=2))
    else:
        print_report(args.run, args.split, figs, miner_trouble(rows))
    return 0


# --- compare ---------------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    labels = load_labels(args.labels)
    base = figures(labels_of(in_split(load_run(args.base), args.split), labels))
    new = figures(labels_of(in_split(load_run(args.new), args.split), labels))
    print(f"split {args.split}: {args.base!r} -> {args.new!r}")
    out = [("figure", args.base, args.new, "change")]
    for heading, key, fmt in COLUMNS:
        before, after = base[key], new[key]
        signed = fmt.replace("{:", "{:+")
        delta = "-" if before is None or after is None else signed.format(after - before)
        out.append((heading, cell(before, fmt), cell(after, fmt), delta))
    print("\n".join(aligned(out)))
    for name, figs in ((args.base, base), (args.new, new)):
        if figs["unlabelled"]:
            print(f"INCOMPLETE: {figs['unlabelled']} unlabelled in {name!r}")
    return 0


# --- command line ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", type=Path, default=LABELS, help="label store (JSON lines)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="mine every concept and write runs/NAME.jsonl")
    r.add_argument("--name", required=True)
    r.add_argument("--k", type=int, default=30)
    r.add_argument("--split", choices=("all", *SPLITS), default="all")
    r.add_argument("--concepts", type=Path, default=CONCEPTS)
    r.add_argument("--force", action="store_true", help="replace an existing run file")
    pe = sub.add_parser("pending", help="write judge packets of the unlabelled phrases of a run")
    pe.add_argument("--run", required=True)
    pe.add_argument("--packet-size", type=int, default=8, help="concepts per packet")
    pe.add_argument("--packets", type=Path, default=PACKETS)
    i = sub.add_parser("ingest", help="validate a judge's answer file and append its labels")
    i.add_argument("file", type=Path)
    i.add_argument("--judge", default="unknown")
    i.add_argument("--packets", type=Path, default=PACKETS)
    rep = sub.add_parser("report", help="figures of the labelled negatives of a run")
    rep.add_argument("--run", required=True)
    rep.add_argument("--split", choices=("heldout", "tune", "all"), default="heldout")
    rep.add_argument("--json", action="store_true")
    c = sub.add_parser("compare", help="headline figures of two runs, before -> after")
    c.add_argument("--base", required=True)
    c.add_argument("--new", required=True)
    c.add_argument("--split", choices=("heldout", "tune", "all"), default="heldout")
    for sp in (r, pe, i, rep, c):  # --labels is accepted before or after the sub-command
        sp.add_argument("--labels", type=Path, default=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "pending": cmd_pending,
        "ingest": cmd_ingest,
        "report": cmd_report,
        "compare": cmd_compare,
    }
    try:
        return commands[args.cmd](args)
    except QualityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
