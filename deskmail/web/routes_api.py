"""The JSON API (`/api/v1/...`): the agents' and admins' use cases for integrations.

Callers authenticate with `Authorization: Bearer <token>` (`deskmail users token EMAIL`) - or
with the UI's session cookie plus the `X-CSRF-Token` header. Each operation carries the role it
needs as `x-deskmail-access` in the OpenAPI document at `/api/openapi.json`. Errors are
`{"detail": "..."}` with 400 (refused), 401 (no valid credentials), 403 (role), 404 (unknown),
409 (conflicts with the current state), 413 (body too large), 422 (does not fit the schema).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Path, Query
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from deskmail.accounts import create_user, get_user, list_users, update_user
from deskmail.admin_actions import (
    create_category,
    list_categories,
    replay_inbound,
    update_category,
)
from deskmail.db import transaction
from deskmail.ticket_actions import add_note, assign, change_status, get_ticket
from deskmail.views import (
    inbound_summary,
    list_inbound,
    list_retrying,
    message_view,
    ticket_summary,
)
from deskmail.web.api_models import (
    AssignIn,
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    ClassificationOut,
    ErrorOut,
    EventOut,
    InboundOut,
    MeOut,
    NoteIn,
    NoteOut,
    RetryOut,
    StatusIn,
    TicketDetailOut,
    TicketPageOut,
    TicketStateOut,
    TicketSummaryOut,
    UserIn,
    UserOut,
    UserPatch,
)
from deskmail.web.auth import Access, CurrentUser
from deskmail.web.context import Ctx
from deskmail.web.downloads import SAFE_IMAGE_TYPES, download_response
from deskmail.web.queue import QueueFilter, QueueSort, SlaFilter, query_queue
from deskmail.web.routes_tickets import actor_of
from deskmail.web.routing import Area, WebExtension
from deskmail.web.ticket_pages import (
    attachment_with_data,
    conversation,
    latest_classification,
    timeline,
)
from models import (
    Category,
    Event,
    InboundMessage,
    InboundStatus,
    Person,
    Role,
    Ticket,
    TicketStatus,
    UserAccount,
    utcnow,
)

area = Area(name="api", prefix="/api/v1", api=True)
schema_area = Area(name="schema", prefix="/api", api=True)

# SQLite and PostgreSQL integers: larger ids cannot exist, refuse them before any query.
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid credentials"},
    403: {"model": ErrorOut, "description": "The role does not allow this, or CSRF failed"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "Not found"}}
_REFUSED: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut, "description": "Refused"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Conflicts with the current state"}
}


def _errors(*extra: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    merged = dict(_AUTH_ERRORS)
    for part in extra:
        merged.update(part)
    return merged


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(ticket: Ticket) -> dict[str, Any]:
    data = ticket_summary(ticket)
    data.update(
        updated=_iso(ticket.updated_at),
        assignee=ticket.assignee.email if ticket.assignee else None,
        group=ticket.group,
        first_response_due=_iso(ticket.first_response_due),
        resolution_due=_iso(ticket.resolution_due),
    )
    return data


def _state(ticket: Ticket, db: Session) -> TicketStateOut:
    assignee = db.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    return TicketStateOut(
        number=ticket.id,
        status=str(ticket.status),
        assignee=assignee.email if assignee else None,
        group=ticket.group,
    )


def _user_out(user: UserAccount) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.person.email,
        name=user.person.name,
        role=Role(user.role).value,
        group=user.group,
        active=user.active,
        created=user.created_at.isoformat(),
        last_login=_iso(user.last_login_at),
    )


def _category_out(category: Category, keys: dict[int, str]) -> CategoryOut:
    return CategoryOut(
        id=category.id,
        key=category.key,
        name=category.name,
        description=category.description,
        parent=keys.get(category.parent_id) if category.parent_id else None,
        position=category.position,
        active=category.active,
    )


@schema_area.get("/openapi.json", access=Access.PUBLIC, name="openapi", include_in_schema=False)
def openapi_document(request: Request) -> JSONResponse:
    """The OpenAPI document of the JSON API."""
    return JSONResponse(request.app.openapi())


@area.get("/me", access=Access.AGENT, name="api_me", response_model=MeOut, responses=_errors())
def me(user: CurrentUser) -> MeOut:
    """The account this request acts as."""
    return MeOut(
        email=user.email, name=user.name, role=user.role.value, group=user.group, via=user.via
    )


@area.get(
    "/tickets",
    access=Access.AGENT,
    name="api_tickets",
    response_model=TicketPageOut,
    responses=_errors(),
)
def tickets(
    *,
    ctx: Ctx,
    user: CurrentUser,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    priority: Annotated[str | None, Query(max_length=4)] = None,
    assignee: Annotated[
        str | None, Query(max_length=320, description='An address, "me" or "none".')
    ] = None,
    needs_triage: bool | None = None,
    sla: SlaFilter | None = None,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: QueueSort = QueueSort.NEWEST,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TicketPageOut:
    """The queue: active tickets unless `status` says otherwise, newest first by default."""
    spec = QueueFilter(
        **({"statuses": tuple(status)} if status else {}),
        category=category or None,
        priority=priority or None,
        assignee=user.email if assignee == "me" else (assignee or None),
        needs_triage=needs_triage,
        sla=sla,
        query=q,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    with ctx.app.read_sessions() as db:
        result = query_queue(db, spec, now=utcnow())
        items = [TicketSummaryOut.model_validate(_summary(t)) for t in result.tickets]
    return TicketPageOut(
        items=items,
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


def _detail(db: Session, ticket: Ticket) -> TicketDetailOut:
    messages = conversation(db, ticket.id)
    views = []
    for message in messages:
        view = message_view(message)
        for item, attachment in zip(view["attachments"], message.attachments, strict=True):
            item["id"] = attachment.id
        views.append(view)
    assignee = db.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    found = latest_classification(db, ticket.id)
    return TicketDetailOut.model_validate(
        {
            "number": ticket.id,
            "subject": ticket.subject,
            "status": str(ticket.status),
            "requester": {"email": ticket.requester.email, "name": ticket.requester.name},
            "category": ticket.category,
            "subcategory": ticket.subcategory,
            "priority": ticket.priority,
            "impact": ticket.impact,
            "urgency": ticket.urgency,
            "needs_triage": ticket.needs_triage,
            "created": _iso(ticket.created_at),
            "updated": _iso(ticket.updated_at),
            "messages": views,
            "assignee": {"email": assignee.email, "name": assignee.name} if assignee else None,
            "group": ticket.group,
            "first_response_due": _iso(ticket.first_response_due),
            "resolution_due": _iso(ticket.resolution_due),
            "classification": None
            if found is None
            else ClassificationOut(
                category=found.category,
                subcategory=found.subcategory,
                impact=found.impact,
                urgency=found.urgency,
                priority=found.priority,
                confidences=found.confidences,
                abstained=found.abstained,
                model_version=found.model_version,
                source=str(found.source),
                created=found.created_at.isoformat(),
            ),
            "events": [_event_out(e) for e in timeline(db, ticket.id)],
        }
    )


def _event_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        kind=event.kind,
        actor=event.actor,
        data=event.data,
        created=event.created_at.isoformat(),
    )


@area.get(
    "/tickets/{number}",
    access=Access.AGENT,
    name="api_ticket",
    response_model=TicketDetailOut,
    response_model_by_alias=True,
    responses=_errors(_NOT_FOUND),
)
def ticket(ctx: Ctx, user: CurrentUser, number: Id) -> TicketDetailOut:
    """One ticket with its conversation (notes included), classification and timeline."""
    with ctx.app.read_sessions() as db:
        return _detail(db, get_ticket(db, number))


@area.get(
    "/tickets/{number}/events",
    access=Access.AGENT,
    name="api_ticket_events",
    response_model=list[EventOut],
    responses=_errors(_NOT_FOUND),
)
def ticket_events(ctx: Ctx, user: CurrentUser, number: Id) -> list[EventOut]:
    """The ticket's timeline, oldest first."""
    with ctx.app.read_sessions() as db:
        get_ticket(db, number)
        return [_event_out(e) for e in timeline(db, number)]


