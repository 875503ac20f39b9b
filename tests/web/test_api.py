"""The JSON API: explicit calls with Bearer tokens, and schema-driven tests of its OpenAPI
document with schemathesis (a limited number of generated requests per operation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import create_engine, select

from deskmail.app import App
from deskmail.db import make_sessionmaker, transaction
from deskmail.settings import load_settings
from deskmail.web.app import create_app
from models import Category, Event, InboundMessage, InboundStatus, Message, Role
from tests.conftest import HELPDESK
from tests.web.helpers import Desk, mail

ADMIN = "admin@example.org"
AGENT = "agent@example.org"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(desk: Desk) -> dict[Role, str]:
    made = {}
    for role in (Role.AGENT, Role.ADMIN):
        user_id = desk.add_user(f"{role.value}@example.org", role, name=role.value.title())
        made[role] = desk.token_for(user_id, name=f"{role.value} integration")
    return made


def test_openapi_document(desk: Desk) -> None:
    document = desk.client.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "/api/v1/tickets" in paths
    assert all(path.startswith("/api/v1/") for path in paths)
    operation = paths["/api/v1/tickets/{number}/notes"]["post"]
    assert operation["x-deskmail-access"] == "agent"
    assert {"bearerAuth": []} in operation["security"]
    assert paths["/api/v1/users"]["post"]["x-deskmail-access"] == "admin"
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_ticket_workflow_with_a_token(desk: Desk, tokens: dict[Role, str]) -> None:
    api = desk.fresh_client()
    headers = _bearer(tokens[Role.AGENT])
    number = desk.ticket(
        raw=mail(
            subject="Keyboard missing keys",
            attachments=[("photo.jpg", "image/jpeg", b"\xff\xd8\xff")],
        )
    )
    assert api.get("/api/v1/me", headers=headers).json() == {
        "email": AGENT,
        "name": "Agent",
        "role": "agent",
        "group": "",
        "via": "token",
    }
    listing = api.get("/api/v1/tickets", headers=headers).json()
    assert listing["total"] == 1
    assert listing["items"][0]["number"] == number
    assert listing["items"][0]["requester"] == "alice@example.com"

    note = api.post(
        f"/api/v1/tickets/{number}/notes", json={"text": "Ordered a new one."}, headers=headers
    )
    assert note.status_code == 201
    assert note.json()["text"] == "Ordered a new one."
    status = api.post(
        f"/api/v1/tickets/{number}/status", json={"status": "pending"}, headers=headers
    )
    assert status.json()["status"] == "pending"
    assigned = api.post(
        f"/api/v1/tickets/{number}/assign",
        json={"assignee": "me", "group": "Desk"},
        headers=headers,
    )
    assert assigned.json() == {
        "number": number,
        "status": "pending",
        "assignee": AGENT,
        "group": "Desk",
    }

    detail = api.get(f"/api/v1/tickets/{number}", headers=headers).json()
    assert detail["status"] == "pending"
    assert detail["assignee"]["email"] == AGENT
    directions = [m["direction"] for m in detail["messages"]]
    assert directions == ["inbound", "note"]
    assert detail["messages"][0]["from"]["email"] == "alice@example.com"
    attachment = detail["messages"][0]["attachments"][0]
    assert attachment["filename"] == "photo.jpg"
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds[-3:] == ["note_added", "status_changed", "assigned"]
    events = api.get(f"/api/v1/tickets/{number}/events", headers=headers).json()
    assert [e["kind"] for e in events] == kinds
    download = api.get(f"/api/v1/attachments/{attachment['id']}", headers=headers)
    assert download.content == b"\xff\xd8\xff"
    assert download.headers["content-disposition"].startswith("attachment;")

    # The token's owner is recorded as the author of every change.
    with desk.app.read_sessions() as db:
        actors = {
            e.actor
            for e in db.execute(
                select(Event).where(Event.kind != "ticket_created", Event.ticket_id == number)
            ).scalars()
            if e.kind != "mail_in"
        }
    assert actors == {AGENT}

    assert api.get("/api/v1/tickets/99999", headers=headers).status_code == 404
    refused = api.post(f"/api/v1/tickets/{number}/status", json={"status": "new"}, headers=headers)
    assert refused.status_code == 422
    nobody = api.post(
        f"/api/v1/tickets/{number}/assign", json={"assignee": "alice@example.com"}, headers=headers
    )
    assert nobody.status_code == 404
    assert "no active account" in nobody.json()["detail"]


def test_filters_through_the_api(desk: Desk, tokens: dict[Role, str]) -> None:
    api = desk.fresh_client()
    headers = _bearer(tokens[Role.AGENT])
    first = desk.ticket(subject="Wifi in meeting room")
    second = desk.ticket(subject="Phone broken", sender="bob@example.com")
    api.post(f"/api/v1/tickets/{second}/status", json={"status": "closed"}, headers=headers)
    assert [i["number"] for i in api.get("/api/v1/tickets", headers=headers).json()["items"]] == [
        first
    ]
    closed = api.get(
        "/api/v1/tickets", params={"status": ["closed", "open"]}, headers=headers
    ).json()
    assert [i["number"] for i in closed["items"]] == [second]
    found = api.get(
        "/api/v1/tickets", params={"status": ["new", "closed"], "q": "wifi"}, headers=headers
    ).json()
    assert [i["number"] for i in found["items"]] == [first]
    assert (
        api.get("/api/v1/tickets", params={"sort": "sideways"}, headers=headers).status_code == 422
    )


def test_admin_endpoints(desk: Desk, tokens: dict[Role, str]) -> None:
    api = desk.fresh_client()
    admin = _bearer(tokens[Role.ADMIN])
    agent = _bearer(tokens[Role.AGENT])
    created = api.post(
        "/api/v1/users",
        json={
            "email": "Neo@Example.org",
            "role": "editor",
            "password": "a long password!",
            "name": "Neo",
        },
        headers=admin,
    )
    assert created.status_code == 201
    user = created.json()
    assert (user["email"], user["role"], user["active"]) == ("neo@example.org", "editor", True)
    again = api.post(
        "/api/v1/users",
        json={"email": "neo@example.org", "role": "agent", "password": "a long password!"},
        headers=admin,
    )
    assert again.status_code == 409
    changed = api.patch(
        f"/api/v1/users/{user['id']}", json={"active": False, "group": "KB"}, headers=admin
    )
    assert changed.json()["active"] is False
    assert api.get("/api/v1/users", headers=agent).status_code == 403
    assert {u["email"] for u in api.get("/api/v1/users", headers=admin).json()} == {
        ADMIN,
        AGENT,
        "neo@example.org",
    }

    category = api.post(
        "/api/v1/categories", json={"key": "printing", "name": "Printing"}, headers=admin
    )
    assert category.status_code == 201
    sub = api.post(
        "/api/v1/categories", json={"key": "printing/toner", "name": "Toner"}, headers=admin
    ).json()
    assert sub["parent"] == "printing"
    patched = api.patch(
        f"/api/v1/categories/{sub['id']}", json={"description": "Toner and ink"}, headers=admin
    )
    assert patched.json()["description"] == "Toner and ink"
    assert (
        api.post(
            "/api/v1/categories", json={"key": "Bad Key", "name": "x"}, headers=admin
        ).status_code
        == 422
    )
    orphan = api.post("/api/v1/categories", json={"key": "ghost/child", "name": "x"}, headers=admin)
    assert orphan.status_code == 409
    assert (
        api.post(
            "/api/v1/categories", json={"key": "printing", "name": "x"}, headers=admin
        ).status_code
        == 409
    )
    me = next(u for u in api.get("/api/v1/users", headers=admin).json() if u["email"] == ADMIN)
    assert (
        api.patch(f"/api/v1/users/{me['id']}", json={"role": "agent"}, headers=admin).status_code
        == 409
    )
    assert api.patch("/api/v1/users/999", json={"name": "x"}, headers=admin).status_code == 404
    assert (
        api.post(
            "/api/v1/users",
            json={
                "email": "x@example.org",
                "role": "agent",
                "password": "long enough pw",
                "extra": 1,
            },
            headers=admin,
        ).status_code
        == 422
    )
    assert [c["key"] for c in api.get("/api/v1/categories", headers=agent).json()] == [
        "printing",
        "printing/toner",
    ]

    number = desk.ticket()
    with transaction(desk.app.sessions) as db:
        row = db.execute(select(InboundMessage)).scalar_one()
        row.status = InboundStatus.DEAD
        inbound_id = row.id
    dead = api.get("/api/v1/inbound", headers=admin).json()
    assert [d["id"] for d in dead] == [inbound_id]
    assert dead[0]["ticket"] == number
    assert api.post(f"/api/v1/inbound/{inbound_id}/retry", headers=admin).json() == {
        "id": inbound_id,
        "queued": True,
    }
    assert api.post(f"/api/v1/inbound/{inbound_id}/retry", headers=admin).json()["queued"] is False
    assert api.post("/api/v1/inbound/999/retry", headers=admin).status_code == 404


def test_bad_credentials(desk: Desk, tokens: dict[Role, str]) -> None:
    api = desk.fresh_client()
    for header in (
        "Bearer nope",
        "Bearer " + tokens[Role.AGENT] + "x",
        "Basic YWdlbnQ6cGFzcw==",
        "Bearer",
    ):
        response = api.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
    # A bad Authorization header does not fall back to a valid session cookie.
    desk.login(AGENT)
    assert desk.client.get("/api/v1/me").status_code == 200
    assert (
        desk.client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    # Tokens open the API only, never the pages.
    page = api.get("/tickets", headers=_bearer(tokens[Role.AGENT]), follow_redirects=False)
    assert page.status_code == 303


def test_oversized_bodies_are_refused(desk: Desk, tokens: dict[Role, str]) -> None:
    number = desk.ticket()
    response = desk.fresh_client().post(
        f"/api/v1/tickets/{number}/notes",
        content=b'{"text": "' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={**_bearer(tokens[Role.AGENT]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


# Schema-driven tests ----------------------------------------------------------------------


@pytest.fixture
def api_desk(sqlite_desk: Desk) -> tuple[Desk, dict[str, str]]:
    """A desk with data for generated requests to hit: a ticket, a category, a dead mail."""
    desk = sqlite_desk
    admin_id = desk.add_user(ADMIN, Role.ADMIN)
    desk.add_user(AGENT, Role.AGENT)
    desk.ticket(raw=mail(attachments=[("a.txt", "text/plain", b"x")]))
    with transaction(desk.app.sessions) as db:
        db.add(Category(key="general", name="General"))
        row = db.execute(select(InboundMessage)).scalar_one()
        row.status = InboundStatus.QUARANTINED
        assert db.execute(select(Message)).first() is not None
    return desk, _bearer(desk.token_for(admin_id))


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that never touches a database or the disk."""
    settings = load_settings(
        data_dir=Path("/nonexistent/deskmail-schema"),
        database_url="sqlite://",
        secret_key="schema only",
        addresses=[HELPDESK],
    )
    engine = create_engine("sqlite://")
    app = App(settings, engine, make_sessionmaker(engine), make_sessionmaker(engine))
    document = create_app(app).openapi()
    engine.dispose()
    return document


OPERATIONS = [
    (path, method.upper()) for path, methods in _document()["paths"].items() for method in methods
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_api_conforms_to_its_schema(
    api_desk: tuple[Desk, dict[str, str]], path: str, method: str
) -> None:
    """Generated requests (valid and invalid) never cause a server error, and every response
    matches the document: status codes, content types, bodies."""
    desk, headers = api_desk
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", desk.web)
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers)

    check()
