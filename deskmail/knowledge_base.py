"""Knowledge editors' use cases: articles, their versions, attachments and what suggestions
achieved. Shared by `deskmail kb ...` and the web UI (DESIGN.md, One mail, step 5: "People").

Every function takes the caller's `Session` (the caller commits) and writes an audit `Event`
naming who made the change. Every save is a new `ArticleVersion`; nothing is overwritten, and
restoring an old version saves a copy of it as the newest. A published article is searchable:
publishing (and editing or restoring a published article) splits its text into passages
(`knowledge.passages`), embeds them through the process's `EmbeddingStore` and raises the
knowledge base's version, so that every matching process reloads (`deskmail.matching`).

Outcomes of suggestions (accepted or rejected by an agent, "solved" by the requester, the
ticket reopened) are recorded per suggestion; they make each article's solve rate and become
examples the matcher learns from.

Bulk work (import, export, the starter knowledge base, reindexing) lives in
`deskmail.knowledge_transfer`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from hashlib import sha256
from importlib.resources import files
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from deskmail.matching import EmbeddingStore, bump_knowledge_version, passage_config
from deskmail.suggest import ticket_query_text
from deskmail.ticket_actions import Actor
from intake.recording import store_blob
from knowledge.documents import Document, Section
from knowledge.kb_io import (
    MAX_SLUG_CHARS,
    ArticleDocument,
    KnowledgeFileError,
    slug_from_title,
    write_markdown,
)
from knowledge.passages import split_document
from models import (
    Article,
    ArticleAttachment,
    ArticleExample,
    ArticleStatus,
    ArticleVersion,
    Audience,
    Blob,
    Category,
    Direction,
    Event,
    Message,
    Passage,
    Person,
    Suggestion,
    SuggestionOutcome,
    Ticket,
    utcnow,
)
from models.errors import DeskmailError
from models.suggestion import SuggestionRun

# Screenshots and small documents; a database row is not a file server.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_ARTICLE = 50
MAX_NOTE_CHARS = 500
# Text taken from a ticket into a draft: enough for any real problem report.
MAX_PREFILL_CHARS = 8000
# An example's text as the matcher reads a ticket (MatcherConfig.max_query_chars).
MAX_EXAMPLE_CHARS = 20_000
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_TICKET_TAG = re.compile(r"\[#\d+\]\s*")

# Verdicts that say the article helped, and those that say it did not.
HELPED: frozenset[SuggestionOutcome] = frozenset(
    {SuggestionOutcome.ACCEPTED, SuggestionOutcome.SOLVED}
)
NOT_HELPED: frozenset[SuggestionOutcome] = frozenset(
    {SuggestionOutcome.REJECTED, SuggestionOutcome.REOPENED}
)


class KnowledgeBaseError(DeskmailError):
    """An editor's use case was refused; the message says why (safe to show)."""


class ArticleNotFoundError(KnowledgeBaseError):
    """No article has this slug (or id)."""


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleDraft:
    """The editable content of an article: what an editor types into the form.

    `slug` may stay empty on creation (it is derived from the title). Tags are normalised
    (lower case, single spaces, duplicates dropped) when the draft is saved.
    """

    title: str
    problem: str
    solution: str
    category: str | None = None
    tags: tuple[str, ...] = ()
    audience: Audience = Audience.PUBLIC
    slug: str = ""


@dataclass(frozen=True)
class ArticleStats:
    """What suggestions of an article achieved."""

    suggested: int = 0
    accepted: int = 0
    solved: int = 0
    rejected: int = 0
    reopened: int = 0

    @property
    def helped(self) -> int:
        """Accepted by an agent or "solved" by the requester (the article's use count)."""
        return self.accepted + self.solved

    @property
    def judged(self) -> int:
        return self.helped + self.rejected + self.reopened

    @property
    def solve_rate(self) -> float | None:
        """Share of judged suggestions that helped; None before any verdict."""
        return self.helped / self.judged if self.judged else None

    def as_json(self) -> dict[str, Any]:
        return {
            "suggested": self.suggested,
            "accepted": self.accepted,
            "solved": self.solved,
            "rejected": self.rejected,
            "reopened": self.reopened,
            "used": self.helped,
            "solve_rate": self.solve_rate,
        }


