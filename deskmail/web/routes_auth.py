"""Signing in and out, and the signed-in person's own account page.

The login form is protected against login CSRF by a signed double submit: a random value in a
short-lived cookie and its HMAC in the form (there is no session yet to bind a token to).
Failed logins count against the account and the client address (`throttle`); a success
starts a fresh session (never reusing a key a browser already had, against fixation) and is
recorded as an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Form
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from deskmail.accounts import AccountError, set_password, verify_password
from deskmail.db import transaction
from deskmail.web import throttle
from deskmail.web.auth import Access, CurrentUser, resolve_principal
from deskmail.web.context import Ctx, WebContext
from deskmail.web.rendering import redirect, render
from deskmail.web.routing import Area, NavEntry, WebExtension
from deskmail.web.sessions import (
    clear_session_cookie,
    cookie_key,
    end_session,
    is_secure,
    set_session_cookie,
    start_session,
)
from models import Event, UserAccount, utcnow

LOGIN_COOKIE = "deskmail_login"
DEFAULT_PAGE = "/tickets"
MAX_NEXT_CHARS = 2000

area = Area(name="auth")


def client_ip(request: Request) -> str:
    """The client's address (the proxy's client when the proxy is trusted)."""
    return request.client.host if request.client else ""


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (other sites, odd forms) is refused."""
    if (
        not value
        or len(value) > MAX_NEXT_CHARS
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(c) < 33 or c == "\\" for c in value)
    ):
        return DEFAULT_PAGE
    return value


def _login_token(context: WebContext, nonce: str) -> str:
    return hmac.new(
        context.config.secret, b"deskmail.login:" + nonce.encode(), hashlib.sha256
    ).hexdigest()


def _login_page(
    request: Request,
    context: WebContext,
    *,
    next_path: str,
    email: str = "",
    error: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {
            "next": next_path,
            "email": email,
            "error": error,
            "login_token": _login_token(context, nonce),
        },
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        path="/login",
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=is_secure(request, context.config),
    )
    return response


@area.get("/", access=Access.PUBLIC, name="home")
def home() -> RedirectResponse:
    """The start page is the queue (which sends anonymous visitors to the login)."""
    return RedirectResponse(DEFAULT_PAGE, status_code=303)


@area.get("/login", access=Access.PUBLIC, name="login_form")
def login_form(request: Request, ctx: Ctx, next: str = "") -> Response:
    """The login form (or straight on, when already signed in)."""
    if resolve_principal(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, ctx, next_path=safe_next(next))


@area.post("/login", access=Access.PUBLIC, name="login")
def login(
    *,
    request: Request,
    ctx: Ctx,
    email: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=MAX_NEXT_CHARS)] = "",
) -> Response:
    """Check the password (within the rate limits) and start a session."""
    next_path = safe_next(next)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(csrf_token.encode(), _login_token(ctx, nonce).encode()):
        return _login_page(
            request,
            ctx,
            next_path=next_path,
            email=email,
            error="The login form had expired. Please try again.",
            status_code=403,
        )
    policy = ctx.config.throttle
    ip = client_ip(request)
    keys = [throttle.account_key(email), throttle.address_key(ip)]
    now = utcnow()
    key: str | None = None
    locked_until = None
    with transaction(ctx.app.sessions) as db:
        locked_until = throttle.locked_until(db, keys, now)
        if locked_until is None:
            user = verify_password(db, email, password, ctx.config.passwords)
            if user is None:
                for throttle_key, limit in zip(
                    keys, (policy.max_failures_account, policy.max_failures_ip), strict=True
                ):
                    if throttle.record_failure(
                        db, throttle_key, limit=limit, policy=policy, now=now
                    ):
                        db.add(
                            Event(
                                kind="login_locked",
                                actor=email.strip().lower()[:320],
                                data={"key": throttle_key.split(":", 1)[0], "ip": ip},
                            )
                        )
            else:
                throttle.clear(db, keys[0])
                key = _start(request, ctx, db, user, ip)
    if locked_until is not None:
        wait = max(1, int((locked_until - now).total_seconds()))
        return _login_page(
            request,
            ctx,
            next_path=next_path,
            email=email,
            error=f"Too many failed attempts. Try again in {-(-wait // 60)} minute(s).",
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    if key is None:
        return _login_page(
            request,
            ctx,
            next_path=next_path,
            email=email,
            error="Wrong e-mail address or password.",
            status_code=401,
        )
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, key, secure=is_secure(request, ctx.config), config=ctx.config)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _start(request: Request, ctx: WebContext, db: Session, user: UserAccount, ip: str) -> str:
    old = cookie_key(request, ctx.config)
    if old is not None:
        end_session(db, old)
    key = start_session(
        db,
        user,
        config=ctx.config,
        ip=ip,
        user_agent=request.headers.get("user-agent", ""),
    )
    db.add(Event(kind="login", actor=user.person.email, data={"ip": ip}))
    return key


@area.post("/logout", access=Access.AGENT, name="logout")
def logout(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """End this session."""
    with transaction(ctx.app.sessions) as db:
        end_session(db, user.session_key)
    response = redirect(request, "/login", flash="You are signed out.")
    clear_session_cookie(response, secure=is_secure(request, ctx.config))
    return response


@area.get("/account", access=Access.AGENT, name="account")
def account(request: Request, user: CurrentUser) -> Response:
    """The signed-in person's account: who they are, and a password change."""
    return render(request, "account.html", {"title": "Your account"})


@area.post("/account/password", access=Access.AGENT, name="account_password")
def account_password(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    current_password: Annotated[str, Form(max_length=2000)] = "",
    new_password: Annotated[str, Form(max_length=2000)] = "",
    repeat_password: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Change one's own password; every other session ends, this browser stays signed in."""
    if user.via != "session":
        return redirect(request, "/account", flash="Sign in with a password first.", level="error")
    if new_password != repeat_password:
        return redirect(request, "/account", flash="The new passwords differ.", level="error")
    try:
        with transaction(ctx.app.sessions) as db:
            checked = verify_password(db, user.email, current_password, ctx.config.passwords)
            if checked is None:
                raise AccountError("the current password is wrong")
            set_password(
                db, checked.id, new_password, actor=user.email, params=ctx.config.passwords
            )
            key = start_session(
                db,
                checked,
                config=ctx.config,
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
    except AccountError as exc:
        return redirect(request, "/account", flash=f"Not changed: {exc}.", level="error")
    response = redirect(request, "/account", flash="Password changed; other sessions ended.")
    set_session_cookie(response, key, secure=is_secure(request, ctx.config), config=ctx.config)
    return response


EXTENSION = WebExtension(
    areas=(area,),
    nav=(NavEntry("Account", "account", Access.AGENT, order=90),),
)
