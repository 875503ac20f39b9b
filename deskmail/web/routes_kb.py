"""The knowledge base in the web UI and the JSON API, and what requesters see of it.

Editors' pages under `/kb` (agents may read them, editors and admins change): the article list
with use counts and solve rates, an article with its indexed passages, the Markdown editor
with a server-rendered preview, drafts, publish / archive / back to draft, the version history
with a diff between any two versions and restore, "new article from ticket"
(`/kb/new?from_ticket=N`, linked from the ticket page) and the knowledge gaps
(`deskmail.knowledge_gaps`) with a "write an article for this" link per cluster.

Requesters (status link, no account) get a panel on their status page listing the public,
published articles offered on their ticket, each readable under `/status/<token>/articles/`,
and "this solved it" buttons that close the ticket as solved by them
(`deskmail.requester_solved`).

Every change goes through the use cases of `deskmail.knowledge_base`, which write the audit
events. The same use cases are in the JSON API under `/api/v1/articles` and
`/api/v1/knowledge-gaps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form, HTTPException, Path, Query
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from deskmail.db import transaction
from deskmail.knowledge_base import (
    ArticleDetail,
    ArticleDraft,
    KnowledgeBaseError,
    VersionView,
    archive_article,
    category_keys,
    create_article,
    create_article_from_ticket,
    diff_versions,
    edit_article,
    find_article,
    get_article,
    list_articles,
    publish_article,
    restore_version,
    unpublish_article,
)
from deskmail.knowledge_gaps import (
    DEFAULT_GAP_THRESHOLD,
    GapReport,
    draft_for_gap,
    find_gaps,
)
from deskmail.requester_solved import (
    offered_article,
    offered_articles,
    solved_by_requester,
)
from deskmail.ticket_actions import TicketActionError, get_ticket
from deskmail.web.api_models import ErrorOut
from deskmail.web.article_markdown import markdown_html
from deskmail.web.auth import Access, CurrentRequester, CurrentUser, Principal, RequesterView
from deskmail.web.context import Ctx
from deskmail.web.kb_api_models import (
    SLUG,
    ArticleIn,
    ArticleOut,
    ArticleSummaryOut,
    DiffOut,
    GapsOut,
    VersionOut,
)
from deskmail.web.kb_pages import ArticleForm, diff_lines, embedding_store, refusals
from deskmail.web.rendering import redirect, render
from deskmail.web.routes_status import PRIVATE_HEADERS
from deskmail.web.routes_tickets import actor_of
from deskmail.web.routing import Area, NavEntry, StatusPanel, WebExtension
from models import ArticleStatus, Audience, Event, Ticket, TicketStatus, utcnow

area = Area(name="kb", prefix="/kb")
requester_area = Area(name="kb_status", prefix="/status")
api = Area(name="knowledge", prefix="/api/v1", api=True)

Slug = Annotated[str, Path(min_length=1, max_length=100, pattern=SLUG)]
Version = Annotated[int, Path(ge=1, le=1_000_000)]
TicketNumber = Annotated[int, Path(ge=1, le=2_147_483_647)]
STATUSES = tuple(s.value for s in ArticleStatus)
AUDIENCES = tuple(a.value for a in Audience)
GAP_DAYS = (7, 30, 90, 365)
# Requesters' pages that hold a form. Under `no-referrer` (the status page's policy) browsers
# send `Origin: null` with a form's POST, which the requester guard must refuse as a foreign
# origin; `same-origin` keeps the token from other sites just the same, since the referrer
# (which carries the token) goes only to Deskmail itself (decision 0144).
FORM_PAGE_HEADERS = {**PRIVATE_HEADERS, "Referrer-Policy": "same-origin"}


def _choice(value: str, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _categories(db: Session) -> list[str]:
    return sorted(category_keys(db))


def _can_edit(user: Principal) -> bool:
    return user.can(Access.EDITOR)


# --- the article list ---------------------------------------------------------------------


@area.get("", access=Access.AGENT, name="kb_list")
def kb_list(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    status: Annotated[str, Query(max_length=20)] = "",
    category: Annotated[str, Query(max_length=100)] = "",
    audience: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Articles with their use counts and solve rates; filters by status, category, audience."""
    chosen_status = _choice(status, STATUSES)
    chosen_audience = _choice(audience, AUDIENCES)
    with ctx.app.read_sessions() as db:
        articles = list_articles(
            db,
            status=ArticleStatus(chosen_status) if chosen_status else None,
            category=category.strip() or None,
            audience=Audience(chosen_audience) if chosen_audience else None,
            text=q or None,
        )
        categories = _categories(db)
    params = {
        "status": chosen_status or "",
        "category": category,
        "audience": chosen_audience or "",
        "q": q,
    }
    return render(
        request,
        "kb_list.html",
        {
            "title": "Knowledge base",
            "articles": articles,
            "params": params,
            "statuses": STATUSES,
            "audiences": AUDIENCES,
            "categories": categories,
            "can_edit": _can_edit(user),
            "tab": "articles",
        },
    )


