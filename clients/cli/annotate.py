"""``hardneg annotate``: negatives into annotation tools.

``push --project N`` mines negatives for every task of a Label Studio project and posts them
through its API: the options into the task's data (with each negative's provenance) and the
pre-annotation as a prediction. Label Studio's ``/predict`` gives up after about 90 s, so whole
projects go this way. It resumes: a task that already has a hardneg prediction is skipped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from hardneg.clients.cli.backends import Backend
    from hardneg.clients.labelstudio import LabelStudioAPI
    from hardneg.service.labelstudio.config import Control

annotate_app = typer.Typer(
    help="Negatives into annotation tools (Label Studio).", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

TAXONOMY_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Header value="Hard negatives for: $positive"/>
  <Taxonomy name="negatives" toName="image" value="$negatives" leafsOnly="true"
            showFullPath="true" placeholder="negatives: pick a verdict for each"/>
</View>"""
CHOICES_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Header value="Untick every negative you can see in the image: $positive"/>
  <Choices name="negatives" toName="image" choice="multiple" value="$negatives"/>
</View>"""


@dataclass
class PushReport:
    total: int = 0
    pushed: int = 0
    skipped: int = 0  # already had a hardneg prediction
    unreadable: int = 0  # no positive in the task data
    model_version: str = ""


def _done(task: dict[str, Any], control: Control) -> bool:
    from hardneg.service.labelstudio.config import PROVENANCE_FIELD

    versions = [str(p.get("model_version") or "") for p in task.get("predictions") or []]
    versions.append(str(task.get("predictions_model_versions") or ""))
    data = task.get("data") or {}
    has_options = control.options_field is None or bool(data.get(control.options_field))
    pushed = any(v.startswith("hardneg:") or ",hardneg:" in v for v in versions)
    return pushed and has_options and PROVENANCE_FIELD in data


async def _push_page(
    api: LabelStudioAPI,
    backend: Backend,
    control: Control,
    tasks: list[dict[str, Any]],
    k: int | None,
    report: PushReport,
) -> None:
    from hardneg.miners.types import NegativesRequest
    from hardneg.service.labelstudio.config import (
        PROVENANCE_FIELD,
        item_of,
        options_for,
        pre_annotation,
        provenance,
    )

    readable = []
    for task in tasks:
        try:
            readable.append((task, item_of(task)))
        except ValueError as exc:
            err.print(f"[yellow]skipped:[/yellow] {exc}")
            report.unreadable += 1
    if not readable:
        return
    resp = await backend.negatives(NegativesRequest(items=[i for _, i in readable], k=k))
    report.model_version = f"hardneg:{resp.embedder}"
    for (task, _), result in zip(readable, resp.items, strict=True):
        negs = result.negatives
        if control.options_field is not None:
            data = {**task["data"], control.options_field: options_for(control, negs)}
            await api.set_task_data(task["id"], {**data, PROVENANCE_FIELD: provenance(negs)})
        score = max((n.score for n in negs), default=0.0)
        await api.create_prediction(
            task["id"], pre_annotation(control, negs), round(score, 4), report.model_version
        )
        report.pushed += 1


async def push(
    api: LabelStudioAPI,
    backend: Backend,
    project_id: int,
    control_name: str,
    k: int | None = None,
    force: bool = False,
    progress: Any = None,
) -> PushReport:
    """Push every task of the project not pushed yet (all with ``force``)."""
    from hardneg.service.labelstudio.config import find_control

    project = await api.project(project_id)
    control = find_control(str(project.get("label_config") or ""), control_name)
    report = PushReport()
    async for tasks, total in api.tasks(project_id):
        report.total = total
        todo = [t for t in tasks if force or not _done(t, control)]
        report.skipped += len(tasks) - len(todo)
        await _push_page(api, backend, control, todo, k, report)
        if progress is not None:
            progress(report.pushed + report.skipped + report.unreadable, total)
    return report


@annotate_app.command("push")
def push_command(
    project: Annotated[int, typer.Option("--project", help="Label Studio project id")],
    ls_url: Annotated[str | None, typer.Option(help="Label Studio URL (HARDNEG_LS_URL)")] = None,
    token: Annotated[
        str | None, typer.Option(help="Access or legacy token (HARDNEG_LS_TOKEN)")
    ] = None,
    url: Annotated[str | None, typer.Option(help="A running hardneg service")] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", min=1, max=200)] = None,
    force: Annotated[bool, typer.Option(help="Push tasks that have a prediction too")] = False,
) -> None:
    """Mine negatives for every task and post them as predictions (resumable)."""
    from hardneg.clients.cli.app import _progress
    from hardneg.clients.cli.backends import open_backend
    from hardneg.clients.labelstudio import LabelStudioAPI
    from hardneg.service.settings import Settings

    settings = Settings()
    base, key = ls_url or settings.ls_url, token or settings.ls_token
    if not base or not key:
        err.print(
            "[red]error:[/red] give --ls-url and --token (or HARDNEG_LS_URL, HARDNEG_LS_TOKEN)"
        )
        raise typer.Exit(2)

    async def run() -> PushReport:
        bar, update = _progress("pushing tasks")
        api = LabelStudioAPI(base, key)
        backend = await open_backend(url)
        try:
            with bar:
                return await push(api, backend, project, settings.ls_control, k, force, update)
        finally:
            await backend.aclose()
            await api.aclose()

    try:
        report = asyncio.run(run())
    except Exception as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    out.print(
        f"project {project}: {report.pushed} tasks pushed, {report.skipped} already done,"
        f" {report.unreadable} without a positive, of {report.total}"
    )


@annotate_app.command("config")
def config_command(
    choices: Annotated[bool, typer.Option(help="The Choices variant (tick = absent)")] = False,
) -> None:
    """Print a Label Studio label config that hardneg fills (docs/annotation.md)."""
    print(CHOICES_CONFIG if choices else TAXONOMY_CONFIG)
