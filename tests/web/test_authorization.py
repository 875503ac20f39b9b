"""Every route of the web app refuses whoever its access level excludes.

The routes are enumerated from the app itself, so a route added without an access level (or
with a path parameter the test cannot fill) fails here. For each route: anonymous callers are
sent to the login (pages) or get 401 (API); accounts below the route's role get 403; changes
made with a session cookie but without the CSRF token, or from another origin, get 403;
requester routes open nothing with a tampered token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount
from starlette.testclient import TestClient

from deskmail.accounts import find_user
from deskmail.db import transaction
from deskmail.web.auth import Access
from deskmail.web.routing import app_routes, route_access
from deskmail.web.status_links import make_status_token
from models import Category, InboundMessage, Message, Role
from tests.web.helpers import Desk, csrf_of, mail

_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")
LOWER_ROLE = {Access.EDITOR: Role.AGENT, Access.ADMIN: Role.EDITOR}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    access: Access

    @property
    def api(self) -> bool:
        return self.template.startswith("/api/")


def endpoints(desk: Desk) -> list[Endpoint]:
    found = []
    for path, route in app_routes(desk.web.routes):
        if isinstance(route, Mount) and path == "/static":
            continue  # static files are public by design
        assert isinstance(route, APIRoute), f"{route!r} was not added through an Area"
        access = route_access(route)
        assert access is not None, f"{path} has no access level"
        found += [Endpoint(m, path, access) for m in sorted(route.methods or ())]
    return found


@dataclass
class World:
    desk: Desk
    values: dict[str, str]

    def url(self, endpoint: Endpoint, **overrides: str) -> str:
        values = {**self.values, **overrides}

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            assert name in values, f"add a test value for the path parameter {{{name}}}"
            return values[name]

        return _PARAM.sub(fill, endpoint.template)

    def client(self, role: Role | None) -> TestClient:
        client = self.desk.fresh_client(follow_redirects=False)
        if role is not None:
            self.desk.login(f"{role.value}@example.org", client=client)
        return client


@pytest.fixture
def world(desk: Desk) -> World:
    for role in Role:
        desk.add_user(f"{role.value}@example.org", role)
    number = desk.ticket(
        raw=mail(html="<p>hello</p>", attachments=[("a.pdf", "application/pdf", b"%PDF-1")])
    )
    with transaction(desk.app.sessions) as db:
        message = db.query(Message).filter_by(ticket_id=number).one()
        category = Category(key="printing", name="Printing")
        db.add(category)
        db.flush()
        values = {
            "number": str(number),
            "message_id": str(message.id),
            "attachment_id": str(message.attachments[0].id),
            "category_id": str(category.id),
            "inbound_id": str(db.query(InboundMessage.id).scalar()),
            "user_id": "1",
            "token_id": "1",
            "slug": "some-article",
            "version": "1",
            "suggestion_id": "1",
            "kind": "resolution",
            "name": "body.txt",
            "token": make_status_token(
                desk.web.state.web.config.secret, number, "alice@example.com"
            ),
        }
    return World(desk, values)


def test_every_route_declares_its_access(desk: Desk) -> None:
    found = endpoints(desk)
    assert len(found) > 30
    by_access = {e.access for e in found}
    # Editors' pages (the knowledge base) come with their own area; the rest exist now.
    assert by_access >= {Access.PUBLIC, Access.REQUESTER, Access.AGENT, Access.ADMIN}


def test_anonymous_callers_are_refused(world: World) -> None:
    client = world.client(None)
    checked = 0
    for endpoint in endpoints(world.desk):
        if endpoint.access in (Access.PUBLIC, Access.REQUESTER):
            continue
        response = client.request(endpoint.method, world.url(endpoint))
        where = f"{endpoint.method} {endpoint.template}"
        if endpoint.api:
            assert response.status_code == 401, where
            assert response.headers["www-authenticate"].startswith("Bearer")
        else:
            assert response.status_code == 303, where
            assert response.headers["location"].startswith("/login"), where
        checked += 1
    assert checked > 25


@pytest.mark.parametrize("access", [Access.EDITOR, Access.ADMIN])
def test_lower_roles_are_refused(world: World, access: Access) -> None:
    role = LOWER_ROLE[access]
    client = world.client(role)
    csrf = csrf_of(client.get("/account").text)
    with world.desk.app.read_sessions() as db:
        user = find_user(db, f"{role.value}@example.org")
        assert user is not None
    token = world.desk.token_for(user.id)
    refused = 0
    for endpoint in endpoints(world.desk):
        if endpoint.access is not access:
            continue
        url = world.url(endpoint)
        where = f"{endpoint.method} {endpoint.template} as {role}"
        data = {"csrf_token": csrf}
        response = client.request(endpoint.method, url, data=data if not endpoint.api else None)
        assert response.status_code == 403, where
        if endpoint.api:
            bearer = world.desk.fresh_client().request(
                endpoint.method, url, headers={"Authorization": f"Bearer {token}"}
            )
            assert bearer.status_code == 403, where
        refused += 1
    if access is Access.ADMIN:
        assert refused > 15


def test_changes_without_csrf_token_are_refused(world: World) -> None:
    client = world.client(Role.ADMIN)
    csrf = csrf_of(client.get("/account").text)
    checked = 0
    for endpoint in endpoints(world.desk):
        if endpoint.method not in UNSAFE or endpoint.access in (Access.PUBLIC, Access.REQUESTER):
            continue
        url = world.url(endpoint)
        where = f"{endpoint.method} {endpoint.template}"
        if endpoint.api:
            missing = client.request(endpoint.method, url, json={})
            wrong = client.request(
                endpoint.method, url, json={}, headers={"X-CSRF-Token": "0" * 64}
            )
            foreign = client.request(
                endpoint.method,
                url,
                json={},
                headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
            )
        else:
            missing = client.request(endpoint.method, url, data={"text": "x"})
            wrong = client.request(endpoint.method, url, data={"csrf_token": "0" * 64})
            foreign = client.request(
                endpoint.method,
                url,
                data={"csrf_token": csrf},
                headers={"Origin": "https://evil.example"},
            )
        assert missing.status_code == 403, where
        assert wrong.status_code == 403, where
        assert foreign.status_code == 403, where
        checked += 1
    assert checked > 15
    # The same session with its token gets through (here: a note).
    number = world.values["number"]
    ok = client.post(f"/tickets/{number}/notes", data={"csrf_token": csrf, "text": "fine"})
    assert ok.status_code == 303
    api_ok = client.post(
        f"/api/v1/tickets/{number}/notes", json={"text": "fine"}, headers={"X-CSRF-Token": csrf}
    )
    assert api_ok.status_code == 201


def test_a_cross_site_fetch_is_refused_even_with_the_token(world: World) -> None:
    client = world.client(Role.AGENT)
    csrf = csrf_of(client.get("/account").text)
    number = world.values["number"]
    response = client.post(
        f"/tickets/{number}/notes",
        data={"csrf_token": csrf, "text": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403


def test_requester_routes_refuse_tampered_tokens(world: World) -> None:
    client = world.client(None)
    good = world.values["token"]
    payload, stamp, signature = good.split(".")
    other_ticket = world.desk.ticket(subject="Another person's problem", sender="zed@example.com")
    forged_payload = make_status_token(b"wrong secret", other_ticket, "alice@example.com")
    tampered = [
        f"{payload}.{stamp}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}",
        f"{forged_payload.split('.')[0]}.{stamp}.{signature}",
        forged_payload,
        "not-a-token",
        good + "x",
    ]
    for endpoint in endpoints(world.desk):
        if endpoint.access is not Access.REQUESTER:
            continue
        assert client.request(endpoint.method, world.url(endpoint)).status_code in (200, 404)
        for token in tampered:
            response = client.request(endpoint.method, world.url(endpoint, token=token))
            assert response.status_code == 404, f"{endpoint.template} with {token}"
