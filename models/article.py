"""The knowledge base: solution articles, their versions, passages, embeddings and examples.

An article's every change is an `ArticleVersion`; the published version is split into
passages that are embedded and indexed. `KnowledgeState.version` increases with every change
that affects search, so each matching process knows when to reload its in-memory index.
Editors change these rows through `deskmail.knowledge_base`; matching processes read them in
`deskmail.matching`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class ArticleStatus(StrEnum):
    """Editorial state of an article."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Audience(StrEnum):
    """Who may see an article."""

    PUBLIC = "public"  # requesters too (acknowledgements, status page)
    INTERNAL = "internal"  # agents only


class Article(Base):
    """A documented standard solution; its text lives in versions."""

    __tablename__ = "article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    audience: Mapped[Audience] = mapped_column(String(20), default=Audience.PUBLIC)
    status: Mapped[ArticleStatus] = mapped_column(String(20), default=ArticleStatus.DRAFT)
    current_version: Mapped[int] = mapped_column(default=1)
    published_version: Mapped[int | None] = mapped_column(default=None)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    # Who saved the latest version (the author of each version is on the version).
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)

    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", order_by="ArticleVersion.number", cascade="all, delete-orphan"
    )


class ArticleVersion(Base):
    """One saved state of an article, with who saved it and when."""

    __tablename__ = "article_version"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    problem: Mapped[str] = mapped_column(Text, default="")
    solution: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    tags: Mapped[list[str]] = mapped_column(default=list)
    audience: Mapped[Audience] = mapped_column(String(20), default=Audience.PUBLIC)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    # Who saved it as the audit trail names them (an e-mail address, or "cli"/"system").
    created_by: Mapped[str] = mapped_column(String(320), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="versions")


class ArticleAttachment(Base):
    """A file (e.g. a screenshot) attached to an article, stored as a blob."""

    __tablename__ = "article_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Passage(Base):
    """A searchable piece of a published article version.

    `text` is what is embedded and indexed (title and heading included), `snippet` the
    article's own words shown as the reason for a suggestion. `content_sha256` is the
    embedding cache key of `text` under the model `model` (`knowledge.embeddings.content_key`),
    so the vector is the `Embedding` row with that key and model.
    """

    __tablename__ = "passage"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    version_number: Mapped[int]
    ordinal: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    snippet: Mapped[str] = mapped_column(Text, default="")
    is_title: Mapped[bool] = mapped_column(default=False)
    model: Mapped[str] = mapped_column(String(200), default="")
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)


class Embedding(Base):
    """A cached sentence embedding, keyed by the text's hash and the model's name."""

    __tablename__ = "embedding"

    content_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    dim: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, L2-normalised
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArticleExample(Base):
    """A past ticket an article solved (positive) or did not solve (negative).

    The vector is the `Embedding` row with `content_sha256` and `model` (the ticket's text was
    embedded when the suggestion was made); the suggestion whose outcome made the example is
    kept so that a changed verdict replaces it.
    """

    __tablename__ = "article_example"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None)
    suggestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggestion.id"), default=None, index=True
    )
    text: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200), default="")
    positive: Mapped[bool]
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeState(Base):
    """A single row whose version rises with every change that affects search."""

    __tablename__ = "knowledge_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
