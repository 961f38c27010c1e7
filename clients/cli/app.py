"""The ``hardneg`` command line: serve, mine, index build, doctor, fp, verify, annotate,
verdicts.

Heavy modules (torch, faiss, FastAPI) load inside the commands that need them, so ``hardneg
mine --url`` stays as light as the HTTP client.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hardneg.clients.cli import batch_cmd
from hardneg.clients.cli.annotate import annotate_app
from hardneg.clients.cli.fp import fp_app
from hardneg.clients.cli.verdicts import verdicts_app
from hardneg.clients.cli.verify import verify_app
from hardneg.miners.types import NegativesRequest, NegativesResponse

app = typer.Typer(
    help="hardneg: hard negatives for vision-language training data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
index_app = typer.Typer(help="Build vocabulary indexes ahead of time.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(fp_app, name="fp")
app.add_typer(verify_app, name="verify")
app.add_typer(annotate_app, name="annotate")
app.add_typer(verdicts_app, name="verdicts")
out = Console()
err = Console(stderr=True)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="INFO logs")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _progress(label: str) -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="HARDNEG_CLIENT_API_KEY",
        help="API key for a service with keys (with --url)",
    ),
]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (HARDNEG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HARDNEG_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (HARDNEG_WORKERS)")] = None,
) -> None:
    """Run the REST service (OpenAPI at /docs)."""
    import uvicorn

    from hardneg.service.settings import Settings

    s = Settings()
    uvicorn.run(
        "hardneg.service.app:app_from_env",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers or s.workers,
        log_level=s.log_level.lower(),
    )


@app.command()
def mine(
    concept: Annotated[str, typer.Argument(help="The positive concept, e.g. 'yellow school bus'")],
    present: Annotated[
        list[str] | None,
        typer.Option("--present", "-p", help="Another concept in the image (repeatable)"),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", "-x", help="A phrase never to return (repeatable)"),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option("--k", "-k", min=1, max=200, help="How many (default HARDNEG_DEFAULT_K)"),
    ] = None,
    miners: Annotated[
        list[str] | None,
        typer.Option(
            "--miners", "-m", help="Miner names (repeatable or comma-separated); default all"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON response")] = False,
    url: Annotated[str | None, typer.Option(help="Call a running service instead")] = None,
    item_id: Annotated[str, typer.Option("--id", help="Item/image id")] = "",
    api_key: ApiKeyOption = None,
) -> None:
    """Mine hard negatives for one concept (in-process, or through --url)."""
    try:
        request = _concept_request(concept, present, exclude, k, _split(miners), item_id)
        resp = asyncio.run(_mine(url, request, api_key))
    except Exception as exc:  # a clear one-line message, not a traceback
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        out.print_json(resp.model_dump_json())
    else:
        _print_table(resp)


def _concept_request(
    concept: str,
    present: list[str] | None,
    exclude: list[str] | None,
    k: int | None,
    miners: list[str] | None,
    item_id: str,
) -> NegativesRequest:
    from pydantic import ValidationError

    from hardneg.miners.types import describe_errors

    try:
        return NegativesRequest.for_concept(
            concept,
            present=present or (),
            exclude=exclude or (),
            item_id=item_id,
            k=k,
            miners=miners,
        )
    except ValidationError as exc:
        raise ValueError(describe_errors(exc.errors())) from exc


async def _mine(
    url: str | None, request: NegativesRequest, api_key: str | None = None
) -> NegativesResponse:
    from hardneg.clients.cli.backends import open_backend

    bar, update = _progress("loading miners' data")
    with bar:
        backend = await open_backend(
            url, options=request.options(), progress=update, api_key=api_key
        )
    try:
        return await backend.negatives(request)
    finally:
        await backend.aclose()


def _print_table(resp: NegativesResponse) -> None:
    item = resp.items[0]
    table = Table(
        title=f"hard negatives for {', '.join({n.for_positive for n in item.negatives})}"
        if item.negatives
        else "no negatives"
    )
    for col in ("#", "phrase", "score", "kind", "sources"):
        table.add_column(col)
    for i, n in enumerate(item.negatives, 1):
        table.add_row(str(i), n.phrase, f"{n.score:.3f}", n.kind.value, ",".join(n.sources))
    out.print(table)
    out.print(
        f"embedder: {resp.embedder}" + ("  [yellow](degraded)[/yellow]" if item.degraded else "")
    )
    for name, st in sorted(item.miners.items()):
        extra = st.error or st.note or ""
        out.print(f"  {name}: {st.status} ({st.candidates} candidates, {st.ms:.0f} ms) {extra}")


@index_app.command("build")
def index_build(
    vocab: Annotated[
        Path | None,
        typer.Option(help="JSON list or text file (one phrase a line); default LVIS+COCO"),
    ] = None,
) -> None:
    """Encode a vocabulary and store its FAISS index under HARDNEG_INDEX_DIR."""
    from hardneg.miners.base import MinerUnavailable
    from hardneg.miners.knowledge import Knowledge
    from hardneg.miners.vocabulary import (
        build_index,
        default_vocabulary,
        index_path,
        load_vocabulary_file,
    )
    from hardneg.service.settings import Settings
    from hardneg.service.similarity import load_embedder

    settings = Settings()
    try:
        vocabulary = (
            load_vocabulary_file(vocab) if vocab else default_vocabulary(Knowledge.load_default())
        )
    except MinerUnavailable as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    embedder = load_embedder(settings)
    bar, update = _progress(f"encoding {len(vocabulary.phrases)} phrases")
    with bar:
        index = build_index(vocabulary, embedder, settings.approx_index_threshold, progress=update)
    path = index_path(Path(settings.index_dir), vocabulary, embedder.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    index.save(path)
    out.print(f"indexed {index.size} phrases ({index.kind}) with {embedder.id} -> {path}")
    if vocab:
        out.print(f"use it with: HARDNEG_VOCAB_PATH={vocab}")


app.command("batch")(batch_cmd.batch)
app.command("export")(batch_cmd.export)


@app.command()
def doctor() -> None:
    """Check each component and say what is missing and how to fix it."""
    from hardneg.clients.cli.doctor import run_checks

    results = run_checks()
    table = Table(title="hardneg doctor")
    for col in ("component", "status", "detail / fix"):
        table.add_column(col)
    for name, ok, detail in results:
        table.add_row(name, "[green]ok[/green]" if ok else "[red]missing[/red]", detail)
    out.print(table)
    failed = [name for name, ok, _ in results if not ok and name in {"python packages", "embedder"}]
    if failed:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
