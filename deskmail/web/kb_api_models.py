"""The JSON API's shapes for the knowledge base (`/api/v1/articles...`, `/api/v1/knowledge-gaps`).

Outputs mirror the read models of `deskmail.knowledge_base` (`ArticleSummary.as_json`,
`VersionView.as_json`); inputs state the limits the article format enforces (one-line title,
category keys, tags), so the OpenAPI document says what the server accepts. The text checks
that only the format can make (for example a section heading inside the solution) answer 400.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from deskmail.web.api_models import _WS, CATEGORY_KEY, NO_NUL

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# What article text may not hold (`knowledge.kb_io`): control characters (C0 and C1) and the
# Unicode line and paragraph separators. In a title or tag nowhere; in the sections they are
# dropped on saving, so a solution needs one character that is neither these nor a space.
_NOT_IN_TEXT = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
ARTICLE_LINE = rf"^[^{_NOT_IN_TEXT}]*[^{_WS}{_NOT_IN_TEXT}][^{_NOT_IN_TEXT}]*$"
TAG = rf"^[^{_NOT_IN_TEXT}]*$"
ARTICLE_TEXT = rf"[^{_WS}{_NOT_IN_TEXT}]"
MAX_SLUG = 100
MAX_TEXT = 100_000

ArticleStatusName = Literal["draft", "published", "archived"]
AudienceName = Literal["public", "internal"]


class ArticleIn(BaseModel):
    """An article's editable content (a new article, or the next version of one)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, pattern=ARTICLE_LINE)
    problem: str = Field(default="", max_length=MAX_TEXT, pattern=NO_NUL)
    solution: str = Field(min_length=1, max_length=MAX_TEXT, pattern=ARTICLE_TEXT)
    category: str | None = Field(default=None, max_length=100, pattern=CATEGORY_KEY)
    tags: list[Annotated[str, Field(max_length=50, pattern=TAG)]] = Field(
        default_factory=list, max_length=30
    )
    audience: AudienceName = "public"
    # Only on creation (derived from the title when empty); an article's slug never changes.
    slug: str = Field(default="", max_length=MAX_SLUG, pattern=rf"^$|{SLUG}")
    note: str = Field(default="", max_length=500, pattern=TAG)


class StatsOut(BaseModel):
    """What the article's suggestions achieved."""

    suggested: int
    accepted: int
    solved: int
    rejected: int
    reopened: int
    used: int  # accepted + solved
    solve_rate: float | None


class ArticleSummaryOut(BaseModel):
    """One article of the list."""

    id: int
    slug: str
    title: str
    category: str | None
    audience: AudienceName
    status: ArticleStatusName
    current_version: int
    published_version: int | None
    updated: str
    stats: StatsOut


class VersionOut(BaseModel):
    """One saved version with its text."""

    number: int
    title: str
    problem: str
    solution: str
    category: str | None
    tags: list[str]
    audience: AudienceName
    created_by: str
    note: str
    created: str


class VersionInfoOut(BaseModel):
    """One saved version without its text."""

    number: int
    title: str
    category: str | None
    tags: list[str]
    audience: AudienceName
    created_by: str
    note: str
    created: str


class ArticleOut(ArticleSummaryOut):
    """An article: the current text, every version, the indexed passages."""

    current: VersionOut
    versions: list[VersionInfoOut]
    passages: list[str]


class DiffOut(BaseModel):
    """A unified diff between two versions ("" when they are equal)."""

    slug: str
    old: int
    new: int
    diff: str


class GapTicketOut(BaseModel):
    """A recent ticket that no article fitted."""

    number: int
    subject: str
    category: str | None
    status: str
    created: str
    fit_confidence: float | None
    best_article: str | None
    rejected: bool


class GapClusterOut(BaseModel):
    """Gaps one article could close (the first ticket is the most typical)."""

    label: str
    category: str | None
    cohesion: float | None
    tickets: list[GapTicketOut]


class GapsOut(BaseModel):
    """The knowledge gaps since `since`."""

    since: str
    threshold: float
    truncated: bool
    clusters: list[GapClusterOut]
