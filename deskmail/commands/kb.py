"""`deskmail kb ...`: the knowledge base from the command line.

Import and export article files, list and show articles, publish, archive and restore
versions, try the matcher (`kb search`) and rebuild the index (`kb reindex`). Every command
calls the editors' use cases of `deskmail.knowledge_base` and `deskmail.knowledge_transfer`
(the web UI calls the same ones); changes are recorded as made by "cli".
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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

if TYPE_CHECKING:
    from deskmail.app import App
    from deskmail.matching import KnowledgeServices
    from deskmail.ticket_actions import Actor

_STATUSES = ("draft", "published", "archived")


def _actor() -> Actor:
    from deskmail.ticket_actions import Actor  # noqa: PLC0415

    return Actor("cli")


def _services(app: App) -> KnowledgeServices:
    # Looked up at call time (not imported at module level) so that the CLI stays quick to
    # start and tests can hand in a process-wide encoder.
    from deskmail import matching  # noqa: PLC0415

    return matching.build_knowledge(app)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr for the embedding step; `update(done, total)`."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    sys.exit(1)


@click.group()
def kb() -> None:
    """Knowledge base: solution articles and the matcher."""


@kb.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_state
def kb_import(state: CliState, path: Path, as_json: bool) -> None:
    """Import articles from a folder of .md files, one .md file or a .jsonl file.

    Articles are created or updated by slug and given the status in the file; published
    ones are embedded (the first run loads the model).
    """
    from deskmail.knowledge_transfer import (  # noqa: PLC0415
        embed_documents,
        import_documents,
        read_articles,
    )

    with opened_app(state) as app:
        with app.read_sessions() as session:
            docs = read_articles(session, path)
        services = _services(app)
        with _progress("embedding", not as_json) as update:
            embed_documents(services.store, docs, update)
        with app.sessions() as session, session.begin():
            report = import_documents(
                session, services.store, docs, actor=_actor(), source=str(path)
            )
    if as_json:
        print_json(report.as_json())
        return
    console.print(
        f"{len(docs)} articles: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged; {len(report.published)} published, "
        f"{len(report.archived)} archived, {len(report.drafts)} back to draft",
        highlight=False,
    )


@kb.command("import-starter")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def kb_import_starter(state: CliState, as_json: bool) -> None:
    """Import and publish the starter articles that ship with Deskmail (updates them if
    they exist)."""
    from deskmail.knowledge_transfer import import_starter  # noqa: PLC0415

    with opened_app(state) as app:
        services = _services(app)
        with _progress("embedding", not as_json) as update:
            report = import_starter(
                app,
                services.store,
                actor=_actor(),
                progress=update,
            )
    if as_json:
        print_json(report.as_json())
        return
    console.print(
        f"starter knowledge base: {len(report.created)} created, {len(report.updated)} "
        f"updated, {len(report.published)} published",
        highlight=False,
    )


@kb.command("export")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["md", "jsonl"]), default="md", show_default=True
)
@click.option("--status", type=click.Choice(_STATUSES), default=None)
@pass_state
def kb_export(state: CliState, dest: Path, fmt: Literal["md", "jsonl"], status: str | None) -> None:
    """Write articles as .md files into the folder DEST, or as one .jsonl file DEST."""
    from deskmail.knowledge_transfer import export_documents, write_export  # noqa: PLC0415
    from models import ArticleStatus  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        docs = export_documents(session, status=ArticleStatus(status) if status else None)
    written = write_export(docs, dest, fmt)
    console.print(f"{len(docs)} articles written to {dest} ({len(written)} files)")


@kb.command("list")
@click.option("--status", type=click.Choice(_STATUSES), default=None)
@click.option("--category", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def kb_list(state: CliState, status: str | None, category: str | None, as_json: bool) -> None:
    """List articles with their solve rates."""
    from deskmail.knowledge_base import list_articles  # noqa: PLC0415
    from models import ArticleStatus  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        rows = list_articles(
            session, status=ArticleStatus(status) if status else None, category=category
        )
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    table = Table("slug", "status", "v", "audience", "category", "used", "solve rate", "title")
    for row in rows:
        rate = row.stats.solve_rate
        table.add_row(
            row.slug,
            str(row.status),
            str(row.current_version),
            str(row.audience),
            row.category or "",
            str(row.stats.helped),
            "-" if rate is None else f"{rate:.0%}",
            row.title[:60],
        )
    console.print(table)


@kb.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def kb_show(state: CliState, slug: str, as_json: bool) -> None:
    """Show an article's current version and its version history."""
    from deskmail.knowledge_base import get_article  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        detail = get_article(session, slug)
    if as_json:
        print_json(detail.as_json())
        return
    summary, current = detail.summary, detail.current
    console.print(f"[bold]{current.title}[/] ({summary.slug})", highlight=False)
    console.print(
        f"{summary.status} · version {summary.current_version} · {summary.audience} · "
        f"{summary.category or 'no category'} · tags: {', '.join(current.tags) or '-'}",
        highlight=False,
    )
    console.rule("Problem")
    console.print(current.problem, markup=False, highlight=False)
    console.rule("Solution")
    console.print(current.solution, markup=False, highlight=False)
    console.rule("Versions")
    for version in detail.versions:
        console.print(
            f"{version.number:>3}  {version.created_at:%Y-%m-%d %H:%M}  "
            f"{version.created_by or '-'}  {version.note}",
            markup=False,
            highlight=False,
        )


