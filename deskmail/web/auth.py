"""Who is asking, and may they: principals, access levels, the route guard and CSRF checks.

Every route declares an `Access` level (`deskmail.web.routing.Area` refuses a route without
one) and gets the matching guard as a dependency, so authorisation is checked before any
endpoint code runs (docs/decisions/0101):

- `PUBLIC`: anyone (the login page, the OpenAPI document);
- `REQUESTER`: a valid signed status token in the path (`{token}`), see `status_links`;
- `AGENT` < `EDITOR` < `ADMIN`: a signed-in account with at least that role.

Pages accept the session cookie only; the JSON API under `/api/` also accepts
`Authorization: Bearer <token>`. A request that changes something with a session cookie must
carry the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`); a Bearer
request needs none, since browsers never add that header on their own. Requests from another
origin (Origin or Sec-Fetch-Site) that would change something are refused outright.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from deskmail.accounts import role_at_least, touch_api_token, verify_api_token
from deskmail.db import transaction
from deskmail.web.context import WebContext, context_of
from deskmail.web.sessions import cookie_key, csrf_token, load_session, touch_session
from deskmail.web.status_links import claimed_ticket, verify_status_token
from models import ParticipantRole, Person, Role, Ticket, TicketParticipant, UserAccount

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class Access(StrEnum):
    """Who may use a route."""

    PUBLIC = "public"
    REQUESTER = "requester"
    AGENT = "agent"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def role(self) -> Role | None:
        """The account role this level needs (None for public and requester routes)."""
        return Role(self.value) if self.value in {r.value for r in Role} else None


@dataclass(frozen=True)
class Principal:
    """A signed-in account (by session cookie or API token)."""

    user_id: int
    person_id: int
    email: str
    name: str
    role: Role
    group: str
    via: Literal["session", "token"]
    csrf_token: str = ""
    session_key: str = ""

    @property
    def display_name(self) -> str:
        """The name, or the address when there is none."""
        return self.name or self.email

    def can(self, access: Access) -> bool:
        """True when this account may use routes of `access`."""
        if access in (Access.PUBLIC, Access.REQUESTER):
            return True
        required = access.role
        return required is not None and role_at_least(self.role, required)


@dataclass(frozen=True)
class RequesterView:
    """A requester who opened their status link: which ticket, as whom."""

    ticket_id: int
    email: str
    token: str


class AuthError(Exception):
    """Base of the refusals the guard raises (turned into responses by `errors`)."""

    status_code = 403
    message = "You may not do this."


class LoginRequiredError(AuthError):
    """Nobody (valid) is signed in."""

    status_code = 401
    message = "Please sign in."


class ForbiddenError(AuthError):
    """Signed in, but the role does not allow this."""

    status_code = 403
    message = "Your role does not allow this."


class CsrfError(AuthError):
    """A change without the session's CSRF token, or from another origin."""

    status_code = 403
    message = "The form has expired or came from another site. Reload the page and try again."


class RequesterLinkError(AuthError):
    """A status token that is malformed, tampered with, expired or not for this ticket."""

    status_code = 404
    message = "This link is not valid (any more)."


def is_api(request: Request) -> bool:
    """True for the JSON API (Bearer tokens accepted, JSON errors)."""
    return request.url.path.startswith(API_PREFIX)


def _principal_of(
    user: UserAccount, via: Literal["session", "token"], csrf: str, key: str
) -> Principal:
    return Principal(
        user_id=user.id,
        person_id=user.person_id,
        email=user.person.email,
        name=user.person.name,
        role=Role(user.role),
        group=user.group,
        via=via,
        csrf_token=csrf,
        session_key=key,
    )


def _touch(context: WebContext, action: Callable[..., None], ident: object) -> None:
    # Bookkeeping only: a busy database must not fail the request.
    try:
        with transaction(context.app.sessions) as db:
            action(db, ident)
    except SQLAlchemyError:
        log.debug("could not record activity", exc_info=True)


def _from_token(context: WebContext, secret: str) -> Principal | None:
    with context.app.read_sessions() as db:
        owner = verify_api_token(db, secret)
        if owner is None:
            return None
        principal = _principal_of(owner.user, "token", "", "")
    if owner.stale:
        _touch(context, touch_api_token, owner.token_id)
    return principal


