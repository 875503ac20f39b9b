"""Signing in and out: sessions, cookies, login CSRF, rate limits and lockout.

On both databases: the throttle counts in the database so that every web process sees it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from deskmail.accounts import find_user, set_password, update_user
from deskmail.db import transaction
from deskmail.web.config import ThrottlePolicy
from deskmail.web.routes_auth import safe_next
from models import Event, utcnow
from models.web import LoginThrottle, WebSession
from tests.web.helpers import PASSWORD, Desk, csrf_of

AGENT = "agent@example.org"


def _session_cookie(response: Any) -> str:  # the test client's response (httpx or httpx2)
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if "_session=" in c]
    return str(cookie)


def _attempt(desk: Desk, email: str, password: str, *, client: object = None) -> int:
    browser = client or desk.client
    page = browser.get("/login")  # type: ignore[attr-defined]
    response = browser.post(  # type: ignore[attr-defined]
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    return int(response.status_code)


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(desk: Desk) -> None:
    desk.add_user(AGENT, name="Agnes")
    page = desk.client.get("/login")
    response = desk.client.post(
        "/login",
        data={"email": AGENT.upper(), "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = _session_cookie(response)
    assert cookie.startswith("deskmail_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test below
    assert "Max-Age" not in cookie  # ends with the browser
    stolen = desk.client.cookies["deskmail_session"]
    csrf = csrf_of(desk.client.get("/account").text)
    assert desk.client.get("/tickets").status_code == 200
    logout = desk.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert logout.status_code == 303
    # The cookie is gone from the browser, and a copy of it opens nothing: the row is gone.
    thief = desk.fresh_client(follow_redirects=False)
    thief.cookies.set("deskmail_session", stolen)
    assert thief.get("/tickets").status_code == 303
    with desk.app.read_sessions() as db:
        assert db.execute(select(WebSession)).first() is None
        kinds = [e.kind for e in db.execute(select(Event)).scalars()]
    assert "login" in kinds


def test_secure_cookie_behind_https(desk: Desk) -> None:
    desk.add_user(AGENT)
    client = desk.fresh_client(base_url="https://testserver")
    desk.login(AGENT, client=client)
    assert "__Host-deskmail_session" in client.cookies
    response = client.get("/tickets")
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_trusted_proxy_decides_the_scheme(sqlite_desk: Desk) -> None:
    proxied = Desk.open(sqlite_desk.app, trusted_proxies=("testclient",))
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    page = proxied.fresh_client(headers=headers).get("/login")
    (cookie,) = page.headers.get_list("set-cookie")
    assert "Secure" in cookie
    assert page.headers["strict-transport-security"]
    # Without the trusted proxy, the same headers change nothing.
    page = sqlite_desk.fresh_client(headers=headers).get("/login")
    (cookie,) = page.headers.get_list("set-cookie")
    assert "Secure" not in cookie
    assert "strict-transport-security" not in page.headers


def test_login_form_needs_its_csrf_token(desk: Desk) -> None:
    desk.add_user(AGENT)
    page = desk.client.get("/login")
    token = csrf_of(page.text)
    no_token = desk.client.post(
        "/login", data={"email": AGENT, "password": PASSWORD}, follow_redirects=False
    )
    assert no_token.status_code == 403
    # A token without the matching cookie (an attacker's own form) is refused too.
    other = desk.fresh_client(follow_redirects=False)
    forged = other.post(
        "/login",
        data={"email": AGENT, "password": PASSWORD, "csrf_token": token},
    )
    assert forged.status_code == 403
    cross_site = desk.client.post(
        "/login",
        data={"email": AGENT, "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert cross_site.status_code == 403


def test_wrong_password_unknown_user_and_inactive_account_are_refused_alike(desk: Desk) -> None:
    user_id = desk.add_user(AGENT)
    desk.add_user("gone@example.org")
    with transaction(desk.app.sessions) as db:
        gone = find_user(db, "gone@example.org")
        assert gone is not None
        update_user(db, gone.id, active=False, actor="test")
    assert _attempt(desk, AGENT, "wrong password!") == 401
    assert _attempt(desk, "nobody@example.org", PASSWORD) == 401
    assert _attempt(desk, "gone@example.org", PASSWORD) == 401
    assert _attempt(desk, AGENT, PASSWORD) == 303
    assert user_id


def test_next_goes_only_to_local_paths() -> None:
    assert safe_next("/tickets/5?x=1") == "/tickets/5?x=1"
    for hostile in (
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/tickets\r\nSet-Cookie: x=1",
        "",
        None,
    ):
        assert safe_next(hostile) == "/tickets"


def test_login_returns_to_the_page_asked_for(desk: Desk) -> None:
    desk.add_user(AGENT)
    number = desk.ticket()
    first = desk.client.get(f"/tickets/{number}", follow_redirects=False)
    assert first.headers["location"] == f"/login?next=%2Ftickets%2F{number}"
    page = desk.client.get(first.headers["location"])
    response = desk.client.post(
        "/login",
        data={
            "email": AGENT,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": f"/tickets/{number}",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/tickets/{number}"


def test_account_lockout_after_repeated_failures(desk: Desk) -> None:
    policy = ThrottlePolicy(max_failures_account=3, max_failures_ip=100)
    locked = Desk.open(desk.app, throttle=policy)
    locked.add_user(AGENT)
    for _ in range(2):
        assert _attempt(locked, AGENT, "wrong password!") == 401
    assert _attempt(locked, AGENT, "wrong password!") == 401  # this one locks
    # Now even the right password is refused, from any address.
    assert _attempt(locked, AGENT, PASSWORD) == 429
    assert _attempt(locked, AGENT, PASSWORD, client=locked.fresh_client()) == 429
    with desk.app.read_sessions() as db:
        events = [e for e in db.execute(select(Event)).scalars() if e.kind == "login_locked"]
    assert len(events) == 1
    assert events[0].data["key"] == "account"
    # Once the lock has run out, the right password works again.
    with transaction(desk.app.sessions) as db:
        row = db.get(LoginThrottle, f"account:{AGENT}")
        assert row is not None
        assert row.locked_until is not None
        row.locked_until = utcnow() - timedelta(seconds=1)
    assert _attempt(locked, AGENT, PASSWORD) == 303


def test_address_lockout_across_accounts(desk: Desk) -> None:
    policy = ThrottlePolicy(max_failures_account=100, max_failures_ip=4)
    locked = Desk.open(desk.app, throttle=policy)
    locked.add_user(AGENT)
    for index in range(4):
        assert _attempt(locked, f"guess{index}@example.org", "wrong password!") == 401
    response_code = _attempt(locked, AGENT, PASSWORD)
    assert response_code == 429


def test_failures_outside_the_window_do_not_add_up(desk: Desk) -> None:
    policy = ThrottlePolicy(max_failures_account=2, max_failures_ip=100)
    locked = Desk.open(desk.app, throttle=policy)
    locked.add_user(AGENT)
    assert _attempt(locked, AGENT, "wrong password!") == 401
    with transaction(desk.app.sessions) as db:
        row = db.get(LoginThrottle, f"account:{AGENT}")
        assert row is not None
        row.window_started_at = utcnow() - policy.window - timedelta(seconds=1)
    assert _attempt(locked, AGENT, "wrong password!") == 401
    assert _attempt(locked, AGENT, PASSWORD) == 303


def test_password_reset_and_deactivation_end_sessions(desk: Desk) -> None:
    user_id = desk.add_user(AGENT)
    desk.login(AGENT)
    assert desk.client.get("/tickets", follow_redirects=False).status_code == 200
    with transaction(desk.app.sessions) as db:
        set_password(db, user_id, "another long password", actor="admin")
    assert desk.client.get("/tickets", follow_redirects=False).status_code == 303
    desk.login(AGENT, "another long password")
    with transaction(desk.app.sessions) as db:
        update_user(db, user_id, active=False, actor="admin")
    assert desk.client.get("/tickets", follow_redirects=False).status_code == 303


def test_idle_and_expired_sessions_are_refused(desk: Desk) -> None:
    desk.add_user(AGENT)
    desk.login(AGENT)
    with transaction(desk.app.sessions) as db:
        row = db.execute(select(WebSession)).scalar_one()
        row.last_seen_at = utcnow() - timedelta(hours=9)
    assert desk.client.get("/tickets", follow_redirects=False).status_code == 303
    desk.login(AGENT)
    with transaction(desk.app.sessions) as db:
        row = db.execute(select(WebSession)).scalar_one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert desk.client.get("/tickets", follow_redirects=False).status_code == 303


def test_tampered_session_cookie_is_ignored(desk: Desk) -> None:
    desk.add_user(AGENT)
    desk.login(AGENT)
    value = desk.client.cookies["deskmail_session"]
    key, _, signature = value.rpartition(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    for forged in (f"{key}x.{signature}", f"{key}.{flipped}", key, ""):
        browser = desk.fresh_client(follow_redirects=False)
        browser.cookies.set("deskmail_session", forged)
        assert browser.get("/tickets").status_code == 303, forged
    browser = desk.fresh_client(follow_redirects=False)
    browser.cookies.set("deskmail_session", value)
    assert browser.get("/tickets").status_code == 200


def test_own_password_change(desk: Desk) -> None:
    desk.add_user(AGENT)
    csrf = desk.login(AGENT)
    other = desk.fresh_client(follow_redirects=False)
    desk.login(AGENT, client=other)
    wrong = desk.client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": "not it at all",
            "new_password": "brand new password",
            "repeat_password": "brand new password",
        },
    )
    assert "current password is wrong" in wrong.text
    changed = desk.client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "brand new password",
            "repeat_password": "brand new password",
        },
    )
    assert "Password changed" in changed.text
    # This browser stays in, the other session ended.
    assert desk.client.get("/tickets", follow_redirects=False).status_code == 200
    assert other.get("/tickets").status_code == 303
    assert _attempt(desk, AGENT, "brand new password", client=desk.fresh_client()) == 303


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_account_password_policy(desk: Desk, password: str) -> None:
    desk.add_user(AGENT)
    csrf = desk.login(AGENT)
    response = desk.client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": password,
            "repeat_password": password,
        },
    )
    assert "Not changed" in response.text
