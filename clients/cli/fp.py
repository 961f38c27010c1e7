"""``hardneg fp``: ingest a model round's false positives, and show the rounds so far.

Uses the same store as the service: Redis when ``HARDNEG_REDIS_URL`` is set, else the SQLite
file ``HARDNEG_FP_STORE_PATH``. numpy and the store load inside the commands.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from hardneg.miners.false_positive.records import IngestReport, RoundStats

fp_app = typer.Typer(
    help="False positives of a detector, mined into hard negatives (per round).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

_COLUMNS = (
    "round",
    "ingests",
    "predictions",
    "false_positives",
    "image_level",
    "confusions",
    "unverified",
    "pairs",
    "new_pairs",
)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(2)


@fp_app.command("ingest")
def ingest(
    ground_truth: Annotated[Path, typer.Argument(help="COCO / LVIS / open-vocabulary GT JSON")],
    predictions: Annotated[Path, typer.Argument(help="COCO results JSON (list of predictions)")],
    round_name: Annotated[str, typer.Option("--round", "-r", help="Round (model version) name")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report")] = False,
) -> None:
    """Match predictions to ground truth and add the round's false positives to the table."""
    from hardneg.miners.false_positive import IngestError, MatchOptions, ingest_round, open_store
    from hardneg.service.settings import Settings

    settings = Settings()

    async def run() -> IngestReport:
        store = open_store(settings)
        try:
            return await ingest_round(
                store, round_name, ground_truth, predictions, MatchOptions.from_settings(settings)
            )
        finally:
            await store.aclose()

    try:
        report = asyncio.run(run())
    except IngestError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:  # store unreachable and the like: one clear line
        raise _fail(f"{type(exc).__name__}: {exc}") from exc
    if as_json:
        out.print_json(report.model_dump_json())
        return
    s, i = report.stats, report.ingest
    verb = "already ingested (nothing added)" if report.already_ingested else "ingested"
    out.print(
        f"round {s.round!r} {verb}: {i.predictions} predictions on {i.images} images, "
        f"{i.false_positives} false positives ({i.image_level} image-level, "
        f"{i.confusions} confusions, {i.unverified} unverified), "
        f"{i.pairs} pairs of which {i.new_pairs} new"
    )
    _print_rounds([s])


@fp_app.command("stats")
def stats(
    round_name: Annotated[str | None, typer.Option("--round", "-r", help="Only this round")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Per round: false positives, image-level vs confusions, new pairs vs earlier rounds."""
    from hardneg.miners.false_positive import open_store
    from hardneg.service.settings import Settings

    settings = Settings()

    async def run() -> tuple[list[RoundStats], str]:
        store = open_store(settings)
        try:
            return await store.rounds(), await store.version()
        finally:
            await store.aclose()

    try:
        rounds, version = asyncio.run(run())
    except Exception as exc:
        raise _fail(f"{type(exc).__name__}: {exc}") from exc
    if round_name is not None:
        rounds = [r for r in rounds if r.round == round_name]
        if not rounds:
            raise _fail(f"no round named {round_name!r}")
    if as_json:
        out.print_json(json.dumps({"rounds": [r.model_dump() for r in rounds], "version": version}))
    elif not rounds:
        out.print(
            "no false positives ingested yet (hardneg fp ingest GT.json PREDS.json --round NAME)"
        )
    else:
        _print_rounds(rounds)


def _print_rounds(rounds: list[RoundStats]) -> None:
    table = Table(title="false-positive rounds")
    for col in (*_COLUMNS, "new share"):
        table.add_column(col.replace("_", " "))
    for r in rounds:
        table.add_row(*(str(getattr(r, c)) for c in _COLUMNS), f"{r.new_pair_fraction:.0%}")
    out.print(table)