@kb.command("diff")
@click.argument("slug")
@click.argument("old", type=int)
@click.argument("new", type=int)
@pass_state
def kb_diff(state: CliState, slug: str, old: int, new: int) -> None:
    """Show what changed between two versions of an article."""
    from deskmail.knowledge_base import diff_versions  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        text = diff_versions(session, slug, old, new)
    click.echo(text or "no differences")


@kb.command("publish")
@click.argument("slug")
@pass_state
def kb_publish(state: CliState, slug: str) -> None:
    """Publish an article's current version (it becomes searchable)."""
    from deskmail.knowledge_base import publish_article  # noqa: PLC0415

    with opened_app(state) as app:
        services = _services(app)
        with app.sessions() as session, session.begin():
            article = publish_article(session, services.store, slug, actor=_actor())
            version = article.published_version
    console.print(f"{slug}: version {version} published")


@kb.command("archive")
@click.argument("slug")
@pass_state
def kb_archive(state: CliState, slug: str) -> None:
    """Archive an article (out of search; its versions are kept)."""
    from deskmail.knowledge_base import archive_article  # noqa: PLC0415

    with opened_app(state) as app, app.sessions() as session, session.begin():
        archive_article(session, slug, actor=_actor())
    console.print(f"{slug}: archived")


@kb.command("restore")
@click.argument("slug")
@click.argument("version", type=int)
@pass_state
def kb_restore(state: CliState, slug: str, version: int) -> None:
    """Save a copy of an old VERSION as the article's newest version."""
    from deskmail.knowledge_base import restore_version  # noqa: PLC0415

    with opened_app(state) as app:
        services = _services(app)
        with app.sessions() as session, session.begin():
            saved = restore_version(session, services.store, slug, version, actor=_actor())
            number = saved.number
    console.print(f"{slug}: version {version} restored as version {number}")


@kb.command("draft-from-ticket")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def kb_draft_from_ticket(state: CliState, number: int, as_json: bool) -> None:
    """Save a draft article prefilled from a resolved ticket."""
    from deskmail.knowledge_base import create_article_from_ticket  # noqa: PLC0415

    with opened_app(state) as app, app.sessions() as session, session.begin():
        article = create_article_from_ticket(session, number, actor=_actor())
        slug = article.slug
    if as_json:
        print_json({"slug": slug, "ticket": number})
        return
    console.print(f"draft {slug} created from ticket #{number}")


@kb.command("search")
@click.argument("text")
@click.option("--category", default=None, help="Category prior, e.g. network/vpn.")
@click.option("--category-confidence", default=1.0, show_default=True)
@click.option("-k", "--k", "k", default=5, show_default=True, help="How many articles.")
@click.option(
    "--audience",
    type=click.Choice(["all", "public"]),
    default="all",
    show_default=True,
    help="public: only what a requester may see.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def kb_search(
    state: CliState,
    text: str,
    *,
    category: str | None,
    category_confidence: float,
    k: int,
    audience: str,
    as_json: bool,
) -> None:
    """Rank the published articles for TEXT, with scores and the passages that matched."""
    from models import Audience  # noqa: PLC0415

    if k < 1:
        _fail("--k must be at least 1")
    with opened_app(state) as app:
        result = _services(app).matching.search(
            text,
            category=category,
            category_confidence=category_confidence if category else 0.0,
            k=k,
            audience=Audience.PUBLIC if audience == "public" else None,
        )
    if as_json:
        print_json(
            {
                "fit_confidence": result.fit_confidence,
                "knowledge_version": result.knowledge_version,
                "results": [
                    {
                        "rank": match.rank,
                        "slug": match.slug,
                        "title": match.title,
                        "category": match.category,
                        "audience": str(match.audience),
                        "score": match.score,
                        "confidence": match.confidence,
                        "passage": match.passage,
                        "explanation": match.explanation,
                    }
                    for match in result.matches
                ],
            }
        )
        return
    if not result.matches:
        console.print("no published article matches")
        return
    console.print(
        f"does anything fit: {result.fit_confidence:.0%} "
        f"(knowledge base version {result.knowledge_version})",
        highlight=False,
    )
    for match in result.matches:
        console.rule(
            f"{match.rank}. {match.slug} · score {match.score:.3f} · "
            f"confidence {match.confidence:.0%} · {match.audience}"
        )
        console.print(match.passage, markup=False, highlight=False)


@kb.command("reindex")
@pass_state
def kb_reindex(state: CliState) -> None:
    """Re-split and re-embed every published article (after a model change, or to repair)."""
    from deskmail.knowledge_transfer import reindex  # noqa: PLC0415

    with opened_app(state) as app:
        services = _services(app)
        with _progress("embedding", True) as update:
            report = reindex(app, services.store, update)
    console.print(
        f"{report.articles} articles, {report.passages} passages indexed "
        f"(knowledge base version {report.knowledge_version})"
    )
