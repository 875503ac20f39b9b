"""Bulk knowledge-base work: import and export of article files, the starter knowledge base
and reindexing. Used by `deskmail kb ...`, by `deskmail serve` at first start, and by the web
UI's import page.

Files are read and written by `knowledge.kb_io` (Markdown with front matter, or JSON lines);
articles are created, edited, published and archived through the editors' use cases of
`deskmail.knowledge_base`, so an import leaves the same versions and audit events as the same
edits made by hand. Embedding is the slow part: `embed_documents` embeds every passage ahead
of the transaction (each batch in a short transaction of its own), so the transaction that
writes the articles finds every vector cached and holds the database's write lock briefly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.knowledge_base import (
    KnowledgeBaseError,
    archive_article,
    article_document,
    category_keys,
    create_article,
    edit_article,
    find_article,
    index_article,
    passage_texts,
    publish_article,
    unpublish_article,
    version_document,
)
from deskmail.matching import EmbeddingStore, build_knowledge, bump_knowledge_version
from deskmail.ticket_actions import Actor
from knowledge.kb_io import (
    ArticleDocument,
    check_categories,
    read_markdown_dir,
    read_path,
    write_jsonl,
    write_markdown,
)
from models import Article, ArticleStatus, ArticleVersion, Audience, Event, Passage

log = logging.getLogger(__name__)

# Passages embedded per batch (and per short transaction) ahead of an import or reindex.
EMBED_BATCH = 64
SYSTEM = Actor("system")

Progress = Callable[[int, int], None]
"""Called with (done, total) passages as embedding advances."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did, by slug."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    published: tuple[str, ...] = ()
    archived: tuple[str, ...] = ()
    drafts: tuple[str, ...] = ()

    def as_json(self) -> dict[str, list[str]]:
        return {
            "created": list(self.created),
            "updated": list(self.updated),
            "unchanged": list(self.unchanged),
            "published": list(self.published),
            "archived": list(self.archived),
            "drafts": list(self.drafts),
        }


def read_articles(session: Session, path: Path) -> list[ArticleDocument]:
    """Article files at `path` (folder of .md, one .md, or .jsonl), categories checked
    against the help desk's tree."""
    return read_path(path, categories=category_keys(session))


def embed_documents(
    store: EmbeddingStore, docs: Sequence[ArticleDocument], progress: Progress | None = None
) -> int:
    """Embed the passages of the published documents ahead of the import; returns how many.

    Each batch is stored in a short transaction of its own: call this outside any open
    transaction. Already stored vectors cost one look-up.
    """
    texts: list[str] = []
    for position, doc in enumerate(docs):
        if doc.status is ArticleStatus.PUBLISHED:
            document = article_document(
                position,
                doc.title,
                problem=doc.problem,
                solution=doc.solution,
                category=doc.category,
                audience=doc.audience,
            )
            texts.extend(passage_texts(store, document))
    _embed(store, texts, progress)
    return len(texts)


def _embed(store: EmbeddingStore, texts: Sequence[str], progress: Progress | None) -> None:
    unique = list(dict.fromkeys(texts))
    for start in range(0, len(unique), EMBED_BATCH):
        store.vectors(unique[start : start + EMBED_BATCH])
        if progress is not None:
            progress(min(start + EMBED_BATCH, len(unique)), len(unique))
    if progress is not None and not unique:
        progress(0, 0)


def import_documents(
    session: Session,
    store: EmbeddingStore,
    docs: Sequence[ArticleDocument],
    *,
    actor: Actor,
    source: str = "",
) -> ImportReport:
    """Create or update each article by slug, then give it the file's status.

    A changed text is a new version; `published` publishes (re-embedding only what changed),
    `archived` archives, `draft` takes a published article out of search. Categories must be
    in the tree; nothing is written when one is not.
    """
    categories = category_keys(session)
    check_categories(docs, categories)
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    note = f"imported from {source}"[:500] if source else "imported"
    for doc in docs:
        existing = session.execute(
            select(Article).where(Article.slug == doc.slug)
        ).scalar_one_or_none()
        if existing is None:
            create_article(session, doc, actor=actor, note=note, categories=categories)
            created.append(doc.slug)
            continue
        before = existing.current_version
        edit_article(session, store, doc.slug, doc, actor=actor, note=note, categories=categories)
        (updated if existing.current_version != before else unchanged).append(doc.slug)
    published: list[str] = []
    archived: list[str] = []
    drafts: list[str] = []
    for doc in docs:
        article = find_article(session, doc.slug)
        if doc.status is ArticleStatus.PUBLISHED:
            if not (
                article.status == ArticleStatus.PUBLISHED
                and article.published_version == article.current_version
            ):
                publish_article(session, store, doc.slug, actor=actor)
                published.append(doc.slug)
        elif doc.status is ArticleStatus.ARCHIVED:
            if article.status != ArticleStatus.ARCHIVED:
                archive_article(session, doc.slug, actor=actor)
                archived.append(doc.slug)
        elif article.status != ArticleStatus.DRAFT:
            unpublish_article(session, doc.slug, actor=actor)
            drafts.append(doc.slug)
    report = ImportReport(
        tuple(created),
        tuple(updated),
        tuple(unchanged),
        tuple(published),
        tuple(archived),
        tuple(drafts),
    )
    session.add(
        Event(
            ticket_id=None,
            kind="articles_imported",
            actor=actor.email,
            data={"source": source[:500], **{k: len(v) for k, v in report.as_json().items()}},
        )
    )
    return report


