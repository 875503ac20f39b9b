"""The JSON API of the agents' ticket work: the same use cases as the ticket page."""

from __future__ import annotations

from sqlalchemy import select

from models import OutboundMessage, Role, Ticket, TicketStatus
from tests.web.helpers import Desk
from tests.web.test_ticket_work import SOLUTION, suggest


def _bearer(desk: Desk, role: Role = Role.AGENT) -> dict[str, str]:
    user_id = desk.add_user(f"api-{role.value}@example.org", role, name="Api Agent")
    return {"Authorization": f"Bearer {desk.token_for(user_id)}"}


def test_accept_reject_reply_resolve(sqlite_desk: Desk) -> None:
    auth = _bearer(sqlite_desk)
    client = sqlite_desk.fresh_client()
    number = sqlite_desk.ticket()
    first = suggest(sqlite_desk, number)
    second = suggest(sqlite_desk, number, title="Printer driver missing")
    rejected = client.post(f"/api/v1/tickets/{number}/suggestions/{second}/reject", headers=auth)
    assert rejected.status_code == 200
    assert rejected.json() == {"id": second, "ticket": number, "outcome": "rejected"}
    replied = client.post(
        f"/api/v1/tickets/{number}/reply", json={"text": "Looking into it."}, headers=auth
    )
    assert replied.status_code == 201
    assert replied.json()["status"] == "open"
    accepted = client.post(f"/api/v1/tickets/{number}/suggestions/{first}/accept", headers=auth)
    assert accepted.status_code == 201
    body = accepted.json()
    assert body["status"] == "resolved"
    assert f"[#{number}]" in body["subject"]
    with sqlite_desk.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        assert ticket.resolution == SOLUTION
        kinds = list(
            db.execute(
                select(OutboundMessage.kind)
                .where(OutboundMessage.ticket_id == number)
                .order_by(OutboundMessage.id)
            ).scalars()
        )
    assert kinds == ["agent_reply", "resolution"]
    again = client.post(f"/api/v1/tickets/{number}/resolve", json={"text": "again"}, headers=auth)
    assert again.status_code == 409
    assert again.json() == {"detail": "the ticket is resolved already"}
    unknown = client.post(f"/api/v1/tickets/{number}/suggestions/999/accept", headers=auth)
    assert unknown.status_code == 404
    missing = client.post("/api/v1/tickets/9999/reply", json={"text": "x"}, headers=auth)
    assert missing.status_code == 404


def test_merge_parent_and_dashboard(sqlite_desk: Desk) -> None:
    auth = _bearer(sqlite_desk)
    client = sqlite_desk.fresh_client()
    target = sqlite_desk.ticket()
    duplicate = sqlite_desk.ticket(subject="Printer again", sender="bob@example.com")
    child = sqlite_desk.ticket(subject="Mail down", sender="carl@example.com")
    merged = client.post(
        f"/api/v1/tickets/{duplicate}/merge", json={"ticket": target}, headers=auth
    )
    assert merged.json() == {
        "ticket": duplicate,
        "status": str(TicketStatus.CLOSED),
        "merged_into": target,
        "parent": None,
    }
    itself = client.post(f"/api/v1/tickets/{target}/merge", json={"ticket": target}, headers=auth)
    assert itself.status_code == 409
    linked = client.post(f"/api/v1/tickets/{child}/parent", json={"ticket": target}, headers=auth)
    assert linked.json()["parent"] == target
    unlinked = client.post(f"/api/v1/tickets/{child}/parent", json={"ticket": None}, headers=auth)
    assert unlinked.json()["parent"] is None
    board = client.get("/api/v1/dashboard?days=7", headers=auth)
    assert board.status_code == 200
    figures = board.json()
    assert figures["tickets"] == 2  # the merged duplicate is not counted
    assert sum(figures["by_day"].values()) == 2
    assert len(figures["by_day"]) == 7
    schema = client.get("/api/openapi.json", headers=auth).json()
    assert "/api/v1/tickets/{number}/suggestions/{suggestion_id}/accept" in schema["paths"]
    assert "/api/v1/dashboard" in schema["paths"]