@area.post(
    "/tickets/{number}/notes",
    access=Access.AGENT,
    name="api_ticket_note",
    status_code=201,
    response_model=NoteOut,
    responses=_errors(_NOT_FOUND, _REFUSED),
)
def ticket_note(ctx: Ctx, user: CurrentUser, number: Id, body: NoteIn) -> NoteOut:
    """Add an internal note (agents only, never mailed)."""
    with transaction(ctx.app.sessions) as db:
        note = add_note(db, number, body.text, actor=actor_of(user))
        return NoteOut(
            id=note.id, ticket=number, text=note.text, created=note.created_at.isoformat()
        )


@area.post(
    "/tickets/{number}/status",
    access=Access.AGENT,
    name="api_ticket_status",
    response_model=TicketStateOut,
    responses=_errors(_NOT_FOUND, _REFUSED),
)
def ticket_status(ctx: Ctx, user: CurrentUser, number: Id, body: StatusIn) -> TicketStateOut:
    """Set the ticket's status (resolving does not mail the requester)."""
    with transaction(ctx.app.sessions) as db:
        return _state(change_status(db, number, body.status, actor=actor_of(user)), db)


@area.post(
    "/tickets/{number}/assign",
    access=Access.AGENT,
    name="api_ticket_assign",
    response_model=TicketStateOut,
    responses=_errors(_NOT_FOUND, _REFUSED),
)
def ticket_assign(ctx: Ctx, user: CurrentUser, number: Id, body: AssignIn) -> TicketStateOut:
    """Assign the ticket ("me", an address, or null for nobody) and optionally a group."""
    target = user.email if body.assignee == "me" else body.assignee
    with transaction(ctx.app.sessions) as db:
        changed = assign(db, number, assignee=target, group=body.group, actor=actor_of(user))
        return _state(changed, db)