@dataclass(frozen=True)
class ArticleSummary:
    """One line of the article list."""

    id: int
    slug: str
    title: str
    category: str | None
    audience: Audience
    status: ArticleStatus
    current_version: int
    published_version: int | None
    updated_at: datetime
    stats: ArticleStats

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "title": self.title,
            "category": self.category,
            "audience": str(self.audience),
            "status": str(self.status),
            "current_version": self.current_version,
            "published_version": self.published_version,
            "updated": self.updated_at.isoformat(),
            "stats": self.stats.as_json(),
        }


@dataclass(frozen=True)
class VersionView:
    """One saved version of an article."""

    number: int
    title: str
    problem: str
    solution: str
    category: str | None
    tags: tuple[str, ...]
    audience: Audience
    created_by: str
    note: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "problem": self.problem,
            "solution": self.solution,
            "category": self.category,
            "tags": list(self.tags),
            "audience": str(self.audience),
            "created_by": self.created_by,
            "note": self.note,
            "created": self.created_at.isoformat(),
        }

    def draft(self, slug: str) -> ArticleDraft:
        return ArticleDraft(
            self.title,
            self.problem,
            self.solution,
            self.category,
            self.tags,
            self.audience,
            slug,
        )


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_by: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "created_by": self.created_by,
            "created": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ArticleDetail:
    """An article with every version (oldest first), its attachments and its passages."""

    summary: ArticleSummary
    current: VersionView
    versions: tuple[VersionView, ...]
    attachments: tuple[AttachmentView, ...] = ()
    passages: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            **self.summary.as_json(),
            "current": self.current.as_json(),
            "versions": [
                {k: v for k, v in version.as_json().items() if k not in ("problem", "solution")}
                for version in self.versions
            ],
            "attachments": [attachment.as_json() for attachment in self.attachments],
            "passages": list(self.passages),
        }


# --- helpers ------------------------------------------------------------------------------


def _event(session: Session, kind: str, actor: Actor, article: Article, **data: Any) -> None:
    session.add(
        Event(
            ticket_id=None,
            kind=kind,
            actor=actor.email,
            data={"article": article.id, "slug": article.slug, **data},
        )
    )


def _person_id(session: Session, actor: Actor) -> int | None:
    if actor.person_id is not None:
        return actor.person_id
    if "@" not in actor.email:
        return None
    return session.execute(
        select(Person.id).where(Person.email == actor.email.lower())
    ).scalar_one_or_none()