def export_documents(
    session: Session, *, status: ArticleStatus | None = None
) -> list[ArticleDocument]:
    """Every article (or those in `status`) as file documents, current version, by slug."""
    query = select(Article, ArticleVersion).join(
        ArticleVersion,
        (ArticleVersion.article_id == Article.id)
        & (ArticleVersion.number == Article.current_version),
    )
    if status is not None:
        query = query.where(Article.status == status)
    docs: list[ArticleDocument] = []
    for article, version in session.execute(query.order_by(Article.slug)):
        docs.append(
            ArticleDocument(
                slug=article.slug,
                title=version.title,
                problem=version.problem,
                solution=version.solution,
                category=version.category,
                tags=tuple(version.tags or ()),
                audience=Audience(version.audience),
                status=ArticleStatus(article.status),
            )
        )
    return docs


def write_export(
    docs: Sequence[ArticleDocument], dest: Path, fmt: Literal["md", "jsonl"]
) -> list[Path]:
    """Write the documents: `md` as `<slug>.md` files in the folder `dest` (created),
    `jsonl` as one file `dest`. Returns the files written."""
    if fmt == "jsonl":
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(write_jsonl(docs), encoding="utf-8")
        return [dest]
    if dest.exists() and not dest.is_dir():
        raise KnowledgeBaseError(f"{dest} is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for doc in docs:
        path = dest / f"{doc.slug}.md"
        path.write_text(write_markdown(doc), encoding="utf-8")
        written.append(path)
    return written


# --- the starter knowledge base -----------------------------------------------------------


def starter_documents() -> list[ArticleDocument]:
    """The articles packaged with Deskmail (`deskmail/defaults/knowledge/*.md`)."""
    return read_markdown_dir(files("deskmail.defaults") / "knowledge")


def import_starter(
    app: App, store: EmbeddingStore, *, actor: Actor = SYSTEM, progress: Progress | None = None
) -> ImportReport:
    """Import (create or update) and publish the packaged articles, whatever is stored."""
    docs = starter_documents()
    embed_documents(store, docs, progress)
    with app.sessions() as session, session.begin():
        return import_documents(session, store, docs, actor=actor, source="starter knowledge base")


def ensure_starter_kb(app: App, store: EmbeddingStore | None = None) -> int:
    """On a help desk's first start: import and publish the starter articles if the setting
    allows and no article exists yet. Returns how many were created (0 otherwise).

    Safe when several processes start at once: the table is checked again in the writing
    transaction, and a concurrent import that won the race makes this one a no-op.
    """
    if not app.settings.knowledge.load_starter_kb:
        return 0
    with app.read_sessions() as session:
        if session.execute(select(Article.id).limit(1)).first() is not None:
            return 0
    if store is None:
        store = build_knowledge(app).store
    docs = starter_documents()
    embed_documents(store, docs)
    try:
        with app.sessions() as session, session.begin():
            if session.execute(select(Article.id).limit(1)).first() is not None:
                return 0
            report = import_documents(
                session, store, docs, actor=SYSTEM, source="starter knowledge base"
            )
    except IntegrityError:
        log.info("starter knowledge base imported by another process")
        return 0
    log.info("starter knowledge base: %s articles published", len(report.published))
    return len(report.created)


# --- reindexing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReindexReport:
    articles: int
    passages: int
    knowledge_version: int


def reindex(app: App, store: EmbeddingStore, progress: Progress | None = None) -> ReindexReport:
    """Rebuild every published article's passages and vectors (after a model or splitter
    change, or to repair); passages of unpublished articles are removed."""
    with app.read_sessions() as session:
        rows = session.execute(
            select(Article.id, ArticleVersion)
            .join(
                ArticleVersion,
                (ArticleVersion.article_id == Article.id)
                & (ArticleVersion.number == Article.published_version),
            )
            .where(Article.status == ArticleStatus.PUBLISHED)
        ).all()
        texts = [
            text
            for article_id, version in rows
            for text in passage_texts(store, version_document(article_id, version))
        ]
    _embed(store, texts, progress)
    passages = 0
    with app.sessions() as session, session.begin():
        session.execute(
            delete(Passage).where(
                Passage.article_id.not_in(
                    select(Article.id).where(Article.status == ArticleStatus.PUBLISHED)
                )
            )
        )
        for article in session.execute(
            select(Article).where(Article.status == ArticleStatus.PUBLISHED)
        ).scalars():
            passages += index_article(session, store, article)
        stamp = bump_knowledge_version(session)
        session.add(
            Event(
                ticket_id=None,
                kind="kb_reindexed",
                actor="system",
                data={"articles": len(rows), "passages": passages, "model": store.model_key},
            )
        )
    return ReindexReport(len(rows), passages, stamp)
