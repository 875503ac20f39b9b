"""The admins' pages: accounts and roles (with API tokens), failed and quarantined mail with
replay, the category tree, the audit log of changes outside tickets, the service levels and
routing in effect (read-only: they are set in the settings file), the mail templates with
overrides, the mailboxes and the classifier's versions with rollback.

Each action calls a use case of `deskmail.accounts` or `deskmail.admin_actions` in one
transaction; each of those writes its audit event.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, Query
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from deskmail.accounts import (
    ROLE_ORDER,
    AccountError,
    create_api_token,
    create_user,
    get_user,
    list_api_tokens,
    list_users,
    revoke_api_token,
    set_password,
    update_user,
)
from deskmail.admin_actions import (
    AdminActionError,
    create_category,
    list_categories,
    replay_inbound,
    update_category,
)
from deskmail.classification import ClassificationError
from deskmail.classifier_models import list_versions, rollback
from deskmail.db import transaction
from deskmail.template_overrides import (
    MAX_TEMPLATE_CHARS,
    TemplateFile,
    TemplateOverrideError,
    effective_source,
    list_templates,
    override_dir,
    packaged_source,
    remove_override,
    save_override,
)
from deskmail.views import inbound_summary, list_inbound, list_retrying
from deskmail.web.auth import Access, CurrentUser
from deskmail.web.context import Ctx
from deskmail.web.downloads import download_response
from deskmail.web.rendering import redirect, render
from deskmail.web.routing import Area, NavEntry, WebExtension
from models import Category, Event, InboundMessage, InboundStatus
from models.mailbox import MailboxCursor
from models.web import ApiToken

area = Area(name="admin", prefix="/admin")

INBOUND_VIEWS = ("failed", "dead", "quarantined", "retrying")
AUDIT_PAGE = 100


@area.get("", access=Access.ADMIN, name="admin_home")
def admin_home() -> RedirectResponse:
    """The admin section starts with the accounts."""
    return RedirectResponse("/admin/users", status_code=303)


# Accounts ---------------------------------------------------------------------------------


@area.get("/users", access=Access.ADMIN, name="admin_users")
def users_page(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """Every account with its role, group, state and API tokens."""
    with ctx.app.read_sessions() as db:
        users = list_users(db)
        tokens: dict[int, list[ApiToken]] = {}
        for token in list_api_tokens(db):
            tokens.setdefault(token.user_id, []).append(token)
    return render(
        request,
        "admin_users.html",
        {
            "title": "Accounts",
            "users": users,
            "tokens": tokens,
            "roles": [r.value for r in ROLE_ORDER],
        },
    )


@area.post("/users", access=Access.ADMIN, name="admin_user_create")
def user_create(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    email: Annotated[str, Form(max_length=400)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    role: Annotated[str, Form(max_length=20)] = "agent",
    group: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Create an account with an initial password."""
    try:
        if role not in {r.value for r in ROLE_ORDER}:
            raise AccountError(f"not a role: {role!r}")
        with transaction(ctx.app.sessions) as db:
            created = create_user(
                db,
                email,
                role=role,
                password=password,
                name=name,
                group=group,
                actor=user.email,
                params=ctx.config.passwords,
            )
            address = created.person.email
    except AccountError as exc:
        return redirect(request, "/admin/users", flash=f"Not created: {exc}.", level="error")
    return redirect(request, "/admin/users", flash=f"Account {address} created.")