@area.get(
    "/attachments/{attachment_id}",
    access=Access.AGENT,
    name="api_attachment",
    response_class=Response,
    responses=_errors(
        _NOT_FOUND,
        {
            200: {
                "description": "The file (raster images keep their type)",
                "content": {
                    "application/octet-stream": {},
                    **{t: {} for t in sorted(SAFE_IMAGE_TYPES)},
                },
            }
        },
    ),
)
def attachment(ctx: Ctx, user: CurrentUser, attachment_id: Id) -> Response:
    """Download an attachment."""
    with ctx.app.read_sessions() as db:
        found = attachment_with_data(db, attachment_id)
    if found is None:
        raise HTTPException(404, "No such attachment.")
    item, data = found
    return download_response(data, filename=item.filename, content_type=item.content_type)


@area.get(
    "/categories",
    access=Access.AGENT,
    name="api_categories",
    response_model=list[CategoryOut],
    responses=_errors(),
)
def categories(ctx: Ctx, user: CurrentUser) -> list[CategoryOut]:
    """The category tree, parents before their subcategories."""
    with ctx.app.read_sessions() as db:
        rows = list_categories(db)
    keys = {c.id: c.key for c in rows}
    return [_category_out(c, keys) for c in rows]


@area.post(
    "/categories",
    access=Access.ADMIN,
    name="api_category_create",
    status_code=201,
    response_model=CategoryOut,
    responses=_errors(_REFUSED, _CONFLICT),
)
def category_create(ctx: Ctx, user: CurrentUser, body: CategoryIn) -> CategoryOut:
    """Add a category or subcategory."""
    with transaction(ctx.app.sessions) as db:
        created = create_category(
            db, body.key, name=body.name, description=body.description, actor=user.email
        )
        keys = {c.id: c.key for c in list_categories(db)}
        return _category_out(created, keys)


