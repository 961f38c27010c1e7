"""``hardneg batch`` and ``hardneg export``: whole datasets in, files trainers read out.

Every failure the user can fix (bad input, unreachable service, bad options) is one red line and
exit code 2, never a traceback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

out = Console()
err = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Items per second over the last few updates."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f} items/s" if task.speed else "-- items/s")


def _bar() -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn("mining"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("mining", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def _fail(exc: BaseException) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def batch(
    source: Annotated[
        Path, typer.Argument(help="JSONL items, COCO/LVIS or SA-Co .json, or a .txt of concepts")
    ],
    output: Annotated[Path, typer.Argument(help="JSON Lines of answers (appended; resumable)")],
    k: Annotated[
        int | None, typer.Option("--k", "-k", min=1, max=200, help="default HARDNEG_DEFAULT_K")
    ] = None,
    miners: Annotated[list[str] | None, typer.Option("--miners", "-m")] = None,
    chunk: Annotated[int, typer.Option(min=1, max=1000, help="Items per request")] = 256,
    url: Annotated[str | None, typer.Option(help="Call a running service instead")] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="HARDNEG_CLIENT_API_KEY", help="API key (with --url)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute every item")] = False,
    engine: Annotated[
        str, typer.Option(help="local, or ray (Ray Data on the cluster RAY_ADDRESS names)")
    ] = "local",
    actors: Annotated[int, typer.Option(min=1, help="Ray actors (each loads the models once)")] = 1,
) -> None:
    """Regenerate negatives for a whole dataset; a rerun skips what is done with the same
    options and versions, and recomputes (replacing) what was made otherwise."""
    from hardneg.clients.cli.batch import run_batch
    from hardneg.miners.types import MineOptions

    opts = [m.strip() for raw in miners or () for m in raw.split(",") if m.strip()] or None
    bar, update = _bar()
    try:
        with bar:
            report = asyncio.run(
                run_batch(
                    source,
                    output,
                    MineOptions(k=k, miners=opts),
                    url=url,
                    chunk=chunk,
                    progress=update,
                    api_key=api_key,
                    force=force,
                    engine=engine,
                    actors=actors,
                )
            )
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # input, service, options: one line, not a traceback
        raise _fail(exc) from None
    if report.stale_options:
        out.print(f"{report.stale_options} records were made with other options: recomputed")
    if report.stale_versions:
        out.print(f"{report.stale_versions} records were made with older versions: recomputed")
    out.print(
        f"{report.written} items written to {output} ({report.skipped} already there, "
        f"{report.degraded} degraded, {report.notes} with nothing to mine) of {report.total}"
    )


def export(
    fmt: Annotated[str, typer.Argument(help="saco, owlvit, lvis, jsonl or parquet")],
    records: Annotated[Path, typer.Argument(help="JSON Lines written by hardneg batch")],
    output: Annotated[Path, typer.Argument(help="File to write")],
    dataset: Annotated[
        Path | None,
        typer.Option(help="The batch's COCO/LVIS input (saco: keeps its boxes; lvis: needed)"),
    ] = None,
) -> None:
    """Write mined negatives in a format a trainer reads (docs/exports.md)."""
    from hardneg.clients.exports import export as run_export

    try:
        n = run_export(fmt, records, output, dataset)
    except Exception as exc:
        raise _fail(exc) from None
    what = "negative category ids added" if fmt == "lvis" else "rows written"
    out.print(f"{n} {what}: {output} ({fmt})")
