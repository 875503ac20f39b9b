"""The dashboards page: volumes by day, category and priority, SLA adherence, deflection and
the classifier's coverage and accuracy from corrections, as server-rendered SVG charts.

The figures come from `deskmail.dashboard` (aggregate queries); the charts from
`deskmail.web.svg_charts`. Agents and everyone above may look; nothing here changes data.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import Query
from starlette.requests import Request
from starlette.responses import Response

from deskmail.dashboard import Dashboard, build_dashboard
from deskmail.web.auth import Access, CurrentUser
from deskmail.web.context import Ctx
from deskmail.web.rendering import render
from deskmail.web.routing import Area, NavEntry, WebExtension
from deskmail.web.svg_charts import Bar, bar_chart, column_chart, share_chart
from models import utcnow

area = Area(name="dashboard")

PERIODS = (7, 30, 90, 365)


def period(days: int, now: datetime) -> tuple[datetime, datetime]:
    """The last `days` whole UTC days, today included."""
    until = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
    return until - timedelta(days=days), until


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def charts(board: Dashboard) -> dict[str, object]:
    """The SVG charts and headline figures of a dashboard."""
    return {
        "volume": column_chart(
            "New tickets per day", [Bar(c.label, c.value) for c in board.by_day]
        ),
        "categories": bar_chart(
            "Tickets by category", [Bar(c.label, c.value) for c in board.by_category]
        ),
        "priorities": bar_chart(
            "Tickets by priority", [Bar(c.label, c.value) for c in board.by_priority]
        ),
        "first_response": share_chart(
            "First response within the SLA",
            [
                ("met", board.first_response.met, "good"),
                ("missed", board.first_response.missed, "bad"),
                ("running", board.first_response.running, "neutral"),
            ],
        ),
        "resolution": share_chart(
            "Resolution within the SLA",
            [
                ("met", board.resolution.met, "good"),
                ("missed", board.resolution.missed, "bad"),
                ("running", board.resolution.running, "neutral"),
            ],
        ),
        "deflection": share_chart(
            "Finished tickets by how they ended",
            [
                ("solved by the requester", board.solved_by_requester, "good"),
                ("resolved by an agent", board.finished - board.solved_by_requester, "neutral"),
            ],
        ),
        "coverage": share_chart(
            "Classifier coverage",
            [
                ("classified", board.tickets - board.needing_triage, "good"),
                ("needed triage", board.needing_triage, "bad"),
            ],
        ),
        "accuracy": share_chart(
            "Classifier accuracy from corrections",
            [
                ("kept by agents", board.classified - board.corrected, "good"),
                ("corrected", board.corrected, "bad"),
            ],
        ),
        "headline": [
            ("Tickets", str(board.tickets)),
            ("First response in SLA", _percent(board.first_response.rate)),
            ("Resolution in SLA", _percent(board.resolution.rate)),
            ("Deflection", _percent(board.deflection)),
            ("Classifier coverage", _percent(board.coverage)),
            ("Classifier accuracy", _percent(board.accuracy)),
        ],
    }


@area.get("/dashboard", access=Access.AGENT, name="dashboard")
def dashboard_page(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    """The dashboards of the last `days` days."""
    chosen = days if days in PERIODS else 30
    now = utcnow()
    since, until = period(chosen, now)
    with ctx.app.read_sessions() as db:
        board = build_dashboard(db, since=since, until=until, now=now)
    return render(
        request,
        "dashboard.html",
        {
            "title": "Dashboard",
            "board": board,
            "charts": charts(board),
            "days": chosen,
            "periods": PERIODS,
        },
    )


EXTENSION = WebExtension(
    areas=(area,),
    nav=(NavEntry("Dashboard", "dashboard", Access.AGENT, order=20),),
)
