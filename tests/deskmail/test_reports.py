"""`deskmail reports` through the CLI: volume, response and resolution times, SLA adherence,
deflection and per-article solve rates for a period, as JSON and as tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result

from deskmail.app import App
from deskmail.cli import cli
from models import (
    Article,
    OutboundMessage,
    OutboundStatus,
    Person,
    Suggestion,
    SuggestionOutcome,
    Ticket,
    TicketStatus,
)
from tests.conftest import HELPDESK

OCT = datetime(2025, 10, 6, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def run(app: App, *args: str) -> Result:
    env = {
        "DESKMAIL_DATABASE_URL": app.settings.resolved_database_url,
        "DESKMAIL_ADDRESSES": HELPDESK,
        "DESKMAIL_SECRET_KEY": app.settings.secret().decode(),
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(
        cli, ["--data", str(app.settings.data_dir), "reports", *args], env=env
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture
def history(sqlite_app: App) -> App:
    """Five tickets: four in October 2025, one the day before."""
    with sqlite_app.sessions() as session, session.begin():
        carol = Person(email="carol@example.com", name="Carol")
        session.add(carol)
        printer = Article(slug="printer-jam", title="Clearing a printer jam")
        vpn = Article(slug="vpn-drops", title="VPN keeps disconnecting")
        session.add_all([printer, vpn])
        session.flush()

        def ticket(created: datetime, **values: Any) -> Ticket:
            row = Ticket(
                subject="x", requester_id=carol.id, created_at=created, updated_at=created, **values
            )
            session.add(row)
            session.flush()
            return row

        a = ticket(
            OCT,
            category="network",
            priority="P2",
            status=TicketStatus.RESOLVED,
            first_response_due=OCT + 4 * H,
            first_responded_at=OCT + 2 * H,
            resolution_due=OCT + 8 * H,
            resolved_at=OCT + 10 * H,
        )
        b_created = OCT + timedelta(days=1)
        b = ticket(
            b_created,
            category="network",
            priority="P2",
            status=TicketStatus.OPEN,
            first_response_due=b_created + 4 * H,
            first_responded_at=b_created + 6 * H,
            first_response_escalated_at=b_created + 4 * H,
            resolution_due=b_created + 8 * H,
        )
        c_created = OCT + timedelta(days=2)
        c = ticket(
            c_created,
            category="printing",
            priority="P3",
            status=TicketStatus.CLOSED,
            first_response_due=c_created + 8 * H,
            resolution_due=c_created + 24 * H,
            resolved_at=c_created + H,
            closed_at=c_created + H,
            closed_by_solved=True,
        )
        e = ticket(OCT + timedelta(days=3))  # waiting for triage: no category, no clock
        ticket(datetime(2025, 9, 30, 12, 0, tzinfo=UTC), category="network", priority="P1")

        for number, status in (
            (a.id, OutboundStatus.SENT),
            (b.id, OutboundStatus.SENT),
            (c.id, OutboundStatus.SENT),
            (e.id, OutboundStatus.SUPPRESSED),
        ):
            session.add(
                OutboundMessage(
                    ticket_id=number,
                    kind="acknowledgement",
                    message_id=f"ack-{number}@example.org",
                    mail_from=HELPDESK,
                    raw=b"",
                    status=status,
                )
            )
        for number, article, sent, outcome in (
            (c.id, printer.id, True, SuggestionOutcome.SOLVED),
            (a.id, vpn.id, True, SuggestionOutcome.REJECTED),
            (b.id, vpn.id, False, SuggestionOutcome.ACCEPTED),
            (b.id, printer.id, False, SuggestionOutcome.PENDING),
        ):
            session.add(
                Suggestion(
                    ticket_id=number,
                    article_id=article,
                    rank=1,
                    score=1.0,
                    confidence=0.8,
                    sent_to_requester=sent,
                    outcome=outcome,
                )
            )
    return sqlite_app


def test_report_json_through_the_cli(history: App) -> None:
    report = json.loads(
        run(history, "--since", "2025-10-01", "--until", "2025-11-01", "--json").stdout
    )
    assert report["since"] == "2025-10-01T00:00:00+00:00"
    assert report["tickets"] == 4
    assert report["volume"] == [
        {"category": "network", "priority": "P2", "tickets": 2, "still_open": 1},
        {"category": "", "priority": "", "tickets": 1, "still_open": 1},
        {"category": "printing", "priority": "P3", "tickets": 1, "still_open": 0},
    ]
    first = report["first_response"]
    assert (first["count"], first["median_hours"], first["p90_hours"]) == (2, 4.0, 6.0)
    resolution = report["resolution"]
    assert (resolution["count"], resolution["median_hours"], resolution["mean_hours"]) == (
        2,
        5.5,
        5.5,
    )
    assert resolution["by_priority"]["P3"]["median_hours"] == 1.0
    sla = report["sla"]
    assert sla["first_response"] == {
        "met": 2,
        "missed": 1,
        "running": 0,
        "escalated": 1,
        "measured": 3,
        "rate": 0.6667,
    }
    assert (sla["resolution"]["met"], sla["resolution"]["missed"]) == (1, 2)
    assert report["deflection"] == {
        "acknowledged": 3,
        "offered_solutions": 2,
        "solved_by_reply": 1,
        "rate": 0.3333,
        "rate_when_offered": 0.5,
    }
    articles = {row["slug"]: row for row in report["articles"]}
    assert articles["printer-jam"]["suggested"] == 2
    assert articles["printer-jam"]["solved"] == 1
    assert articles["printer-jam"]["solve_rate"] == 0.5
    assert (articles["vpn-drops"]["accepted"], articles["vpn-drops"]["rejected"]) == (1, 1)
    assert articles["vpn-drops"]["offered"] == 1


def test_the_period_selects_tickets_by_creation(history: App) -> None:
    september = json.loads(
        run(history, "--since", "2025-09-01", "--until", "2025-10-01", "--json").stdout
    )
    assert september["tickets"] == 1
    assert september["volume"][0]["priority"] == "P1"
    assert september["deflection"]["rate"] is None


def test_report_tables_for_people(history: App) -> None:
    text = run(history, "--since", "2025-10-01T00:00", "--until", "2025-11-01").stdout
    assert "4 tickets" in text
    for heading in ("Volume", "First response", "Resolution", "SLA", "Deflection", "Articles"):
        assert heading in text
    assert "Clearing a printer jam" in text
    assert "66.7 %" in text  # first-response adherence
    assert "(triage)" in text


def test_until_before_since_is_refused(history: App) -> None:
    env = {"DESKMAIL_DATABASE_URL": history.settings.resolved_database_url}
    result = CliRunner().invoke(
        cli,
        [
            "--data",
            str(history.settings.data_dir),
            "reports",
            "--since",
            "2025-10-02",
            "--until",
            "2025-10-01",
        ],
        env=env,
    )
    assert result.exit_code == 2
    assert "later than --since" in result.output
