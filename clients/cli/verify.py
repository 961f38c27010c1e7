"""``hardneg verify``: detector-in-the-loop rounds (export queries, ingest predictions, stats,
human checks of phrases that fired elsewhere). Same store as the service: Redis when
``HARDNEG_REDIS_URL`` is set, else the SQLite file ``HARDNEG_VERIFY_STORE_PATH``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from hardneg.miners.verify import VerifyRound, VerifyStore

verify_app = typer.Typer(
    help="Detector-in-the-loop verification of negatives (SA-Co style rounds).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _run(work: Callable[[VerifyStore], Awaitable[T]]) -> T:
    """Open the store, run ``work`` on it, close it; any failure is one red line and exit 2."""
    from hardneg.miners.verify import open_verify_store
    from hardneg.service.settings import Settings

    async def main() -> T:
        store = open_verify_store(Settings())
        try:
            return await work(store)
        finally:
            await store.aclose()

    try:
        return asyncio.run(main())
    except Exception as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc


@verify_app.command("export")
def export(
    dataset: Annotated[Path, typer.Argument(help="COCO/LVIS JSON or JSONL with positives' boxes")],
    candidates: Annotated[Path, typer.Argument(help="JSONL of mined negatives (hardneg batch)")],
    round_name: Annotated[str, typer.Option("--round", "-r", help="Round name")],
    prefix: Annotated[Path, typer.Option("--out", "-o", help="Writes OUT.coco.json, OUT.jsonl")],
) -> None:
    """Write the (image, phrase) queries a detector should run, and register the round."""
    from hardneg.miners.verify.export import build_queries, read_dataset, write_coco, write_jsonl

    async def work(store: VerifyStore) -> Any:
        data = await asyncio.to_thread(read_dataset, dataset)
        queries = await asyncio.to_thread(build_queries, data, candidates)
        truth = {q.image_id: data[q.image_id].instances for q in queries}
        report = await store.export(round_name, queries, truth)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        write_coco(prefix.with_name(prefix.name + ".coco.json"), report.round, queries, data)
        write_jsonl(prefix.with_name(prefix.name + ".jsonl"), queries, data)
        return report

    report = _run(work)
    verb = "already exported (same queries)" if report.already_exported else "exported"
    s = report.stats
    out.print(
        f"round {s.round!r} {verb}: {s.totals.queries} queries on {s.images} images -> "
        f"{prefix}.coco.json (SA-Co layout, image_id = query id) and {prefix}.jsonl"
    )


@verify_app.command("ingest")
def ingest(
    round_name: Annotated[str, typer.Argument(help="Round name (as exported)")],
    predictions: Annotated[Path, typer.Argument(help="COCO results JSON on the round's queries")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report")] = False,
) -> None:
    """Decide fooled / ignored / fires elsewhere for every query of the round."""
    from hardneg.miners.verify import VerifyOptions
    from hardneg.service.settings import Settings

    s = Settings()
    opts = VerifyOptions(s.verify_score_threshold, s.verify_iou_threshold)
    report = _run(lambda store: store.ingest(round_name, predictions, opts))
    if as_json:
        out.print_json(report.model_dump_json())
        return
    verb = "already ingested (nothing changed)" if report.already_ingested else "ingested"
    out.print(f"round {report.round!r} {verb}: {report.stats.predictions} predictions")
    _print_rounds([report.stats])


@verify_app.command("stats")
def stats(
    round_name: Annotated[str | None, typer.Option("--round", "-r", help="Only this round")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Per round: queries and fooled / ignored / elsewhere, in total, per miner and per kind."""

    async def work(store: VerifyStore) -> list[VerifyRound]:
        return [await store.round(round_name)] if round_name else await store.rounds()

    rounds = _run(work)
    if as_json:
        out.print_json(json.dumps({"rounds": [r.model_dump() for r in rounds]}))
    elif not rounds:
        out.print("no verification rounds yet (hardneg verify export ... --round NAME)")
    else:
        _print_rounds(rounds)


@verify_app.command("held")
def held(limit: Annotated[int, typer.Option(min=1, help="At most this many")] = 100) -> None:
    """Phrases that fired away from every positive: held until someone checks the image."""
    records = _run(lambda store: store.held(limit))
    table = Table(title="held for a human check (hardneg verify check IMAGE PHRASE absent|present)")
    for col in ("image", "phrase", "rounds", "best score"):
        table.add_column(col)
    for r in records:
        best = max((a.score for a in r.rounds.values()), default=0.0)
        table.add_row(r.image_id, r.phrase, ",".join(r.rounds), f"{best:.2f}")
    out.print(table)


@verify_app.command("check")
def check(
    image_id: Annotated[str, typer.Argument(help="Image id")],
    phrase: Annotated[str, typer.Argument(help="The phrase checked on that image")],
    verdict: Annotated[str, typer.Argument(help="absent (a hard negative) or present")],
) -> None:
    """Record a human's answer for a phrase on an image."""
    if verdict not in ("absent", "present"):
        err.print("[red]error:[/red] verdict must be 'absent' or 'present'")
        raise typer.Exit(2)
    rec = _run(lambda store: store.check(image_id, phrase, verdict))  # type: ignore[arg-type]
    out.print(f"{rec.phrase!r} on image {rec.image_id!r}: checked {rec.human}")


def _print_rounds(rounds: list[VerifyRound]) -> None:
    table = Table(title="verification rounds")
    for col in ("round", "by", "queries", "fooled", "ignored", "elsewhere"):
        table.add_column(col)
    for r in rounds:
        rows = [("all", r.totals)]
        rows += [(f"miner {k}", v) for k, v in sorted(r.per_miner.items())]
        rows += [(f"kind {k}", v) for k, v in sorted(r.per_kind.items())]
        for i, (by, t) in enumerate(rows):
            table.add_row(
                r.round if i == 0 else "",
                by,
                *map(str, (t.queries, t.fooled, t.ignored, t.elsewhere)),
            )
    out.print(table)
