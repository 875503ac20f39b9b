"""`deskmail classifier ...`: train, evaluate, list and roll back the ticket classifier's models.

Each command calls the use cases of `deskmail.classifier_models` over a classification service
built for the command (the same one the pipeline's classify stage uses, so the command measures
what the workers run). Training and evaluation embed the examples first (the vectors are stored,
a second run finds them) and show a rich progress bar on stderr; `--json` prints one document.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deskmail.commands.base import (
    CliState,
    console,
    err_console,
    opened_app,
    pass_state,
    print_json,
)
from models.errors import DeskmailError

if TYPE_CHECKING:
    from classifier import TrainingProgress
    from deskmail.app import App
    from deskmail.classification import ClassificationService

ACTOR = "cli"


def classification_service(app: App) -> ClassificationService:
    """The classifier of this command, embedding through the knowledge base's store.

    `deskmail.matching.build_knowledge` is looked up at call time so that the CLI starts
    quickly and tests can hand in the session's model.
    """
    from deskmail import matching  # noqa: PLC0415
    from deskmail.classification import ClassificationService  # noqa: PLC0415

    return ClassificationService(app, matching.build_knowledge(app).store)


@contextmanager
def training_progress(enabled: bool) -> Iterator[Callable[[TrainingProgress], None] | None]:
    """A rich progress bar on stderr; one bar per step (embedding, each target's training)."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, Any] = {}
    with bar:

        def update(progress: TrainingProgress) -> None:
            task = tasks.get(progress.step)
            if task is None:
                task = tasks[progress.step] = bar.add_task(progress.step, total=None)
            bar.update(task, completed=progress.completed, total=max(progress.total, 1))

        yield update


def _fail(exc: Exception) -> None:
    err_console.print(f"[red]error:[/] {exc}", highlight=False)
    sys.exit(1)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@click.group()
def classifier() -> None:
    """The ticket classifier: train, evaluate, model versions, rollback."""


@classifier.command("train")
@click.option(
    "--no-promote", is_flag=True, help="Store the new model without making it the active one."
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def classifier_train(state: CliState, no_promote: bool, as_json: bool) -> None:
    """Train on every labelled ticket; promote the model only if it is not worse.

    The new model and the one in use are compared on the held-out examples (a fixed share no
    model is trained on); every model is kept (`deskmail classifier versions`).
    """
    from deskmail.classifier_models import train_classifier  # noqa: PLC0415

    with opened_app(state) as app:
        service = classification_service(app)
        try:
            with training_progress(not as_json) as progress:
                result = train_classifier(
                    service, actor=ACTOR, progress=progress, promote=not no_promote
                )
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(result.as_json())
        return
    console.print(
        f"model {result.version}: trained on {result.n_training} of {result.n_examples} "
        f"examples, compared on {result.n_heldout} held out with {result.compared_with}",
        highlight=False,
    )
    candidate = result.candidate_report.targets
    current = result.current_report.targets if result.current_report else {}
    table = Table("target", "new accuracy", "new macro-F1", "in use accuracy", "in use macro-F1")
    for target, metrics in candidate.items():
        before = current.get(target)
        table.add_row(
            str(target),
            _pct(metrics.accuracy),
            _pct(metrics.macro_f1),
            _pct(before.accuracy if before else None),
            _pct(before.macro_f1 if before else None),
        )
    console.print(table)
    verdict = "[green]promoted[/]" if result.promoted else "[yellow]not promoted[/]"
    console.print(verdict)
    for reason in result.reasons:
        console.print(f"  {reason}", highlight=False, markup=False)


@classifier.command("evaluate")
@click.option("--version", "version", default=None, help="A stored model (default: in use).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def classifier_evaluate(state: CliState, version: str | None, as_json: bool) -> None:
    """Accuracy, macro-F1, per-class precision/recall and coverage on the held-out examples."""
    from deskmail.classifier_models import evaluate_classifier  # noqa: PLC0415

    with opened_app(state) as app:
        service = classification_service(app)
        try:
            with training_progress(not as_json) as progress:
                result = evaluate_classifier(service, version=version, progress=progress)
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(result.as_json())
        return
    report = result.report
    console.print(
        f"model {result.version} on {result.n_heldout} held-out examples "
        f"(coverage at precision {report.target_precision:.2f})",
        highlight=False,
    )
    summary = Table("target", "n", "accuracy", "macro-F1", "coverage at precision")
    for target, metrics in report.targets.items():
        summary.add_row(
            str(target),
            str(metrics.n),
            _pct(metrics.accuracy),
            _pct(metrics.macro_f1),
            _pct(metrics.coverage_at_target),
        )
    console.print(summary)
    for target, metrics in report.targets.items():
        classes = Table("label", "precision", "recall", "F1", "support", title=str(target))
        for row in metrics.per_class:
            classes.add_row(
                row.label, _pct(row.precision), _pct(row.recall), _pct(row.f1), str(row.support)
            )
        console.print(classes)


@classifier.command("versions")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def classifier_versions(state: CliState, as_json: bool) -> None:
    """Every stored model, newest first, with its held-out figures and status."""
    from deskmail.classifier_models import list_versions  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        versions = list_versions(session)
    if as_json:
        print_json([version.as_json() for version in versions])
        return
    if not versions:
        console.print("no trained model yet: tickets are classified zero-shot")
        return
    table = Table()
    table.add_column("version", no_wrap=True)
    for title in ("status", "trained", "examples", "category acc.", "macro-F1", "coverage"):
        table.add_column(title)
    for version in versions:
        table.add_row(
            version.version,
            version.status,
            version.trained_at[:16],
            str(version.n_examples),
            _pct(version.heldout("category", "accuracy")),
            _pct(version.heldout("category", "macro_f1")),
            _pct(version.heldout("category", "coverage_at_target")),
        )
    console.print(table)


@classifier.command("rollback")
@click.option("--to", "to_version", default=None, help="The stored model to make active.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def classifier_rollback(state: CliState, to_version: str | None, as_json: bool) -> None:
    """Go back to the model that was active before (zero-shot if there was none)."""
    from deskmail.classifier_models import rollback  # noqa: PLC0415

    with opened_app(state) as app:
        try:
            with app.sessions() as session, session.begin():
                result = rollback(session, actor=ACTOR, to_version=to_version)
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(result.as_json())
        return
    console.print(
        f"active model: {result.current or 'zero-shot'} (was {result.previous or 'zero-shot'})",
        highlight=False,
    )