# --- writing ------------------------------------------------------------------------------


def _editor_page(
    request: Request,
    db: Session,
    form: ArticleForm,
    *,
    slug: str | None,
    preview: bool = False,
    error: str = "",
    from_ticket: int | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "kb_edit.html",
        {
            "title": f"Edit: {form.title}" if slug else "New article",
            "form": form,
            "slug": slug,
            "categories": _categories(db),
            "audiences": AUDIENCES,
            "preview": preview,
            "problem_html": markdown_html(form.problem) if preview else "",
            "solution_html": markdown_html(form.solution) if preview else "",
            "error": error,
            "notice": notice,
            "from_ticket": from_ticket,
            "tab": "new" if slug is None else "",
        },
        status_code=status_code,
    )


def _gap_numbers(text: str) -> list[int]:
    numbers = []
    for part in text.split(","):
        cleaned = part.strip()
        if cleaned.isdigit() and 0 < int(cleaned) < 2_147_483_648:
            numbers.append(int(cleaned))
    return numbers[:50]


@area.get("/new", access=Access.EDITOR, name="kb_new")
def kb_new(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    from_ticket: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    gap: Annotated[str, Query(max_length=600)] = "",
) -> Response:
    """The editor for a new article; prefilled from a ticket or from a knowledge gap."""
    notice = ""
    with ctx.app.read_sessions() as db:
        draft = ArticleDraft(title="", problem="", solution="")
        if from_ticket is not None:
            with refusals():
                get_ticket(db, from_ticket)
                draft = draft_for_gap(db, [from_ticket])
            notice = f"Prefilled from ticket #{from_ticket}."
        elif gap:
            numbers = _gap_numbers(gap)
            with refusals():
                draft = draft_for_gap(db, numbers)
            notice = f"Prefilled from {len(numbers)} ticket(s) without a fitting article."
        if (from_ticket is not None or gap) and not draft.solution:
            notice += " No resolution to learn from yet: please write the solution."
        return _editor_page(
            request, db, ArticleForm.of(draft), slug=None, from_ticket=from_ticket, notice=notice
        )


TitleField = Annotated[str, Form(max_length=1000)]
TextField = Annotated[str, Form(max_length=200_000)]
ShortField = Annotated[str, Form(max_length=2000)]


@area.post("/new", access=Access.EDITOR, name="kb_create")
def kb_create(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    title: TitleField = "",
    problem: TextField = "",
    solution: TextField = "",
    category: ShortField = "",
    tags: ShortField = "",
    audience: ShortField = "public",
    slug: ShortField = "",
    note: ShortField = "",
    action: ShortField = "save",
    from_ticket: Annotated[int | None, Form(ge=1, le=2_147_483_647)] = None,
) -> Response:
    """Preview the new article, or save it as a draft (version 1)."""
    form = ArticleForm(
        title=title,
        problem=problem,
        solution=solution,
        category=category,
        tags=tags,
        audience=audience,
        slug=slug,
        note=note,
    )
    if action == "preview":
        with ctx.app.read_sessions() as db:
            return _editor_page(request, db, form, slug=None, preview=True, from_ticket=from_ticket)
    try:
        with transaction(ctx.app.sessions) as db:
            draft = form.draft()
            source = f"from ticket #{from_ticket}" if from_ticket else ""
            if from_ticket is not None:
                get_ticket(db, from_ticket)
            article = create_article(db, draft, actor=actor_of(user), note=note or source)
            if from_ticket is not None:
                # The ticket's side of the audit trail, as `create_article_from_ticket` keeps it.
                db.add(
                    Event(
                        ticket_id=from_ticket,
                        kind="article_drafted",
                        actor=user.email,
                        data={"article": article.id, "slug": article.slug},
                    )
                )
            created = article.slug
    except KnowledgeBaseError as exc:
        with ctx.app.read_sessions() as db:
            return _editor_page(
                request,
                db,
                form,
                slug=None,
                preview=True,
                error=str(exc),
                from_ticket=from_ticket,
                status_code=400,
            )
    return redirect(request, f"/kb/articles/{created}", flash="Draft saved.")