def _from_session(context: WebContext, key: str) -> Principal | None:
    with context.app.read_sessions() as db:
        loaded = load_session(db, key, config=context.config)
        if loaded is None:
            return None
        principal = _principal_of(
            loaded.user, "session", csrf_token(context.config.secret, key), key
        )
    if loaded.stale:
        _touch(context, touch_session, loaded.session_id)
    return principal


def resolve_principal(request: Request) -> Principal | None:
    """Dependency: the signed-in account, or None (computed once per request)."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    context = context_of(request)
    principal: Principal | None = None
    header = request.headers.get("authorization")
    if header is not None and is_api(request):
        # An Authorization header decides alone: a bad token never falls back to the cookie.
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            principal = _from_token(context, credentials.strip())
    else:
        key = cookie_key(request, context.config)
        if key is not None:
            principal = _from_session(context, key)
    request.state.principal = principal
    return principal


def current_user(
    principal: Annotated[Principal | None, Depends(resolve_principal)],
) -> Principal:
    """Dependency: the signed-in account (the guard has already refused anonymous requests)."""
    if principal is None:
        raise LoginRequiredError
    return principal


def current_requester(request: Request) -> RequesterView:
    """Dependency: the requester whose status token is in the path."""
    if hasattr(request.state, "requester"):
        cached: RequesterView = request.state.requester
        return cached
    token = str(request.path_params.get("token", ""))
    ticket_id = claimed_ticket(token)
    if ticket_id is None:
        raise RequesterLinkError
    context = context_of(request)
    with context.app.read_sessions() as db:
        ticket = db.get(Ticket, ticket_id)
        if ticket is None:
            raise RequesterLinkError
        emails = {ticket.requester.email}
        emails.update(
            db.execute(
                select(Person.email)
                .join(TicketParticipant, TicketParticipant.person_id == Person.id)
                .where(
                    TicketParticipant.ticket_id == ticket_id,
                    TicketParticipant.role.in_([ParticipantRole.REQUESTER, ParticipantRole.CC]),
                )
            ).scalars()
        )
    email = verify_status_token(
        context.config.secret,
        token,
        ticket_id,
        sorted(emails),
        max_age=context.config.status_link_max_age,
    )
    if email is None:
        raise RequesterLinkError
    view = RequesterView(ticket_id=ticket_id, email=email, token=token)
    request.state.requester = view
    return view


CurrentUser = Annotated[Principal, Depends(current_user)]
CurrentRequester = Annotated[RequesterView, Depends(current_requester)]


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null":  # sandboxed frames, data: URLs, privacy-redirected requests
            return False
        host = request.headers.get("host", "")
        return urlsplit(origin).netloc.lower() == host.lower()
    return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse a change made with a session cookie but without the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise CsrfError


Guard = Callable[..., Awaitable[None]]


def guard(access: Access) -> Guard:
    """The dependency that enforces `access` on a route (see the module's docstring)."""

    async def public_guard(request: Request) -> None:
        if request.method not in SAFE_METHODS and not same_origin(request):
            raise CsrfError

    async def requester_guard(
        request: Request, _requester: Annotated[RequesterView, Depends(current_requester)]
    ) -> None:
        # The unguessable token in the path is what a forged request would lack; the origin
        # check is a second lock.
        if request.method not in SAFE_METHODS and not same_origin(request):
            raise CsrfError

    async def account_guard(
        request: Request,
        principal: Annotated[Principal | None, Depends(resolve_principal)],
    ) -> None:
        if principal is None:
            raise LoginRequiredError
        if not principal.can(access):
            raise ForbiddenError
        if request.method in SAFE_METHODS or principal.via == "token":
            return
        if not same_origin(request):
            raise CsrfError
        await check_csrf(request, principal)

    chosen: Guard
    if access is Access.PUBLIC:
        chosen = public_guard
    elif access is Access.REQUESTER:
        chosen = requester_guard
    else:
        chosen = account_guard
    return chosen