@area.patch(
    "/categories/{category_id}",
    access=Access.ADMIN,
    name="api_category_update",
    response_model=CategoryOut,
    responses=_errors(_NOT_FOUND, _REFUSED),
)
def category_update(
    ctx: Ctx, user: CurrentUser, category_id: Id, body: CategoryPatch
) -> CategoryOut:
    """Change a category's name, description, order or active flag."""
    with transaction(ctx.app.sessions) as db:
        found = db.get(Category, category_id)
        if found is None:
            raise HTTPException(404, "No such category.")
        update_category(
            db,
            found.key,
            actor=user.email,
            name=body.name,
            description=body.description,
            active=body.active,
            position=body.position,
        )
        keys = {c.id: c.key for c in list_categories(db)}
        return _category_out(found, keys)


@area.get(
    "/users",
    access=Access.ADMIN,
    name="api_users",
    response_model=list[UserOut],
    responses=_errors(),
)
def users(ctx: Ctx, user: CurrentUser) -> list[UserOut]:
    """Every account."""
    with ctx.app.read_sessions() as db:
        return [_user_out(u) for u in list_users(db)]


@area.post(
    "/users",
    access=Access.ADMIN,
    name="api_user_create",
    status_code=201,
    response_model=UserOut,
    responses=_errors(_REFUSED, _CONFLICT),
)
def user_create(ctx: Ctx, user: CurrentUser, body: UserIn) -> UserOut:
    """Create an account."""
    with transaction(ctx.app.sessions) as db:
        created = create_user(
            db,
            body.email,
            role=body.role,
            password=body.password,
            name=body.name,
            group=body.group,
            actor=user.email,
            params=ctx.config.passwords,
        )
        return _user_out(created)


@area.patch(
    "/users/{user_id}",
    access=Access.ADMIN,
    name="api_user_update",
    response_model=UserOut,
    responses=_errors(_NOT_FOUND, _REFUSED, _CONFLICT),
)
def user_update(ctx: Ctx, user: CurrentUser, user_id: Id, body: UserPatch) -> UserOut:
    """Change an account's role, state, group or name."""
    with transaction(ctx.app.sessions) as db:
        get_user(db, user_id)
        changed = update_user(
            db,
            user_id,
            actor=user.email,
            role=body.role,
            active=body.active,
            group=body.group,
            name=body.name,
        )
        return _user_out(changed)


@area.get(
    "/inbound",
    access=Access.ADMIN,
    name="api_inbound",
    response_model=list[InboundOut],
    responses=_errors(),
)
def inbound(
    ctx: Ctx,
    user: CurrentUser,
    status: Annotated[
        InboundStatus | None, Query(description="Only mail in this state (default: dead).")
    ] = None,
    retrying: Annotated[bool, Query(description="Also mail waiting for a retry.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[InboundOut]:
    """Stored mail by state, newest first: dead-lettered unless asked otherwise."""
    with ctx.app.read_sessions() as db:
        rows: list[InboundMessage] = list_inbound(
            db, statuses=[status or InboundStatus.DEAD], limit=limit
        )
        if retrying:
            rows += list_retrying(db, limit=limit)
        return [
            InboundOut.model_validate(inbound_summary(r)) for r in sorted(rows, key=lambda r: -r.id)
        ]


@area.post(
    "/inbound/{inbound_id}/retry",
    access=Access.ADMIN,
    name="api_inbound_retry",
    response_model=RetryOut,
    responses=_errors(_NOT_FOUND),
)
def inbound_retry(ctx: Ctx, user: CurrentUser, inbound_id: Id) -> RetryOut:
    """Queue a dead-lettered or quarantined mail again (false: it is in another state)."""
    with ctx.app.read_sessions() as db:
        if (
            db.execute(select(InboundMessage.id).where(InboundMessage.id == inbound_id)).first()
            is None
        ):
            raise HTTPException(404, "No such mail.")
    return RetryOut(id=inbound_id, queued=replay_inbound(ctx.app, inbound_id, actor=user.email))


EXTENSION = WebExtension(areas=(area, schema_area))
