"""Sample values of every mail, for checking edited templates before they go live.

`Renderer.check` renders each template folder with these: a full sample (every optional value
set, so every branch of a template runs) and a sparse one (optional values empty). The same
samples serve the benchmark and the documentation of the templates' variables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from responder.mails import (
    AcknowledgementMail,
    AgentReplyMail,
    ArticleRef,
    ClosureMail,
    EscalationMail,
    FollowupReceivedMail,
    Mail,
    NewTicketNotificationMail,
    PersonInfo,
    ResolutionMail,
    SlaTarget,
    SlaWarningMail,
    SuggestedSolution,
    TicketInfo,
)

_NOW = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
_STATUS = "https://help.example.org/status/t42-sample"
_AGENT_URL = "https://help.example.org/tickets/42"


def sample_mails(*, full: bool = True) -> list[Mail]:
    """One sample of each mail: with every optional value (`full`) or with none."""
    ticket = TicketInfo(
        number=42,
        subject="VPN does not connect from home",
        category="Network › VPN" if full else "",
        priority="P2" if full else "",
        status="open",
    )
    requester = PersonInfo("carol@example.com", "Carol Jones" if full else "")
    agent = PersonInfo("alice@example.org", "Alice Smith" if full else "")
    suggestions = (
        SuggestedSolution(
            title="VPN does not connect",
            excerpt="Check that you are online, then restart the VPN client and sign in again.",
            confidence=0.82,
            url="https://help.example.org/kb/vpn-does-not-connect" if full else "",
        ),
        SuggestedSolution(
            title="VPN certificate error",
            excerpt="An expired certificate is renewed by signing in to the company portal.",
            confidence=0.64,
        ),
    )
    return [
        AcknowledgementMail(
            ticket=ticket,
            requester=requester,
            response_time="4 business hours" if full else "",
            response_due=_NOW + timedelta(hours=4) if full else None,
            suggestions=suggestions if full else (),
            suggestion_threshold=0.5,
            status_url=_STATUS,
        ),
        FollowupReceivedMail(
            ticket=ticket,
            requester=requester,
            status_url=_STATUS,
            assignee_name="Alice Smith" if full else "",
        ),
        AgentReplyMail(
            ticket=ticket,
            requester=requester,
            agent=agent,
            reply_text="Hello Carol,\n\nplease try the new VPN profile.\n\nAlice",
            status_url=_STATUS,
        ),
        ResolutionMail(
            ticket=ticket,
            requester=requester,
            resolution_text="We renewed the VPN certificate on your laptop.",
            status_url=_STATUS,
            reopen_days=7,
            article=ArticleRef("VPN certificate error", "https://help.example.org/kb/vpn")
            if full
            else None,
            resolved_by="Alice Smith" if full else "",
        ),
        ClosureMail(
            ticket=ticket,
            requester=requester,
            status_url=_STATUS,
            reason="It was resolved seven days ago." if full else "",
        ),
        EscalationMail(
            ticket=ticket,
            requester=requester,
            reason="The resolution target was missed.",
            ticket_url=_AGENT_URL,
            level=2 if full else 1,
            group="Network" if full else "",
            assignee_name="Alice Smith" if full else "",
            resolution_due=_NOW if full else None,
        ),
        SlaWarningMail(
            ticket=ticket,
            requester=requester,
            target=SlaTarget.FIRST_RESPONSE if full else SlaTarget.RESOLUTION,
            due_at=_NOW,
            breached=not full,
            ticket_url=_AGENT_URL,
            group="Network" if full else "",
            assignee_name="Alice Smith" if full else "",
        ),
        NewTicketNotificationMail(
            ticket=ticket,
            requester=requester,
            request_excerpt="Since this morning the VPN client says 'connection failed'.",
            ticket_url=_AGENT_URL,
            group="Network" if full else "",
        ),
    ]