@area.post("/users/{user_id}", access=Access.ADMIN, name="admin_user_update")
def user_update(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    user_id: int,
    role: Annotated[str, Form(max_length=20)] = "",
    group: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Change an account's role, group, name or whether it may sign in."""
    try:
        if role not in {r.value for r in ROLE_ORDER}:
            raise AccountError(f"not a role: {role!r}")
        with transaction(ctx.app.sessions) as db:
            changed = update_user(
                db,
                user_id,
                actor=user.email,
                role=role,
                active=active == "on",
                group=group,
                name=name,
            )
            address = changed.person.email
    except AccountError as exc:
        return redirect(request, "/admin/users", flash=f"Not changed: {exc}.", level="error")
    return redirect(request, "/admin/users", flash=f"Account {address} saved.")


@area.post("/users/{user_id}/password", access=Access.ADMIN, name="admin_user_password")
def user_password(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    user_id: int,
    password: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Set a new password for an account (its sessions end)."""
    try:
        with transaction(ctx.app.sessions) as db:
            set_password(db, user_id, password, actor=user.email, params=ctx.config.passwords)
            address = get_user(db, user_id).person.email
    except AccountError as exc:
        return redirect(request, "/admin/users", flash=f"Not changed: {exc}.", level="error")
    return redirect(request, "/admin/users", flash=f"Password of {address} set.")


@area.post("/users/{user_id}/tokens", access=Access.ADMIN, name="admin_token_create")
def token_create(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    user_id: int,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create an API token; the page shows it once (it is not stored)."""
    try:
        with transaction(ctx.app.sessions) as db:
            created = create_api_token(db, user_id, name=name, actor=user.email)
            owner = get_user(db, user_id).person.email
    except AccountError as exc:
        return redirect(request, "/admin/users", flash=f"No token: {exc}.", level="error")
    return render(
        request,
        "admin_token_created.html",
        {
            "title": "New API token",
            "secret": created.secret,
            "owner": owner,
            "token": created.token,
        },
    )


@area.post("/tokens/{token_id}/revoke", access=Access.ADMIN, name="admin_token_revoke")
def token_revoke(request: Request, ctx: Ctx, user: CurrentUser, token_id: int) -> Response:
    """Revoke an API token."""
    try:
        with transaction(ctx.app.sessions) as db:
            token = revoke_api_token(db, token_id, actor=user.email)
            prefix = token.prefix
    except AccountError as exc:
        return redirect(request, "/admin/users", flash=f"Not revoked: {exc}.", level="error")
    return redirect(request, "/admin/users", flash=f"Token {prefix}… revoked.")


# Failed and quarantined mail --------------------------------------------------------------


@area.get("/inbound", access=Access.ADMIN, name="admin_inbound")
def inbound_page(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    view: Annotated[str, Query(max_length=20)] = "failed",
) -> Response:
    """Dead-lettered, quarantined and retrying mail, with replay."""
    chosen = view if view in INBOUND_VIEWS else "failed"
    with ctx.app.read_sessions() as db:
        rows: list[InboundMessage] = []
        if chosen in ("failed", "dead"):
            rows += list_inbound(db, statuses=[InboundStatus.DEAD], limit=200)
        if chosen in ("failed", "quarantined"):
            rows += list_inbound(db, statuses=[InboundStatus.QUARANTINED], limit=200)
        if chosen in ("failed", "retrying"):
            rows += list_retrying(db, limit=200)
        counts = dict(
            db.execute(
                select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
            ).all()
        )
    items = [inbound_summary(r) for r in sorted(rows, key=lambda r: -r.id)]
    return render(
        request,
        "admin_inbound.html",
        {
            "title": "Failed mail",
            "items": items,
            "view": chosen,
            "views": INBOUND_VIEWS,
            "counts": {str(k): int(v) for k, v in counts.items()},
            "replayable": {str(InboundStatus.DEAD), str(InboundStatus.QUARANTINED)},
        },
    )


@area.get("/inbound/{inbound_id}/raw", access=Access.ADMIN, name="admin_inbound_raw")
def inbound_raw(ctx: Ctx, user: CurrentUser, inbound_id: int) -> Response:
    """Download the stored mail exactly as it arrived (for diagnosis)."""
    with ctx.app.read_sessions() as db:
        row = db.get(InboundMessage, inbound_id)
        if row is None:
            raise HTTPException(404, "No such mail.")
        data = row.raw
    return download_response(
        data, filename=f"inbound-{inbound_id}.eml", content_type="message/rfc822"
    )


@area.post("/inbound/{inbound_id}/retry", access=Access.ADMIN, name="admin_inbound_retry")
def inbound_retry(request: Request, ctx: Ctx, user: CurrentUser, inbound_id: int) -> Response:
    """Queue a dead-lettered or quarantined mail for one more round through the pipeline."""
    if replay_inbound(ctx.app, inbound_id, actor=user.email):
        return redirect(request, "/admin/inbound", flash=f"Mail {inbound_id} queued again.")
    return redirect(
        request,
        "/admin/inbound",
        flash=f"Mail {inbound_id} is not dead-lettered or quarantined.",
        level="error",
    )


# Categories -------------------------------------------------------------------------------


@area.get("/categories", access=Access.ADMIN, name="admin_categories")
def categories_page(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """The category tree with its names and descriptions."""
    with ctx.app.read_sessions() as db:
        categories = list_categories(db)
    ids = {c.id for c in categories}
    tree: list[tuple[Category, list[Category]]] = []
    for category in categories:
        if category.parent_id is None or category.parent_id not in ids:
            tree.append((category, []))
        else:
            tree[-1][1].append(category)
    return render(request, "admin_categories.html", {"title": "Categories", "tree": tree})


@area.post("/categories", access=Access.ADMIN, name="admin_category_create")
def category_create(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    key: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    description: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    """Add a category or subcategory."""
    try:
        with transaction(ctx.app.sessions) as db:
            created = create_category(db, key, name=name, description=description, actor=user.email)
            made = created.key
    except AdminActionError as exc:
        return redirect(request, "/admin/categories", flash=f"Not created: {exc}.", level="error")
    return redirect(request, "/admin/categories", flash=f"Category {made} created.")


@area.post("/categories/{category_id}", access=Access.ADMIN, name="admin_category_update")
def category_update(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    category_id: int,
    name: Annotated[str, Form(max_length=400)] = "",
    description: Annotated[str, Form(max_length=8000)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
    position: Annotated[int, Form(ge=0, le=100_000)] = 0,
) -> Response:
    """Save a category's name, description, order and whether it is offered."""
    try:
        with transaction(ctx.app.sessions) as db:
            found = db.get(Category, category_id)
            if found is None:
                raise AdminActionError(f"no category #{category_id}")
            update_category(
                db,
                found.key,
                actor=user.email,
                name=name,
                description=description,
                active=active == "on",
                position=position,
            )
            saved = found.key
    except AdminActionError as exc:
        return redirect(request, "/admin/categories", flash=f"Not saved: {exc}.", level="error")
    return redirect(request, "/admin/categories", flash=f"Category {saved} saved.")


# Audit ------------------------------------------------------------------------------------


@area.get("/audit", access=Access.ADMIN, name="admin_audit")
def audit_page(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Changes outside tickets (accounts, tokens, categories, replays, logins), newest first."""
    with ctx.app.read_sessions() as db:
        total = int(
            db.execute(
                select(func.count()).select_from(Event).where(Event.ticket_id.is_(None))
            ).scalar_one()
        )
        events = list(
            db.execute(
                select(Event)
                .where(Event.ticket_id.is_(None))
                .order_by(Event.id.desc())
                .limit(AUDIT_PAGE)
                .offset((page - 1) * AUDIT_PAGE)
            ).scalars()
        )
    return render(
        request,
        "admin_audit.html",
        {
            "title": "Audit log",
            "events": events,
            "page": page,
            "pages": max(1, -(-total // AUDIT_PAGE)),
        },
    )


# Process settings: SLA policies, calendar, routing (read-only) -------------------------------


@area.get("/process", access=Access.ADMIN, name="admin_process")
def process_page(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """The SLA policies, the business calendar and the category routing in effect.

    They are set in the settings file (`[process]` in deskmail.toml, or DESKMAIL_PROCESS__*
    variables) and read when a process starts, so this page shows them without editing.
    """
    settings = ctx.app.settings
    process = settings.process
    calendar = process.calendar
    return render(
        request,
        "admin_process.html",
        {
            "title": "Service levels and routing",
            "process": process,
            "policies": sorted(process.sla.items()),
            "calendar": calendar,
            "zone": calendar.timezone or settings.timezone,
            "routes": sorted(process.category_groups.items()),
        },
    )


# Mail templates ---------------------------------------------------------------------------


@area.get("/templates", access=Access.ADMIN, name="admin_templates")
def templates_page(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """Every mail template and whether the help desk overrides it."""
    files = list_templates(ctx.app.settings)
    kinds: dict[str, list[TemplateFile]] = {}
    for item in files:
        kinds.setdefault(item.kind, []).append(item)
    return render(
        request,
        "admin_templates.html",
        {
            "title": "Mail templates",
            "kinds": sorted(kinds.items()),
            "folder": str(override_dir(ctx.app.settings)),
        },
    )


def _template_page(
    request: Request, ctx: Ctx, kind: str, name: str, *, draft: str | None, problems: list[str]
) -> Response:
    try:
        source, overridden = effective_source(ctx.app.settings, kind, name)
        packaged = packaged_source(kind, name)
    except TemplateOverrideError as exc:
        raise HTTPException(404, str(exc)) from exc
    return render(
        request,
        "admin_template.html",
        {
            "title": f"Template {kind}/{name}",
            "kind": kind,
            "name": name,
            "source": source if draft is None else draft,
            "packaged": packaged,
            "overridden": overridden,
            "problems": problems,
        },
        status_code=422 if problems else 200,
    )


@area.get("/templates/{kind}/{name}", access=Access.ADMIN, name="admin_template")
def template_page(request: Request, ctx: Ctx, user: CurrentUser, kind: str, name: str) -> Response:
    """One template: the effective source (editable) and the packaged one."""
    return _template_page(request, ctx, kind, name, draft=None, problems=[])


@area.post("/templates/{kind}/{name}", access=Access.ADMIN, name="admin_template_save")
def template_save(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    kind: str,
    name: str,
    source: Annotated[str, Form(max_length=MAX_TEMPLATE_CHARS)] = "",
) -> Response:
    """Check the template in the sandbox with sample mails and save it as an override."""
    try:
        with transaction(ctx.app.sessions) as db:
            save_override(db, ctx.app.settings, kind, name, source, actor=user.email)
    except TemplateOverrideError as exc:
        return _template_page(request, ctx, kind, name, draft=source, problems=[str(exc)])
    return redirect(request, f"/admin/templates/{kind}/{name}", flash="Template saved.")


@area.post("/templates/{kind}/{name}/reset", access=Access.ADMIN, name="admin_template_reset")
def template_reset(request: Request, ctx: Ctx, user: CurrentUser, kind: str, name: str) -> Response:
    """Remove the override: the packaged template is used again."""
    try:
        with transaction(ctx.app.sessions) as db:
            removed = remove_override(db, ctx.app.settings, kind, name, actor=user.email)
    except TemplateOverrideError as exc:
        raise HTTPException(404, str(exc)) from exc
    flash = "The packaged template is used again." if removed else "Nothing was overridden."
    return redirect(request, f"/admin/templates/{kind}/{name}", flash=flash)


# Mailboxes --------------------------------------------------------------------------------


@area.get("/mailboxes", access=Access.ADMIN, name="admin_mailboxes")
def mailboxes_page(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """The IMAP accounts of the settings and how far intake has read each mailbox."""
    settings = ctx.app.settings
    with ctx.app.read_sessions() as db:
        cursors = list(
            db.execute(
                select(MailboxCursor).order_by(MailboxCursor.account, MailboxCursor.mailbox)
            ).scalars()
        )
        received = dict(
            db.execute(
                select(InboundMessage.source, func.max(InboundMessage.received_at)).group_by(
                    InboundMessage.source
                )
            ).all()
        )
    by_account: dict[str, list[MailboxCursor]] = {}
    for cursor in cursors:
        by_account.setdefault(cursor.account, []).append(cursor)
    return render(
        request,
        "admin_mailboxes.html",
        {
            "title": "Mailboxes",
            "accounts": settings.imap_accounts,
            "cursors": by_account,
            "configured": {a.name for a in settings.imap_accounts},
            "smtp_listen": settings.smtp_listen,
            "addresses": settings.addresses,
            "received": {str(k): v for k, v in received.items()},
        },
    )


# Classifier -------------------------------------------------------------------------------


@area.get("/classifier", access=Access.ADMIN, name="admin_classifier")
def classifier_page(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """The stored classifier models with their held-out evaluation, and rollback."""
    with ctx.app.read_sessions() as db:
        versions = list_versions(db)
    metric_names = sorted(
        {
            key.removeprefix("heldout.")
            for v in versions
            for key in v.metrics
            if key.startswith("heldout.")
        }
    )
    return render(
        request,
        "admin_classifier.html",
        {
            "title": "Classifier",
            "versions": versions,
            "metric_names": metric_names[:12],
            "active": next((v.version for v in versions if v.status == "active"), None),
        },
    )


@area.post("/classifier/rollback", access=Access.ADMIN, name="admin_classifier_rollback")
def classifier_rollback(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    version: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Go back to the previous model (or to `version`); the change is audited."""
    try:
        with transaction(ctx.app.sessions) as db:
            result = rollback(db, actor=user.email, to_version=version or None)
    except ClassificationError as exc:
        return redirect(
            request, "/admin/classifier", flash=f"Not rolled back: {exc}.", level="error"
        )
    now = result.current or "the zero-shot model"
    return redirect(request, "/admin/classifier", flash=f"The classifier now uses {now}.")


EXTENSION = WebExtension(
    areas=(area,),
    nav=(
        NavEntry("Accounts", "admin_users", Access.ADMIN, order=70),
        NavEntry("Categories", "admin_categories", Access.ADMIN, order=72),
        NavEntry("Failed mail", "admin_inbound", Access.ADMIN, order=74),
        NavEntry("Audit", "admin_audit", Access.ADMIN, order=76),
        NavEntry("Service levels", "admin_process", Access.ADMIN, order=78),
        NavEntry("Templates", "admin_templates", Access.ADMIN, order=80),
        NavEntry("Mailboxes", "admin_mailboxes", Access.ADMIN, order=82),
        NavEntry("Classifier", "admin_classifier", Access.ADMIN, order=84),
    ),
)