def _clean_text(text: str) -> str:
    """Newlines normalised, control characters (other than tab and newline) and Unicode line
    separators dropped, blank lines at both ends trimmed: what the article format accepts."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        char
        for char in text
        if char in "\n\t" or unicodedata.category(char) not in {"Cc", "Cs", "Zl", "Zp"}
    )
    lines = kept.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines).rstrip()


def _normal_tags(tags: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = " ".join(tag.replace(",", " ").split()).lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def category_keys(session: Session) -> frozenset[str]:
    """The category keys articles may use: the stored tree, or the packaged default tree
    while none is stored yet."""
    stored = frozenset(session.execute(select(Category.key)).scalars())
    if stored:
        return stored
    import tomllib  # noqa: PLC0415 - only before the tree is stored

    tree = tomllib.loads(
        (files("deskmail.defaults") / "categories.toml").read_text(encoding="utf-8")
    )
    keys: set[str] = set()
    for category in tree.get("category", []):
        keys.add(str(category["key"]))
        keys.update(str(sub["key"]) for sub in category.get("sub", []))
    return frozenset(keys)


def _document(draft: ArticleDraft, status: ArticleStatus) -> ArticleDocument:
    """The draft as a checked `ArticleDocument`: one set of rules for files and forms."""
    try:
        document = ArticleDocument(
            slug=draft.slug,
            title=draft.title.strip(),
            problem=_clean_text(draft.problem),
            solution=_clean_text(draft.solution),
            category=draft.category or None,
            tags=_normal_tags(draft.tags),
            audience=Audience(draft.audience),
            status=status,
        )
        # Every stored article can be exported: refuse text that a file cannot carry.
        write_markdown(document)
    except KnowledgeFileError as exc:
        raise KnowledgeBaseError(exc.problem) from None
    except ValueError as exc:
        raise KnowledgeBaseError(str(exc)) from None
    return document


def _checked(
    session: Session,
    draft: ArticleDraft | ArticleDocument,
    status: ArticleStatus,
    categories: frozenset[str] | None = None,
) -> ArticleDocument:
    """The checked document of a draft; an `ArticleDocument` from `knowledge.kb_io` is checked
    already (its readers keep the round-trip invariant), so only its category is looked up."""
    document = draft if isinstance(draft, ArticleDocument) else _document(draft, status)
    keys = categories if categories is not None else category_keys(session)
    if document.category is not None and document.category not in keys:
        raise KnowledgeBaseError(f"unknown category {document.category!r}")
    return document


def unique_slug(session: Session, title: str) -> str:
    """A free slug derived from `title` (``-2``, ``-3``... when taken)."""
    base = slug_from_title(title) or "article"
    base = base[: MAX_SLUG_CHARS - 6].rstrip("-")
    taken = set(
        session.execute(
            select(Article.slug).where((Article.slug == base) | Article.slug.like(f"{base}-%"))
        ).scalars()
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def find_article(session: Session, slug: str) -> Article:
    """The article with this slug."""
    article = session.execute(select(Article).where(Article.slug == slug)).scalar_one_or_none()
    if article is None:
        raise ArticleNotFoundError(f"no article {slug!r}")
    return article


def _version(session: Session, article: Article, number: int | None = None) -> ArticleVersion:
    wanted = article.current_version if number is None else number
    found = session.execute(
        select(ArticleVersion).where(
            ArticleVersion.article_id == article.id, ArticleVersion.number == wanted
        )
    ).scalar_one_or_none()
    if found is None:
        raise KnowledgeBaseError(f"article {article.slug!r} has no version {wanted}")
    return found


def _version_view(version: ArticleVersion) -> VersionView:
    return VersionView(
        number=version.number,
        title=version.title,
        problem=version.problem,
        solution=version.solution,
        category=version.category,
        tags=tuple(version.tags or ()),
        audience=Audience(version.audience),
        created_by=version.created_by,
        note=version.note,
        created_at=version.created_at,
    )


def _same_content(version: ArticleVersion, document: ArticleDocument) -> bool:
    return (
        version.title == document.title
        and version.problem == document.problem
        and version.solution == document.solution
        and version.category == document.category
        and tuple(version.tags or ()) == document.tags
        and Audience(version.audience) == document.audience
    )


def _add_version(
    session: Session, article: Article, document: ArticleDocument, actor: Actor, note: str
) -> ArticleVersion:
    number = (
        session.execute(
            select(func.max(ArticleVersion.number)).where(ArticleVersion.article_id == article.id)
        ).scalar_one_or_none()
        or 0
    ) + 1
    version = ArticleVersion(
        article_id=article.id,
        number=number,
        title=document.title,
        problem=document.problem,
        solution=document.solution,
        category=document.category,
        tags=list(document.tags),
        audience=document.audience,
        editor_id=_person_id(session, actor),
        created_by=actor.email[:320],
        note=note.strip()[:MAX_NOTE_CHARS],
        created_at=utcnow(),
    )
    session.add(version)
    article.current_version = number
    article.title = document.title
    article.category = document.category
    article.audience = document.audience
    article.editor_id = version.editor_id
    article.updated_at = utcnow()
    session.flush()
    return version


# --- indexing -----------------------------------------------------------------------------


def article_document(
    article_id: int,
    title: str,
    *,
    problem: str,
    solution: str,
    category: str | None,
    audience: Audience | str,
) -> Document:
    """What the matcher indexes of an article: the title, then Problem and Solution as
    sections (their headings are repeated in each passage, see `knowledge.passages`)."""
    sections = tuple(
        Section(text, heading)
        for heading, text in (("Problem", problem), ("Solution", solution))
        if text.strip()
    )
    return Document(str(article_id), title, sections, category=category, audience=str(audience))


def version_document(article_id: int, version: ArticleVersion) -> Document:
    """`article_document` of a stored version."""
    return article_document(
        article_id,
        version.title,
        problem=version.problem,
        solution=version.solution,
        category=version.category,
        audience=version.audience,
    )


def passage_texts(store: EmbeddingStore, document: Document) -> list[str]:
    """The texts that indexing `document` embeds (to embed them ahead of a transaction)."""
    return [p.text for p in split_document(document, passage_config(), store.count_tokens)]


def index_article(session: Session, store: EmbeddingStore, article: Article) -> int:
    """Replace the article's passages with those of its published version; returns how many.

    Vectors come from the store (cached by content; the model runs only for new text) and are
    written in the caller's transaction together with the passages.
    """
    session.execute(delete(Passage).where(Passage.article_id == article.id))
    if article.status != ArticleStatus.PUBLISHED or article.published_version is None:
        return 0
    version = _version(session, article, article.published_version)
    passages = split_document(
        version_document(article.id, version), passage_config(), store.count_tokens
    )
    if not passages:
        return 0
    store.vectors([p.text for p in passages], session=session)
    session.add_all(
        Passage(
            article_id=article.id,
            version_number=version.number,
            ordinal=passage.ordinal,
            text=passage.text,
            snippet=passage.snippet,
            is_title=passage.is_title,
            model=store.model_key,
            content_sha256=store.key(passage.text),
        )
        for passage in passages
    )
    session.flush()
    return len(passages)


def _unindex(session: Session, article: Article) -> None:
    session.execute(delete(Passage).where(Passage.article_id == article.id))


# --- editors' use cases -------------------------------------------------------------------


def create_article(
    session: Session,
    draft: ArticleDraft | ArticleDocument,
    *,
    actor: Actor,
    note: str = "",
    categories: frozenset[str] | None = None,
) -> Article:
    """A new draft article (version 1). Publish it to make it searchable.

    `categories` (the tree's keys) may be passed by bulk callers to look them up once.
    """
    slug = draft.slug.strip() or unique_slug(session, draft.title)
    if slug != draft.slug:
        draft = replace(draft, slug=slug)
    document = _checked(session, draft, ArticleStatus.DRAFT, categories)
    if session.execute(select(Article.id).where(Article.slug == slug)).first():
        raise KnowledgeBaseError(f"an article {slug!r} exists already")
    person = _person_id(session, actor)
    article = Article(
        slug=slug,
        title=document.title,
        category=document.category,
        audience=document.audience,
        status=ArticleStatus.DRAFT,
        current_version=0,
        author_id=person,
        editor_id=person,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(article)
    session.flush()
    _add_version(session, article, document, actor, note or "created")
    _event(session, "article_created", actor, article, version=1)
    return article


def edit_article(
    session: Session,
    store: EmbeddingStore | None,
    slug: str,
    draft: ArticleDraft | ArticleDocument,
    *,
    actor: Actor,
    note: str = "",
    categories: frozenset[str] | None = None,
) -> ArticleVersion:
    """Save new content as the next version; returns it (or the current one if unchanged).

    Editing a published article publishes the new text at once (it is re-split and
    re-embedded, and the old passages are gone); that needs `store`. A draft stays a draft.
    The slug does not change (links and imports refer to it).
    """
    article = find_article(session, slug)
    if draft.slug != article.slug:
        draft = replace(draft, slug=article.slug)
    document = _checked(session, draft, ArticleStatus(article.status), categories)
    current = _version(session, article)
    if _same_content(current, document):
        return current
    published = article.status == ArticleStatus.PUBLISHED
    if published and store is None:
        raise KnowledgeBaseError("editing a published article needs the embedding store")
    version = _add_version(session, article, document, actor, note or "edited")
    data: dict[str, Any] = {"version": version.number}
    if published:
        assert store is not None
        article.published_version = version.number
        data["passages"] = index_article(session, store, article)
        data["knowledge_version"] = bump_knowledge_version(session)
    _event(session, "article_edited", actor, article, **data)
    return version


def publish_article(session: Session, store: EmbeddingStore, slug: str, *, actor: Actor) -> Article:
    """Publish the current version: it becomes searchable in every process."""
    article = find_article(session, slug)
    # Every saved version passed the article checks, so it can be published as it is.
    version = _version(session, article)
    if (
        article.status == ArticleStatus.PUBLISHED
        and article.published_version == article.current_version
    ):
        return article
    article.status = ArticleStatus.PUBLISHED
    article.published_version = version.number
    article.published_at = utcnow()
    article.updated_at = utcnow()
    passages = index_article(session, store, article)
    stamp = bump_knowledge_version(session)
    _event(
        session,
        "article_published",
        actor,
        article,
        version=version.number,
        passages=passages,
        knowledge_version=stamp,
    )
    return article


def archive_article(session: Session, slug: str, *, actor: Actor) -> Article:
    """Take the article out of search (its versions stay; publish brings it back)."""
    article = find_article(session, slug)
    if article.status == ArticleStatus.ARCHIVED:
        return article
    was_published = article.status == ArticleStatus.PUBLISHED
    article.status = ArticleStatus.ARCHIVED
    article.updated_at = utcnow()
    _unindex(session, article)
    data: dict[str, Any] = {"version": article.current_version}
    if was_published:
        data["knowledge_version"] = bump_knowledge_version(session)
    _event(session, "article_archived", actor, article, **data)
    return article


def unpublish_article(session: Session, slug: str, *, actor: Actor) -> Article:
    """Back to draft: out of search, editable, not archived."""
    article = find_article(session, slug)
    if article.status == ArticleStatus.DRAFT:
        return article
    was_published = article.status == ArticleStatus.PUBLISHED
    article.status = ArticleStatus.DRAFT
    article.updated_at = utcnow()
    _unindex(session, article)
    data: dict[str, Any] = {"version": article.current_version}
    if was_published:
        data["knowledge_version"] = bump_knowledge_version(session)
    _event(session, "article_unpublished", actor, article, **data)
    return article


def restore_version(
    session: Session,
    store: EmbeddingStore | None,
    slug: str,
    number: int,
    *,
    actor: Actor,
) -> ArticleVersion:
    """Save a copy of version `number` as the newest version (nothing is rewritten).

    A published article serves the restored text at once (re-embedded; needs `store`).
    """
    article = find_article(session, slug)
    old = _version(session, article, number)
    draft = _version_view(old).draft(article.slug)
    document = _checked(session, draft, ArticleStatus(article.status))
    published = article.status == ArticleStatus.PUBLISHED
    if published and store is None:
        raise KnowledgeBaseError("restoring a published article needs the embedding store")
    version = _add_version(session, article, document, actor, f"restored version {number}")
    data: dict[str, Any] = {"version": version.number, "restored": number}
    if published:
        assert store is not None
        article.published_version = version.number
        data["passages"] = index_article(session, store, article)
        data["knowledge_version"] = bump_knowledge_version(session)
    _event(session, "article_restored", actor, article, **data)
    return version


def article_stats(session: Session, article_ids: Sequence[int]) -> dict[int, ArticleStats]:
    """Suggestions and their outcomes per article."""
    counts: dict[int, dict[str, int]] = {article_id: {} for article_id in article_ids}
    if not article_ids:
        return {}
    rows = session.execute(
        select(Suggestion.article_id, Suggestion.outcome, func.count())
        .where(Suggestion.article_id.in_(list(article_ids)))
        .group_by(Suggestion.article_id, Suggestion.outcome)
    )
    for article_id, outcome, count in rows:
        counts[article_id][str(outcome)] = int(count)
    return {
        article_id: ArticleStats(
            suggested=sum(found.values()),
            accepted=found.get(SuggestionOutcome.ACCEPTED, 0),
            solved=found.get(SuggestionOutcome.SOLVED, 0),
            rejected=found.get(SuggestionOutcome.REJECTED, 0),
            reopened=found.get(SuggestionOutcome.REOPENED, 0),
        )
        for article_id, found in counts.items()
    }


def _summary(article: Article, stats: ArticleStats) -> ArticleSummary:
    return ArticleSummary(
        id=article.id,
        slug=article.slug,
        title=article.title,
        category=article.category,
        audience=Audience(article.audience),
        status=ArticleStatus(article.status),
        current_version=article.current_version,
        published_version=article.published_version,
        updated_at=article.updated_at,
        stats=stats,
    )


def list_articles(
    session: Session,
    *,
    status: ArticleStatus | None = None,
    category: str | None = None,
    audience: Audience | None = None,
    text: str | None = None,
    limit: int = 1000,
) -> list[ArticleSummary]:
    """Articles by title, with their solve rates; filters narrow the list (`category`
    includes subcategories, `text` matches title or slug)."""
    query = select(Article).order_by(Article.title, Article.id).limit(limit)
    if status is not None:
        query = query.where(Article.status == status)
    if audience is not None:
        query = query.where(Article.audience == audience)
    if category:
        query = query.where((Article.category == category) | Article.category.like(f"{category}/%"))
    if text:
        # The editor's text is matched literally: LIKE's wildcards are escaped.
        needle = text.strip().lower()[:200]
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", needle) + "%"
        query = query.where(
            func.lower(Article.title).like(pattern, escape="\\")
            | func.lower(Article.slug).like(pattern, escape="\\")
        )
    articles = list(session.execute(query).scalars())
    stats = article_stats(session, [article.id for article in articles])
    return [_summary(article, stats.get(article.id, ArticleStats())) for article in articles]


def get_article(session: Session, slug: str) -> ArticleDetail:
    """The article with all its versions, attachments and current passages."""
    article = find_article(session, slug)
    versions = tuple(
        _version_view(version)
        for version in session.execute(
            select(ArticleVersion)
            .where(ArticleVersion.article_id == article.id)
            .order_by(ArticleVersion.number)
        ).scalars()
    )
    current = next(v for v in versions if v.number == article.current_version)
    attachments = tuple(
        AttachmentView(
            row.id,
            row.filename,
            row.content_type,
            row.size,
            row.blob_sha256,
            row.created_by,
            row.created_at,
        )
        for row in session.execute(
            select(ArticleAttachment)
            .where(ArticleAttachment.article_id == article.id)
            .order_by(ArticleAttachment.id)
        ).scalars()
    )
    passages = tuple(
        session.execute(
            select(Passage.snippet)
            .where(Passage.article_id == article.id)
            .order_by(Passage.ordinal)
        ).scalars()
    )
    stats = article_stats(session, [article.id]).get(article.id, ArticleStats())
    return ArticleDetail(_summary(article, stats), current, versions, attachments, passages)


def _version_lines(version: VersionView) -> list[str]:
    return [
        f"title: {version.title}",
        f"category: {version.category or ''}",
        f"audience: {version.audience}",
        f"tags: {', '.join(version.tags)}",
        "",
        "## Problem",
        "",
        *version.problem.split("\n"),
        "",
        "## Solution",
        "",
        *version.solution.split("\n"),
    ]


def diff_versions(session: Session, slug: str, old: int, new: int) -> str:
    """A unified diff between two versions (fields and both sections); "" when equal."""
    article = find_article(session, slug)
    before = _version_view(_version(session, article, old))
    after = _version_view(_version(session, article, new))
    return "\n".join(
        difflib.unified_diff(
            _version_lines(before),
            _version_lines(after),
            fromfile=f"{slug} version {old}",
            tofile=f"{slug} version {new}",
            lineterm="",
        )
    )


# --- attachments --------------------------------------------------------------------------


def _clean_filename(filename: str) -> str:
    # Metadata only, never a path: keep the last path part, drop control characters.
    name = re.split(r"[\\/]", filename)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:255] or "attachment"


def add_attachment(
    session: Session,
    slug: str,
    *,
    filename: str,
    content_type: str,
    data: bytes,
    actor: Actor,
) -> ArticleAttachment:
    """Attach a file (a screenshot) to the article; the bytes are stored once by SHA-256."""
    article = find_article(session, slug)
    if not data:
        raise KnowledgeBaseError("the file is empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise KnowledgeBaseError(f"files may have at most {MAX_ATTACHMENT_BYTES // 2**20} MiB")
    count = session.execute(
        select(func.count()).where(ArticleAttachment.article_id == article.id)
    ).scalar_one()
    if count >= MAX_ATTACHMENTS_PER_ARTICLE:
        raise KnowledgeBaseError(f"an article may have at most {MAX_ATTACHMENTS_PER_ARTICLE} files")
    kind = content_type.strip().lower()
    if not _CONTENT_TYPE.match(kind):
        kind = "application/octet-stream"
    digest = sha256(data).hexdigest()
    store_blob(session, digest, data)
    attachment = ArticleAttachment(
        article_id=article.id,
        blob_sha256=digest,
        filename=_clean_filename(filename),
        content_type=kind,
        size=len(data),
        created_by=actor.email[:320],
        created_at=utcnow(),
    )
    session.add(attachment)
    session.flush()
    _event(
        session,
        "article_attachment_added",
        actor,
        article,
        attachment=attachment.id,
        filename=attachment.filename,
        sha256=digest,
    )
    return attachment


def attachment_data(session: Session, attachment_id: int) -> tuple[ArticleAttachment, bytes]:
    """An attachment and its bytes (for download)."""
    attachment = session.get(ArticleAttachment, attachment_id)
    if attachment is None:
        raise KnowledgeBaseError(f"no attachment {attachment_id}")
    blob = session.get(Blob, attachment.blob_sha256)
    if blob is None:  # pragma: no cover - the foreign key keeps the blob
        raise KnowledgeBaseError(f"attachment {attachment_id} has no data")
    return attachment, blob.data


def remove_attachment(session: Session, attachment_id: int, *, actor: Actor) -> None:
    """Detach a file (the blob stays: other messages or articles may share it)."""
    attachment = session.get(ArticleAttachment, attachment_id)
    if attachment is None:
        raise KnowledgeBaseError(f"no attachment {attachment_id}")
    article = session.get(Article, attachment.article_id)
    assert article is not None
    session.delete(attachment)
    _event(
        session,
        "article_attachment_removed",
        actor,
        article,
        attachment=attachment_id,
        filename=attachment.filename,
    )


# --- articles from tickets ----------------------------------------------------------------


def _clean_subject(subject: str) -> str:
    text = _TICKET_TAG.sub("", subject)
    text = _SUBJECT_PREFIX.sub("", text)
    return " ".join(text.split())[:200].strip()


def draft_from_ticket(session: Session, number: int) -> ArticleDraft:
    """A draft prefilled from a resolved ticket (not saved): the problem is the requester's
    first message, the solution the ticket's resolution (or the agent's last reply).

    The audience is internal until an editor has reviewed the text: it was written by and
    for one person and may name people or systems.
    """
    ticket = session.get(Ticket, number)
    if ticket is None:
        raise KnowledgeBaseError(f"no ticket #{number}")
    first = session.execute(
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.INBOUND)
        .order_by(Message.id)
        .limit(1)
    ).scalar_one_or_none()
    problem = _clean_text((first.new_text or first.text) if first else "")[:MAX_PREFILL_CHARS]
    solution = _clean_text(ticket.resolution or "")
    if not solution:
        reply = session.execute(
            select(Message)
            .where(
                Message.ticket_id == ticket.id,
                Message.direction == Direction.OUTBOUND,
                Message.author_id.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if reply is not None:
            solution = _clean_text(reply.new_text or reply.text)
    if not solution:
        raise KnowledgeBaseError(
            f"ticket #{number} has no resolution or agent reply to learn from yet"
        )
    title = _clean_subject(ticket.subject) or f"Ticket {number}"
    keys = category_keys(session)
    category = next(
        (key for key in (ticket.subcategory, ticket.category) if key and key in keys), None
    )
    return ArticleDraft(
        title=title,
        problem=problem,
        solution=solution[:MAX_PREFILL_CHARS].rstrip(),
        category=category,
        tags=(),
        audience=Audience.INTERNAL,
        slug=unique_slug(session, title),
    )


def create_article_from_ticket(session: Session, number: int, *, actor: Actor) -> Article:
    """Save `draft_from_ticket` as a new draft article, linked in both audit trails."""
    draft = draft_from_ticket(session, number)
    article = create_article(session, draft, actor=actor, note=f"from ticket #{number}")
    session.add(
        Event(
            ticket_id=number,
            kind="article_drafted",
            actor=actor.email,
            data={"article": article.id, "slug": article.slug},
        )
    )
    return article


# --- outcomes -----------------------------------------------------------------------------


def record_outcome(
    session: Session,
    suggestion_id: int,
    outcome: SuggestionOutcome | str,
    actor: Actor | str,
) -> Suggestion:
    """Record what a suggestion achieved and let the matcher learn from it.

    Accepted (an agent resolved the ticket with it) and solved (the requester said so) make
    the ticket a positive example of the article; rejected and reopened a negative one. A
    changed verdict replaces the example of the earlier one. The example reuses the vector
    stored when the suggestion was made, so no model is needed here.
    """
    who = actor if isinstance(actor, Actor) else Actor(actor)
    verdict = SuggestionOutcome(outcome)
    if verdict is SuggestionOutcome.PENDING:
        raise KnowledgeBaseError("an outcome is accepted, rejected, solved or reopened")
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise KnowledgeBaseError(f"no suggestion {suggestion_id}")
    previous = SuggestionOutcome(suggestion.outcome)
    if previous is verdict:
        return suggestion
    suggestion.outcome = verdict
    suggestion.outcome_at = utcnow()
    suggestion.outcome_by = who.email[:320]
    article = session.get(Article, suggestion.article_id)
    session.add(
        Event(
            ticket_id=suggestion.ticket_id,
            kind="suggestion_outcome",
            actor=who.email,
            data={
                "suggestion": suggestion.id,
                "article": suggestion.article_id,
                "slug": article.slug if article else None,
                "outcome": str(verdict),
                "previous": str(previous),
            },
        )
    )
    session.execute(delete(ArticleExample).where(ArticleExample.suggestion_id == suggestion.id))
    ticket = session.get(Ticket, suggestion.ticket_id)
    assert ticket is not None
    text = ticket_query_text(session, ticket)[:MAX_EXAMPLE_CHARS]
    run = session.get(SuggestionRun, suggestion.run_id) if suggestion.run_id else None
    session.add(
        ArticleExample(
            article_id=suggestion.article_id,
            ticket_id=ticket.id,
            suggestion_id=suggestion.id,
            text=text,
            # The vector stored when the suggestion was made; without one the matcher embeds
            # the text when it loads.
            content_sha256=run.query_key if run else "",
            model=run.model if run else "",
            positive=verdict in HELPED,
            created_by=who.email[:320],
            created_at=utcnow(),
        )
    )
    bump_knowledge_version(session)
    return suggestion
