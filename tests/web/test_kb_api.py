"""The knowledge base through the JSON API with Bearer tokens: the editors' use cases, the
version history, "from ticket" and the gaps; agents read, editors change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskmail.db import transaction
from deskmail.ticket_actions import Actor, change_status
from deskmail.web.kb_pages import use_knowledge
from models import Category, Event, Role, Ticket, TicketStatus
from tests.web.helpers import Desk
from tests.web.kb_fixtures import EDITOR, accounts


@pytest.fixture
def api(sqlite_desk: Desk) -> tuple[Desk, dict[Role, dict[str, str]]]:
    ids = accounts(sqlite_desk)
    with transaction(sqlite_desk.app.sessions) as db:
        db.add_all(
            [Category(key="network", name="Network"), Category(key="network/vpn", name="VPN")]
        )
    headers = {
        role: {"Authorization": f"Bearer {sqlite_desk.token_for(user_id)}"}
        for role, user_id in ids.items()
    }
    return sqlite_desk, headers


BODY = {
    "title": "VPN certificate error",
    "problem": "The VPN client says the certificate has expired.",
    "solution": "1. Open the company portal.\n2. Renew the certificate.",
    "category": "network/vpn",
    "tags": ["vpn", "Certificate"],
    "audience": "public",
}


def test_create_edit_history_and_restore(api: tuple[Desk, dict[Role, dict[str, str]]]) -> None:
    desk, headers = api
    client = desk.fresh_client()
    editor, agent = headers[Role.EDITOR], headers[Role.AGENT]
    created = client.post("/api/v1/articles", json=BODY, headers=editor)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["slug"] == "vpn-certificate-error"
    assert data["status"] == "draft"
    assert data["current"]["tags"] == ["vpn", "certificate"]
    assert data["current"]["created_by"] == EDITOR
    assert data["stats"]["solve_rate"] is None
    again = {**BODY, "slug": "vpn-certificate-error"}
    assert client.post("/api/v1/articles", json=again, headers=editor).status_code == 409
    unknown = client.post("/api/v1/articles", json={**BODY, "category": "nope"}, headers=editor)
    assert unknown.status_code == 409

    changed = {**BODY, "solution": "Renew the certificate in the portal.", "note": "shorter"}
    edited = client.put("/api/v1/articles/vpn-certificate-error", json=changed, headers=editor)
    assert edited.status_code == 200
    assert edited.json()["current_version"] == 2
    assert [v["note"] for v in edited.json()["versions"]] == ["created", "shorter"]

    diff = client.get(
        "/api/v1/articles/vpn-certificate-error/diff", params={"old": 1, "new": 2}, headers=agent
    ).json()
    assert "+Renew the certificate in the portal." in diff["diff"]
    assert "-2. Renew the certificate." in diff["diff"]
    first = client.get("/api/v1/articles/vpn-certificate-error/versions/1", headers=agent)
    assert first.json()["solution"] == BODY["solution"]
    restored = client.post(
        "/api/v1/articles/vpn-certificate-error/versions/1/restore", headers=editor
    )
    assert restored.json()["current"]["solution"] == BODY["solution"]
    assert restored.json()["current_version"] == 3

    archived = client.post("/api/v1/articles/vpn-certificate-error/archive", headers=editor)
    assert archived.json()["status"] == "archived"
    listed = client.get("/api/v1/articles", params={"status": "archived"}, headers=agent).json()
    assert [a["slug"] for a in listed] == ["vpn-certificate-error"]
    assert client.get("/api/v1/articles", params={"status": "draft"}, headers=agent).json() == []
    assert client.get("/api/v1/articles/nope", headers=agent).status_code == 404
    assert client.get("/api/v1/articles/Bad_Slug", headers=agent).status_code == 422

    # Agents read; changes need an editor.
    assert client.post("/api/v1/articles", json=BODY, headers=agent).status_code == 403
    for path in ("publish", "archive", "unpublish", "versions/1/restore"):
        response = client.post(f"/api/v1/articles/vpn-certificate-error/{path}", headers=agent)
        assert response.status_code == 403, path
    assert client.get("/api/v1/knowledge-gaps", headers=agent).status_code == 403
    assert client.get("/api/v1/articles").status_code == 401
    with desk.app.read_sessions() as db:
        kinds = [
            e.kind
            for e in db.execute(select(Event).where(Event.ticket_id.is_(None))).scalars()
            if e.kind.startswith("article_")
        ]
    assert kinds == ["article_created", "article_edited", "article_restored", "article_archived"]


def test_from_ticket_and_gaps(api: tuple[Desk, dict[Role, dict[str, str]]]) -> None:
    desk, headers = api
    client = desk.fresh_client()
    editor = headers[Role.EDITOR]
    number = desk.ticket(subject="Wi-Fi drops in room 4.12", body="It drops every hour.")
    early = client.post(f"/api/v1/articles/from-ticket/{number}", headers=editor)
    assert early.status_code == 409
    assert "no resolution" in early.json()["detail"]
    with transaction(desk.app.sessions) as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        ticket.resolution = "Moved the access point's channel away from the neighbours'."
        change_status(db, number, TicketStatus.RESOLVED, actor=Actor("agent@example.org"))
    made = client.post(f"/api/v1/articles/from-ticket/{number}", headers=editor)
    assert made.status_code == 201
    assert made.json()["audience"] == "internal"
    assert "channel" in made.json()["current"]["solution"]
    assert client.post("/api/v1/articles/from-ticket/99999", headers=editor).status_code == 404

    gaps = client.get("/api/v1/knowledge-gaps", params={"days": 7}, headers=editor).json()
    assert [[t["number"] for t in c["tickets"]] for c in gaps["clusters"]] == [[number]]
    assert gaps["clusters"][0]["tickets"][0]["fit_confidence"] is None


@pytest.mark.model
def test_publish_through_the_api(api: tuple[Desk, dict[Role, dict[str, str]]]) -> None:
    from tests.deskmail.kb_support import knowledge  # noqa: PLC0415 - loads the model helpers

    desk, headers = api
    use_knowledge(desk.web, knowledge(desk.app))
    client = desk.fresh_client()
    client.post("/api/v1/articles", json=BODY, headers=headers[Role.EDITOR])
    published = client.post(
        "/api/v1/articles/vpn-certificate-error/publish", headers=headers[Role.ADMIN]
    )
    assert published.status_code == 200
    data = published.json()
    assert data["status"] == "published"
    assert data["published_version"] == 1
    assert any("Renew the certificate" in p for p in data["passages"])
    back = client.post(
        "/api/v1/articles/vpn-certificate-error/unpublish", headers=headers[Role.EDITOR]
    )
    assert back.json()["status"] == "draft"
    assert back.json()["passages"] == []
