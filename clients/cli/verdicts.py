"""``hardneg verdicts``: export the stored verdicts as features-ready JSONL, show acceptance
rates, and refit the ranking's calibration from them.

Reads the same store as the service (``HARDNEG_VERDICT_REDIS_URL`` or the SQLite file
``HARDNEG_VERDICT_STORE_PATH``), or a running service with ``--url``.

``refit`` splits the judged verdicts (``unsure`` left out) into a training and a held-out part by
item (the same item never lands in both), writes both as JSONL, and hands them to the ranking's
calibration through :data:`REFIT_ENTRY` (documented in docs/annotation.md). When the build has
no calibrated ranking yet it says so and exits 3: nothing is fitted or faked.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

verdicts_app = typer.Typer(
    help="Human verdicts: export, acceptance rates, refit.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

# The calibration's refit hook: ``refit(train, heldout, settings) -> dict`` (see the docs).
REFIT_ENTRY = ("hardneg.service.calibration", "refit_from_verdicts")
PENDING = 3  # exit status: the rows are ready, the ranking model to refit is not in this build


async def rows(url: str | None, since: int = 0) -> AsyncIterator[dict[str, Any]]:
    """Export rows from a service (``url``) or from the store this process is configured for."""
    if url:
        import httpx

        async with (
            httpx.AsyncClient(timeout=120) as http,
            http.stream(
                "GET", f"{url.rstrip('/')}/v1/verdicts/export", params={"since": since}
            ) as resp,
        ):
            if resp.status_code != 200:
                raise RuntimeError(f"{url}: {resp.status_code} {(await resp.aread())[:300]!r}")
            async for line in resp.aiter_lines():
                if line.strip():
                    yield json.loads(line)
        return
    from hardneg.service.settings import Settings
    from hardneg.service.verdicts.stats import export_lines
    from hardneg.service.verdicts.store import open_verdict_store

    store = open_verdict_store(Settings())
    try:
        async for chunk in export_lines(store, since):
            for raw in chunk.splitlines():
                yield json.loads(raw)
    finally:
        await store.aclose()


def held_out(item_id: str, share: float) -> bool:
    """A stable split by item: the same item is always on the same side."""
    digest = hashlib.sha256(item_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@verdicts_app.command("export")
def export_command(
    path: Annotated[Path | None, typer.Argument(help="JSONL file (default: stdout)")] = None,
    url: Annotated[str | None, typer.Option(help="A running hardneg service")] = None,
    since: Annotated[int, typer.Option(help="Only verdicts after this seq")] = 0,
) -> None:
    """Every verdict as one JSON line: positive, phrase, verdict, label, sources, kind, item."""

    async def run() -> int:
        n = 0
        sink = path.open("w", encoding="utf-8") if path else sys.stdout
        try:
            async for row in rows(url, since):
                sink.write(json.dumps(row) + "\n")
                n += 1
        finally:
            if path:
                sink.close()
        return n

    try:
        n = asyncio.run(run())
    except Exception as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    err.print(f"{n} verdicts exported")


@verdicts_app.command("stats")
def stats_command(
    url: Annotated[str | None, typer.Option(help="A running hardneg service")] = None,
) -> None:
    """Acceptance rates (absent / judged) overall, per miner and per kind."""
    from hardneg.service.verdicts.stats import acceptance_report
    from hardneg.service.verdicts.store import VerdictStats

    async def run() -> Any:
        stats = VerdictStats()
        async for row in rows(url):
            v = row["verdict"]
            stats.by_verdict[v] = stats.by_verdict.get(v, 0) + 1
            for m in row["sources"]:
                per = stats.by_miner.setdefault(m, {})
                per[v] = per.get(v, 0) + 1
            per = stats.by_kind.setdefault(row["kind"] or "unknown", {})
            per[v] = per.get(v, 0) + 1
        return acceptance_report(stats)

    try:
        report = asyncio.run(run())
    except Exception as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    out.print_json(report.model_dump_json())


@verdicts_app.command("refit")
def refit_command(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the split JSONL goes")] = Path(
        ".hardneg/refit"
    ),
    held_out_share: Annotated[float, typer.Option("--held-out", min=0.05, max=0.5)] = 0.2,
    url: Annotated[str | None, typer.Option(help="A running hardneg service")] = None,
) -> None:
    """Refit the ranking's calibration from the stored verdicts; report the change on the
    held-out verdicts."""

    async def collect() -> list[dict[str, Any]]:
        return [r async for r in rows(url) if r["label"] is not None]

    try:
        judged = asyncio.run(collect())
    except Exception as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    train = [r for r in judged if not held_out(r["item_id"], held_out_share)]
    heldout = [r for r in judged if held_out(r["item_id"], held_out_share)]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("heldout", heldout)):
        (out_dir / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    out.print(f"{len(train)} training and {len(heldout)} held-out verdicts in {out_dir}")
    module, attr = REFIT_ENTRY
    try:
        refit = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        err.print(
            f"pending: this build has no calibrated ranking to refit ({module}.{attr} is"
            " missing); the verdicts are split and ready for it"
        )
        raise typer.Exit(PENDING) from None
    from hardneg.service.settings import Settings

    report = refit(train, heldout, Settings())
    out.print_json(json.dumps(report))