# --- one article --------------------------------------------------------------------------


def _detail(ctx: Ctx, slug: str) -> ArticleDetail:
    with ctx.app.read_sessions() as db, refusals():
        return get_article(db, slug)


def _version_view(detail: ArticleDetail, number: int) -> VersionView:
    found = next((v for v in detail.versions if v.number == number), None)
    if found is None:
        raise HTTPException(404, f"article {detail.summary.slug!r} has no version {number}")
    return found


@area.get("/articles/{slug}", access=Access.AGENT, name="kb_article")
def kb_article(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> Response:
    """The article's current version, its state, use, passages and the editors' actions."""
    detail = _detail(ctx, slug)
    return render(
        request,
        "kb_article.html",
        {
            "title": detail.summary.title,
            "a": detail.summary,
            "version": detail.current,
            "detail": detail,
            "problem_html": markdown_html(detail.current.problem),
            "solution_html": markdown_html(detail.current.solution),
            "can_edit": _can_edit(user),
            "old_version": False,
        },
    )


@area.get("/articles/{slug}/edit", access=Access.EDITOR, name="kb_edit")
def kb_edit(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> Response:
    """The editor with the current version."""
    detail = _detail(ctx, slug)
    with ctx.app.read_sessions() as db:
        return _editor_page(request, db, ArticleForm.of(detail.current.draft(slug)), slug=slug)


@area.post("/articles/{slug}/edit", access=Access.EDITOR, name="kb_save")
def kb_save(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    slug: Slug,
    title: TitleField = "",
    problem: TextField = "",
    solution: TextField = "",
    category: ShortField = "",
    tags: ShortField = "",
    audience: ShortField = "public",
    note: ShortField = "",
    action: ShortField = "save",
) -> Response:
    """Preview the changes, or save them as the next version (a published article's new
    text is searchable at once)."""
    form = ArticleForm(
        title=title,
        problem=problem,
        solution=solution,
        category=category,
        tags=tags,
        audience=audience,
        note=note,
    )
    with ctx.app.read_sessions() as db, refusals():
        article = find_article(db, slug)
        published = article.status == ArticleStatus.PUBLISHED
    if action == "preview":
        with ctx.app.read_sessions() as db:
            return _editor_page(request, db, form, slug=slug, preview=True)
    store = embedding_store(request) if published else None
    try:
        with transaction(ctx.app.sessions) as db:
            before = find_article(db, slug).current_version
            version = edit_article(db, store, slug, form.draft(), actor=actor_of(user), note=note)
            changed = version.number != before
            number = version.number
    except KnowledgeBaseError as exc:
        with ctx.app.read_sessions() as db:
            return _editor_page(
                request, db, form, slug=slug, preview=True, error=str(exc), status_code=400
            )
    message = f"Saved as version {number}." if changed else "Nothing changed."
    if changed and published:
        message += " The new text is live."
    return redirect(request, f"/kb/articles/{slug}", flash=message)


@area.post("/articles/{slug}/publish", access=Access.EDITOR, name="kb_publish")
def kb_publish(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> Response:
    """Publish the current version: it is suggested from the next mail on."""
    with ctx.app.read_sessions() as db, refusals():
        find_article(db, slug)
    store = embedding_store(request)
    with transaction(ctx.app.sessions) as db, refusals():
        article = publish_article(db, store, slug, actor=actor_of(user))
        number = article.published_version
    return redirect(request, f"/kb/articles/{slug}", flash=f"Version {number} is published.")


@area.post("/articles/{slug}/archive", access=Access.EDITOR, name="kb_archive")
def kb_archive(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> Response:
    """Take the article out of search (its versions stay)."""
    with transaction(ctx.app.sessions) as db, refusals():
        archive_article(db, slug, actor=actor_of(user))
    return redirect(request, f"/kb/articles/{slug}", flash="Archived: no longer suggested.")


@area.post("/articles/{slug}/unpublish", access=Access.EDITOR, name="kb_unpublish")
def kb_unpublish(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> Response:
    """Back to draft: out of search, still editable."""
    with transaction(ctx.app.sessions) as db, refusals():
        unpublish_article(db, slug, actor=actor_of(user))
    return redirect(request, f"/kb/articles/{slug}", flash="Back to draft: no longer suggested.")


# --- versions -----------------------------------------------------------------------------


@area.get("/articles/{slug}/versions", access=Access.AGENT, name="kb_versions")
def kb_versions(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    slug: Slug,
    old: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    new: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """Every version, newest first, and the diff between two (by default the last two)."""
    detail = _detail(ctx, slug)
    current = detail.summary.current_version
    newer = new or current
    older = old or max(1, newer - 1)
    _version_view(detail, newer)
    _version_view(detail, older)
    with ctx.app.read_sessions() as db, refusals():
        diff = diff_versions(db, slug, older, newer) if older != newer else ""
    return render(
        request,
        "kb_versions.html",
        {
            "title": f"History: {detail.summary.title}",
            "a": detail.summary,
            "versions": list(reversed(detail.versions)),
            "old": older,
            "new": newer,
            "diff": diff_lines(diff),
            "can_edit": _can_edit(user),
        },
    )


@area.get("/articles/{slug}/versions/{version}", access=Access.AGENT, name="kb_version")
def kb_version(
    request: Request, ctx: Ctx, user: CurrentUser, slug: Slug, version: Version
) -> Response:
    """One saved version as it reads."""
    detail = _detail(ctx, slug)
    shown = _version_view(detail, version)
    return render(
        request,
        "kb_article.html",
        {
            "title": f"{shown.title} (version {version})",
            "a": detail.summary,
            "version": shown,
            "detail": detail,
            "problem_html": markdown_html(shown.problem),
            "solution_html": markdown_html(shown.solution),
            "can_edit": _can_edit(user),
            "old_version": version != detail.summary.current_version,
        },
    )


@area.post("/articles/{slug}/versions/{version}/restore", access=Access.EDITOR, name="kb_restore")
def kb_restore(
    request: Request, ctx: Ctx, user: CurrentUser, slug: Slug, version: Version
) -> Response:
    """Save a copy of an old version as the newest one."""
    with ctx.app.read_sessions() as db, refusals():
        published = find_article(db, slug).status == ArticleStatus.PUBLISHED
    store = embedding_store(request) if published else None
    with transaction(ctx.app.sessions) as db, refusals():
        restored = restore_version(db, store, slug, version, actor=actor_of(user))
        number = restored.number
    return redirect(
        request,
        f"/kb/articles/{slug}",
        flash=f"Version {version} restored as version {number}.",
    )


# --- knowledge gaps -----------------------------------------------------------------------


def _gaps(ctx: Ctx, days: int, below: float) -> GapReport:
    with ctx.app.read_sessions() as db:
        return find_gaps(
            db,
            since=utcnow() - timedelta(days=days),
            model_key=ctx.app.settings.knowledge.model_key,
            threshold=below,
        )


@area.get("/gaps", access=Access.EDITOR, name="kb_gaps")
def kb_gaps(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    below: Annotated[float, Query(ge=0.0, le=1.0)] = DEFAULT_GAP_THRESHOLD,
) -> Response:
    """Recent tickets no article fitted, clustered so that one article can close a gap."""
    report = _gaps(ctx, days, below)
    return render(
        request,
        "kb_gaps.html",
        {
            "title": "Knowledge gaps",
            "report": report,
            "days": days,
            "below": below,
            "day_choices": GAP_DAYS,
            "tab": "gaps",
            "can_edit": True,
        },
    )


# --- requesters ---------------------------------------------------------------------------


def _status_panel(db: Session, ticket: Ticket, requester: RequesterView) -> Mapping[str, Any]:
    return {
        "offered": offered_articles(db, ticket.id),
        "closed": ticket.status == TicketStatus.CLOSED,
        "solved": ticket.closed_by_solved,
    }


@requester_area.get("/{token}/articles/{slug}", access=Access.REQUESTER, name="status_article")
def status_article(request: Request, ctx: Ctx, requester: CurrentRequester, slug: Slug) -> Response:
    """A public, published article offered on the requester's ticket (nothing else)."""
    with ctx.app.read_sessions() as db:
        offered = offered_article(db, requester.ticket_id, slug)
        if offered is None:
            raise HTTPException(404, "Not found.")
        detail = get_article(db, slug)
        ticket = db.get(Ticket, requester.ticket_id)
        assert ticket is not None
        closed = ticket.status == TicketStatus.CLOSED
    published = _version_view(detail, detail.summary.published_version or 0)
    return render(
        request,
        "kb_status_article.html",
        {
            "title": published.title,
            "version": published,
            "problem_html": markdown_html(published.problem),
            "solution_html": markdown_html(published.solution),
            "base": f"/status/{requester.token}",
            "slug": slug,
            "closed": closed,
        },
        headers=FORM_PAGE_HEADERS,
    )


@requester_area.get("/{token}/solved", access=Access.REQUESTER, name="status_solved_confirm")
def status_solved_confirm(
    request: Request,
    ctx: Ctx,
    requester: CurrentRequester,
    article: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Ask before closing: "this solved it" from the status page lands here first."""
    with ctx.app.read_sessions() as db:
        offered = offered_article(db, requester.ticket_id, article) if article else None
        if article and offered is None:
            raise HTTPException(404, "Not found.")
        ticket = db.get(Ticket, requester.ticket_id)
        assert ticket is not None
        closed = ticket.status == TicketStatus.CLOSED
    return render(
        request,
        "kb_status_solved.html",
        {
            "title": f"Request #{requester.ticket_id}",
            "number": requester.ticket_id,
            "base": f"/status/{requester.token}",
            "confirm": not closed,
            "article": offered,
            "refused": "the request is closed already" if closed else "",
        },
        headers=FORM_PAGE_HEADERS,
    )


@requester_area.post("/{token}/solved", access=Access.REQUESTER, name="status_solved")
def status_solved(
    request: Request,
    ctx: Ctx,
    requester: CurrentRequester,
    article: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """ "This solved it": close the ticket as solved by the requester.

    Answers with a page of its own rather than a redirect: sent again (a reload), the
    request only says that the ticket is closed already.
    """
    refused = ""
    try:
        with transaction(ctx.app.sessions) as db:
            solved_by_requester(
                db, requester.ticket_id, email=requester.email, slug=article or None
            )
    except (KnowledgeBaseError, TicketActionError) as exc:
        refused = str(exc)
    return render(
        request,
        "kb_status_solved.html",
        {
            "title": f"Request #{requester.ticket_id}",
            "number": requester.ticket_id,
            "base": f"/status/{requester.token}",
            "confirm": False,
            "article": None,
            "refused": refused,
        },
        status_code=400 if refused else 200,
        headers=FORM_PAGE_HEADERS,
    )


# --- the JSON API -------------------------------------------------------------------------

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid credentials"},
    403: {"model": ErrorOut, "description": "The role does not allow this, or CSRF failed"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "Not found"}}
_REFUSED: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut, "description": "Refused"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorOut,
        "description": "An article with this slug exists already, or the category does not",
    }
}


def _errors(*extra: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    merged = dict(_AUTH)
    for part in extra:
        merged.update(part)
    return merged


def _article_out(db: Session, slug: str) -> ArticleOut:
    detail = get_article(db, slug)
    return ArticleOut.model_validate(detail.as_json())


def _draft_of(body: ArticleIn) -> ArticleDraft:
    return ArticleDraft(
        title=body.title,
        problem=body.problem,
        solution=body.solution,
        category=body.category,
        tags=tuple(body.tags),
        audience=Audience(body.audience),
        slug=body.slug,
    )


@api.get(
    "/articles",
    access=Access.AGENT,
    name="api_articles",
    response_model=list[ArticleSummaryOut],
    responses=_errors(),
)
def api_articles(
    *,
    ctx: Ctx,
    user: CurrentUser,
    status: ArticleStatus | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    audience: Audience | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> list[ArticleSummaryOut]:
    """Articles by title with their use and solve rate; filters narrow the list."""
    with ctx.app.read_sessions() as db:
        found = list_articles(db, status=status, category=category, audience=audience, text=q)
    return [ArticleSummaryOut.model_validate(a.as_json()) for a in found]


@api.post(
    "/articles",
    access=Access.EDITOR,
    name="api_article_create",
    status_code=201,
    response_model=ArticleOut,
    responses=_errors(_REFUSED, _CONFLICT),
)
def api_article_create(ctx: Ctx, user: CurrentUser, body: ArticleIn) -> ArticleOut:
    """A new draft article (version 1); publish it to make it searchable."""
    with transaction(ctx.app.sessions) as db, refusals():
        article = create_article(db, _draft_of(body), actor=actor_of(user), note=body.note)
        return _article_out(db, article.slug)


@api.post(
    "/articles/from-ticket/{number}",
    access=Access.EDITOR,
    name="api_article_from_ticket",
    status_code=201,
    response_model=ArticleOut,
    responses=_errors(
        _NOT_FOUND,
        {409: {"model": ErrorOut, "description": "The ticket has nothing to learn from yet"}},
    ),
)
def api_article_from_ticket(ctx: Ctx, user: CurrentUser, number: TicketNumber) -> ArticleOut:
    """A draft prefilled from a resolved ticket (its problem and resolution), internal.

    409 while the ticket has neither a resolution nor an agent's reply to learn from."""
    with transaction(ctx.app.sessions) as db, refusals():
        get_ticket(db, number)
        try:
            article = create_article_from_ticket(db, number, actor=actor_of(user))
        except KnowledgeBaseError as exc:
            raise HTTPException(409, str(exc)) from None
        return _article_out(db, article.slug)


@api.get(
    "/articles/{slug}",
    access=Access.AGENT,
    name="api_article",
    response_model=ArticleOut,
    responses=_errors(_NOT_FOUND),
)
def api_article(ctx: Ctx, user: CurrentUser, slug: Slug) -> ArticleOut:
    """The article: current text, versions, indexed passages, use."""
    with ctx.app.read_sessions() as db, refusals():
        return _article_out(db, slug)


@api.put(
    "/articles/{slug}",
    access=Access.EDITOR,
    name="api_article_edit",
    response_model=ArticleOut,
    responses=_errors(_REFUSED, _NOT_FOUND, _CONFLICT),
)
def api_article_edit(
    request: Request, ctx: Ctx, user: CurrentUser, slug: Slug, body: ArticleIn
) -> ArticleOut:
    """Save new content as the next version (live at once if the article is published)."""
    with ctx.app.read_sessions() as db, refusals():
        published = find_article(db, slug).status == ArticleStatus.PUBLISHED
    store = embedding_store(request) if published else None
    with transaction(ctx.app.sessions) as db, refusals():
        edit_article(db, store, slug, _draft_of(body), actor=actor_of(user), note=body.note)
        return _article_out(db, slug)


def _state_change(
    request: Request, ctx: Ctx, user: CurrentUser, slug: str, change: str
) -> ArticleOut:
    with ctx.app.read_sessions() as db, refusals():
        find_article(db, slug)
    store = embedding_store(request) if change == "publish" else None
    with transaction(ctx.app.sessions) as db, refusals():
        actor = actor_of(user)
        if store is not None:
            publish_article(db, store, slug, actor=actor)
        elif change == "archive":
            archive_article(db, slug, actor=actor)
        else:
            unpublish_article(db, slug, actor=actor)
        return _article_out(db, slug)


@api.post(
    "/articles/{slug}/publish",
    access=Access.EDITOR,
    name="api_article_publish",
    response_model=ArticleOut,
    responses=_errors(_NOT_FOUND),
)
def api_article_publish(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> ArticleOut:
    """Publish the current version (searchable in every process from now on)."""
    return _state_change(request, ctx, user, slug, "publish")


@api.post(
    "/articles/{slug}/archive",
    access=Access.EDITOR,
    name="api_article_archive",
    response_model=ArticleOut,
    responses=_errors(_NOT_FOUND),
)
def api_article_archive(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> ArticleOut:
    """Take the article out of search; its versions stay."""
    return _state_change(request, ctx, user, slug, "archive")


@api.post(
    "/articles/{slug}/unpublish",
    access=Access.EDITOR,
    name="api_article_unpublish",
    response_model=ArticleOut,
    responses=_errors(_NOT_FOUND),
)
def api_article_unpublish(request: Request, ctx: Ctx, user: CurrentUser, slug: Slug) -> ArticleOut:
    """Back to draft: out of search, still editable."""
    return _state_change(request, ctx, user, slug, "unpublish")


@api.get(
    "/articles/{slug}/versions/{version}",
    access=Access.AGENT,
    name="api_article_version",
    response_model=VersionOut,
    responses=_errors(_NOT_FOUND),
)
def api_article_version(ctx: Ctx, user: CurrentUser, slug: Slug, version: Version) -> VersionOut:
    """One saved version with its text."""
    detail = _detail(ctx, slug)
    return VersionOut.model_validate(_version_view(detail, version).as_json())


@api.get(
    "/articles/{slug}/diff",
    access=Access.AGENT,
    name="api_article_diff",
    response_model=DiffOut,
    responses=_errors(_NOT_FOUND),
)
def api_article_diff(
    *,
    ctx: Ctx,
    user: CurrentUser,
    slug: Slug,
    old: Annotated[int, Query(ge=1, le=1_000_000)],
    new: Annotated[int, Query(ge=1, le=1_000_000)],
) -> DiffOut:
    """A unified diff between two versions."""
    detail = _detail(ctx, slug)
    _version_view(detail, old)
    _version_view(detail, new)
    with ctx.app.read_sessions() as db, refusals():
        diff = diff_versions(db, slug, old, new)
    return DiffOut(slug=slug, old=old, new=new, diff=diff)


@api.post(
    "/articles/{slug}/versions/{version}/restore",
    access=Access.EDITOR,
    name="api_article_restore",
    response_model=ArticleOut,
    responses=_errors(_NOT_FOUND, _REFUSED),
)
def api_article_restore(
    request: Request, ctx: Ctx, user: CurrentUser, slug: Slug, version: Version
) -> ArticleOut:
    """Save a copy of an old version as the newest one."""
    detail = _detail(ctx, slug)
    _version_view(detail, version)
    published = detail.summary.status == ArticleStatus.PUBLISHED
    store = embedding_store(request) if published else None
    with transaction(ctx.app.sessions) as db, refusals():
        restore_version(db, store, slug, version, actor=actor_of(user))
        return _article_out(db, slug)


@api.get(
    "/knowledge-gaps",
    access=Access.EDITOR,
    name="api_knowledge_gaps",
    response_model=GapsOut,
    responses=_errors(),
)
def api_knowledge_gaps(
    *,
    ctx: Ctx,
    user: CurrentUser,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    below: Annotated[float, Query(ge=0.0, le=1.0)] = DEFAULT_GAP_THRESHOLD,
) -> GapsOut:
    """Recent tickets no article fitted, clustered (most typical ticket first)."""
    report = _gaps(ctx, days, below)
    return GapsOut.model_validate(
        {
            "since": report.since.isoformat(),
            "threshold": report.threshold,
            "truncated": report.truncated,
            "clusters": [
                {
                    "label": cluster.label,
                    "category": cluster.category,
                    "cohesion": cluster.cohesion,
                    "tickets": [
                        {
                            "number": t.number,
                            "subject": t.subject,
                            "category": t.category,
                            "status": t.status,
                            "created": t.created_at.isoformat(),
                            "fit_confidence": t.fit_confidence,
                            "best_article": t.best_article,
                            "rejected": t.rejected,
                        }
                        for t in cluster.tickets
                    ],
                }
                for cluster in report.clusters
            ],
        }
    )


EXTENSION = WebExtension(
    areas=(area, requester_area, api),
    nav=(NavEntry("Knowledge", "kb_list", Access.AGENT, order=30, active_prefix="/kb"),),
    status_panels=(
        StatusPanel(name="kb_offered", template="kb_status_panel.html", load=_status_panel),
    ),
)
