"""What the knowledge-base pages and API share: the process's embedding store, the editor's
form as a draft, refusals as HTTP errors and a diff cut into lines for the page.

`deskmail.web.routes_kb` holds the routes. Publishing (and editing or restoring a published
article) embeds the article's passages, which needs the process's `EmbeddingStore`: a process
that already has one (`deskmail serve` builds one for its workers, tests share one model)
hands it over with `use_knowledge(web, services)`; otherwise the first request that needs it
builds one (`deskmail.matching.build_knowledge`; the model loads on the first new text).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from fastapi import FastAPI, HTTPException
from starlette.requests import Request

from deskmail.knowledge_base import ArticleDraft, ArticleNotFoundError, KnowledgeBaseError
from deskmail.matching import EmbeddingStore, KnowledgeServices, build_knowledge
from deskmail.ticket_actions import TicketActionError, TicketNotFoundError
from deskmail.web.context import context_of
from models import Audience

_BUILD_LOCK = threading.Lock()


def use_knowledge(web: FastAPI, services: KnowledgeServices) -> None:
    """Let the web app `web` publish through `services` (the process's own)."""
    web.state.knowledge = services


def embedding_store(request: Request) -> EmbeddingStore:
    """The process's embedding store (built on first use when none was handed over)."""
    state = request.app.state
    services: KnowledgeServices | None = getattr(state, "knowledge", None)
    if services is None:
        with _BUILD_LOCK:
            services = getattr(state, "knowledge", None)
            if services is None:
                services = build_knowledge(context_of(request).app)
                state.knowledge = services
    return services.store


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the use cases' refusals into HTTP errors with their (safe) messages."""
    try:
        yield
    except (ArticleNotFoundError, TicketNotFoundError) as exc:
        raise HTTPException(404, str(exc)) from None
    except (KnowledgeBaseError, TicketActionError) as exc:
        message = str(exc)
        # A duplicate slug, or a category the tree does not (or no longer) hold: conflicts
        # with the current state, like the admins' category conflicts.
        conflict = "exists already" in message or message.startswith("unknown category")
        raise HTTPException(409 if conflict else 400, message) from None


def tags_from_text(text: str) -> tuple[str, ...]:
    """Tags typed as a comma-separated list."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class ArticleForm:
    """The editor's form as typed (shown again as typed when it is refused or previewed)."""

    title: str = ""
    problem: str = ""
    solution: str = ""
    category: str = ""
    tags: str = ""
    audience: str = Audience.PUBLIC.value
    slug: str = ""
    note: str = ""

    @classmethod
    def of(cls, draft: ArticleDraft, note: str = "") -> ArticleForm:
        return cls(
            title=draft.title,
            problem=draft.problem,
            solution=draft.solution,
            category=draft.category or "",
            tags=", ".join(draft.tags),
            audience=str(draft.audience),
            slug=draft.slug,
            note=note,
        )

    def draft(self) -> ArticleDraft:
        try:
            audience = Audience(self.audience)
        except ValueError:
            raise KnowledgeBaseError("the audience is public or internal") from None
        return ArticleDraft(
            title=self.title,
            problem=self.problem,
            solution=self.solution,
            category=self.category.strip() or None,
            tags=tags_from_text(self.tags),
            audience=audience,
            slug=self.slug.strip(),
        )


DiffKind = Literal["file", "hunk", "add", "del", "same"]


@dataclass(frozen=True)
class DiffLine:
    kind: DiffKind
    text: str


def diff_lines(diff: str) -> list[DiffLine]:
    """A unified diff as lines marked for the page (added, removed, unchanged, headers)."""
    lines: list[DiffLine] = []
    for line in diff.split("\n") if diff else []:
        if line.startswith(("---", "+++")):
            lines.append(DiffLine("file", line))
        elif line.startswith("@@"):
            lines.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            lines.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine("del", line[1:]))
        else:
            lines.append(DiffLine("same", line[1:]))
    return lines
