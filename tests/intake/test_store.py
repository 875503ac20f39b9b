"""Durable storage of raw mail: one row per distinct bytes, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from deskmail.app import App
from intake.store import Envelope, raw_digest, store_raw
from models import InboundMessage, InboundStatus

RAW = b"From: a@example.com\r\nTo: help@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


def test_same_bytes_are_stored_once(app: App) -> None:
    envelope = Envelope(source="smtp", mail_from="a@example.com", rcpt_to=("help@example.org",))
    with app.sessions() as session, session.begin():
        first = store_raw(session, RAW, envelope)
    with app.sessions() as session, session.begin():
        second = store_raw(session, RAW, envelope)
        third = store_raw(session, RAW + b"x", envelope)
    assert first.created
    assert not second.created
    assert third.created
    assert second.inbound_id == first.inbound_id != third.inbound_id
    with app.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 2
        row = session.get(InboundMessage, first.inbound_id)
        assert row is not None
        assert row.raw == RAW
        assert row.raw_sha256 == raw_digest(RAW)
        assert row.status == InboundStatus.RECEIVED
        assert row.rcpt_to == ["help@example.org"]


def test_envelope_values_lose_control_characters(app: App) -> None:
    envelope = Envelope(source="smtp", mail_from="a@x\r\nBcc: evil", peer="1.2.3.4\x00")
    with app.sessions() as session, session.begin():
        stored = store_raw(session, RAW, envelope)
    with app.read_sessions() as session:
        row = session.get(InboundMessage, stored.inbound_id)
        assert row is not None
        assert "\r" not in row.mail_from
        assert "\n" not in row.mail_from
        assert row.peer == "1.2.3.4"
