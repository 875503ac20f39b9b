"""A small, realistic help desk for the browser tests and the documentation's screenshots.

Categories come from Deskmail's default tree; tickets come in as mail through the intake
pipeline; classifications, priorities and due times are set as the classifier and the SLA
work would set them.
"""

from __future__ import annotations

import struct
import tomllib
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from deskmail.db import transaction
from models import Category, Classification, LabelSource, Role, Ticket, utcnow
from tests.web.helpers import Desk

DEFAULTS = Path(__file__).resolve().parents[2] / "deskmail" / "defaults" / "categories.toml"
ADMIN = "ada.admin@example.org"
AGENT = "sam.agent@example.org"
EDITOR = "eve.editor@example.org"


def _square_png(size: int, rgb: tuple[int, int, int]) -> bytes:
    """A small single-colour PNG (a company logo in the demo's HTML mail)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


PNG = _square_png(20, (36, 86, 166))

TICKETS = [
    # (subject, sender, name, body, category, subcategory, priority, due in hours)
    (
        "VPN disconnects every few minutes since the update",
        "bob.baker@example.com",
        "Bob Baker",
        "Hi,\n\nsince yesterday's update the VPN drops every five minutes or so. "
        "I'm working from home and have to reconnect all the time.\n\nBob",
        "network",
        "network/vpn",
        "P2",
        3,
    ),
    (
        "Outlook keeps asking for my password",
        "carla.diaz@example.com",
        "Carla Díaz",
        "Hello IT,\n\nOutlook asks for my password again and again, even after I type it.\n\n"
        "Regards,\nCarla",
        "email",
        "email/outlook",
        "P3",
        20,
    ),
    (
        "New starter on Monday: laptop and accounts for Dana",
        "erik.fox@example.com",
        "Erik Fox",
        "Hi team,\n\nDana Green joins Finance on Monday. Could you prepare a laptop, an account "
        "and access to the Finance share?\n\nThanks, Erik",
        "accounts",
        "accounts/joiner-leaver",
        "P3",
        70,
    ),
    (
        "Printer on floor 3 shows 'offline'",
        "gina.hall@example.com",
        "Gina Hall",
        "The big printer next to the kitchen on floor 3 says offline, nobody can print.",
        "hardware",
        None,
        "P2",
        -2,
    ),
    (
        "Can't open the quarterly report on SharePoint",
        "ivan.jones@example.com",
        "Ivan Jones",
        "I get 'access denied' when I open the Q3 report link that Maria sent.",
        None,
        None,
        None,
        None,
    ),
]


@dataclass(frozen=True)
class DemoDesk:
    """What the demo made: ticket numbers by role in the story."""

    html_ticket: int
    tickets: list[int]


def load_categories(desk: Desk) -> None:
    """The default category tree."""
    tree = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    with transaction(desk.app.sessions) as db:
        for position, top in enumerate(tree["category"]):
            parent = Category(
                key=top["key"], name=top["name"], description=top["description"], position=position
            )
            db.add(parent)
            db.flush()
            for sub_position, sub in enumerate(top.get("sub", [])):
                db.add(
                    Category(
                        key=sub["key"],
                        name=sub["name"],
                        description=sub["description"],
                        parent_id=parent.id,
                        position=sub_position,
                    )
                )


def build(desk: Desk) -> DemoDesk:
    """Accounts, categories and a handful of tickets in various states."""
    desk.add_user(ADMIN, Role.ADMIN, name="Ada Admin")
    desk.add_user(AGENT, Role.AGENT, name="Sam Agent")
    desk.add_user(EDITOR, Role.EDITOR, name="Eve Editor")
    load_categories(desk)
    numbers = []
    now = utcnow()
    for subject, sender, name, body, category, sub, priority, due in TICKETS:
        number = desk.ticket(subject=subject, sender=sender, sender_name=name, body=body)
        numbers.append(number)
        with transaction(desk.app.sessions) as db:
            ticket = db.get(Ticket, number)
            assert ticket is not None
            ticket.category, ticket.subcategory, ticket.priority = category, sub, priority
            ticket.needs_triage = category is None
            if due is not None:
                ticket.resolution_due = now + timedelta(hours=due)
            db.add(
                Classification(
                    ticket_id=number,
                    category=category,
                    subcategory=sub,
                    priority=priority,
                    impact="medium" if priority else None,
                    urgency="high" if priority == "P2" else "medium" if priority else None,
                    confidences={"category": 0.91, "subcategory": 0.78, "priority": 0.66}
                    if category
                    else {"category": 0.31},
                    abstained=category is None,
                    model_version="zero-shot-2026-11",
                    source=LabelSource.ZERO_SHOT,
                )
            )
    html_ticket = desk.ticket(
        subject="Screen flickers on the new docking station",
        sender="kim.lee@example.com",
        sender_name="Kim Lee",
        body="Hi,\n\nmy external screen flickers when the laptop is docked. Photo attached.\n\nKim",
        html=(
            "<p>Hi,</p><p>my <b>external screen</b> flickers when the laptop is docked."
            ' Photo attached.</p><p><img src="cid:logo@example.com" alt="logo" width="24">'
            " Kim Lee<br><i>Marketing</i></p>"
        ),
        inline_images=[("logo@example.com", "image/png", PNG)],
        attachments=[("flicker photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 not really a jpeg")],
    )
    numbers.append(html_ticket)
    with transaction(desk.app.sessions) as db:
        ticket = db.get(Ticket, html_ticket)
        assert ticket is not None
        ticket.category, ticket.subcategory, ticket.priority = (
            "hardware",
            "hardware/peripherals",
            "P3",
        )
        ticket.impact, ticket.urgency = "low", "medium"
        ticket.resolution_due = now + timedelta(hours=30)
        db.add(
            Classification(
                ticket_id=html_ticket,
                category="hardware",
                subcategory="hardware/peripherals",
                priority="P3",
                impact="low",
                urgency="medium",
                confidences={"category": 0.94, "subcategory": 0.81, "priority": 0.72},
                model_version="zero-shot-2026-11",
                source=LabelSource.ZERO_SHOT,
            )
        )
    return DemoDesk(html_ticket=html_ticket, tickets=numbers)
