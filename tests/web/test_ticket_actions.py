"""Ticket use cases shared by the UI, the API and the CLI: notes, status, assignment."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskmail.admin_actions import (
    AdminActionError,
    create_category,
    list_categories,
    update_category,
)
from deskmail.db import transaction
from deskmail.ticket_actions import (
    Actor,
    TicketActionError,
    TicketNotFoundError,
    add_note,
    assign,
    change_status,
)
from models import Direction, Event, Message, Role, Ticket, TicketParticipant, TicketStatus
from tests.web.helpers import Desk

AGENT = Actor(email="agent@example.org", name="Agnes")


def _events(desk: Desk, number: int) -> list[Event]:
    with desk.app.read_sessions() as db:
        return list(
            db.execute(select(Event).where(Event.ticket_id == number).order_by(Event.id)).scalars()
        )


def test_note(desk: Desk) -> None:
    number = desk.ticket()
    with transaction(desk.app.sessions) as db:
        note = add_note(db, number, "  Called Alice.\r\nPrinter was unplugged.\x00 ", actor=AGENT)
        note_id = note.id
    with desk.app.read_sessions() as db:
        stored = db.get(Message, note_id)
        assert stored is not None
        assert stored.direction == Direction.NOTE
        assert stored.text == "Called Alice.\nPrinter was unplugged."
        assert stored.from_email == AGENT.email
    event = _events(desk, number)[-1]
    assert (event.kind, event.actor, event.data) == (
        "note_added",
        AGENT.email,
        {"message": note_id},
    )
    with transaction(desk.app.sessions) as db, pytest.raises(TicketActionError):
        add_note(db, number, " \n ", actor=AGENT)
    with transaction(desk.app.sessions) as db, pytest.raises(TicketNotFoundError):
        add_note(db, 99999, "x", actor=AGENT)


def test_status_changes_stamp_and_clear_times(desk: Desk) -> None:
    number = desk.ticket()
    with transaction(desk.app.sessions) as db:
        change_status(db, number, "resolved", actor=AGENT)
    with desk.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        assert ticket.status == TicketStatus.RESOLVED
        assert ticket.resolved_at is not None
    with transaction(desk.app.sessions) as db:
        change_status(db, number, TicketStatus.CLOSED, actor=AGENT)
        change_status(db, number, TicketStatus.CLOSED, actor=AGENT)  # no change, no event
    with transaction(desk.app.sessions) as db:
        change_status(db, number, "open", actor=AGENT)
    with desk.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        assert ticket.resolved_at is None
        assert ticket.closed_at is None
    changes = [e.data for e in _events(desk, number) if e.kind == "status_changed"]
    assert changes == [
        {"from": "new", "to": "resolved"},
        {"from": "resolved", "to": "closed"},
        {"from": "closed", "to": "open"},
    ]
    for bad in ("new", "deleted", ""):
        with transaction(desk.app.sessions) as db, pytest.raises(TicketActionError):
            change_status(db, number, bad, actor=AGENT)


def test_assignment(desk: Desk) -> None:
    desk.add_user("agent@example.org", Role.AGENT)
    desk.add_user("other@example.org", Role.EDITOR)
    number = desk.ticket()
    with transaction(desk.app.sessions) as db:
        assign(db, number, assignee="Agent@Example.org", group="Service desk", actor=AGENT)
    with transaction(desk.app.sessions) as db:
        assign(db, number, assignee="other@example.org", actor=AGENT)
    with transaction(desk.app.sessions) as db:
        assign(db, number, assignee=None, actor=AGENT)
    with transaction(desk.app.sessions) as db:
        for nobody in ("alice@example.com", "unknown@example.org"):
            with pytest.raises(TicketActionError):
                assign(db, number, assignee=nobody, actor=AGENT)
    with desk.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        assert ticket.assignee_id is None
        assert ticket.group == "Service desk"
        roles = {
            (p.person.email, str(p.role))
            for p in db.execute(
                select(TicketParticipant).where(TicketParticipant.ticket_id == number)
            ).scalars()
        }
    # Assigned agents became participants: their mail on the ticket is accepted.
    assert ("agent@example.org", "agent") in roles
    assert ("other@example.org", "agent") in roles
    changes = [e.data for e in _events(desk, number) if e.kind == "assigned"]
    assert changes == [
        {"assignee": [None, "agent@example.org"], "group": ["", "Service desk"]},
        {"assignee": ["agent@example.org", "other@example.org"]},
        {"assignee": ["other@example.org", None]},
    ]


def test_categories(desk: Desk) -> None:
    with transaction(desk.app.sessions) as db:
        create_category(db, "printing", name="Printing", description="Printers", actor="a")
        create_category(db, "printing/toner", name="Toner", actor="a")
        create_category(db, "access", name="Access", actor="a")
        for key in ("Bad Key", "x/y/z", "ghost/child", "printing"):
            with pytest.raises(AdminActionError):
                create_category(db, key, name="X", actor="a")
        with pytest.raises(AdminActionError):
            create_category(db, "fine", name="", actor="a")
    with transaction(desk.app.sessions) as db:
        update_category(
            db, "printing", name="Printing and scanning", description="All printers", actor="b"
        )
        update_category(db, "printing", name="Printing and scanning", actor="b")  # no change
        with pytest.raises(AdminActionError):
            update_category(db, "nope", name="x", actor="b")
    with desk.app.read_sessions() as db:
        keys = [c.key for c in list_categories(db)]
        events = list(db.execute(select(Event).where(Event.kind == "category_updated")).scalars())
    assert keys == ["access", "printing", "printing/toner"]
    assert len(events) == 1
    assert events[0].data["changes"]["name"] == ["Printing", "Printing and scanning"]
