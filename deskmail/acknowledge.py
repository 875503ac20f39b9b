"""The acknowledge stage: a new ticket gets its SLA clock, its group, and the requester's answer.

Runs last in the pipeline, after classify and suggest (`deskmail.wiring`), inside the mail's
transaction, for new tickets only (follow-ups are `deskmail.lifecycle`'s). For each new
ticket it:

1. starts the SLA clock (`deskmail.sla.start_clock`): due and warning times from the
   priority's policy, recorded on the timeline;
2. routes the ticket to the group of its category (`deskmail.routing`), and tells the agents
   of that group about a new urgent ticket (P1/P2 by default), once (`group_notified_at`);
3. queues the acknowledgement to the requester (transactional outbox, so it exists exactly
   when the ticket does): the ticket number, the category and priority as understood, the
   first-response promise of the SLA, the suggested articles the requester may see (those the
   suggest stage marked `eligible_for_requester`, with the passage that matched as the
   excerpt), "reply SOLVED and we close it", and the status link. The articles that went out
   are marked `sent_to_requester`, so a later "solved" counts for them.

The acknowledgement is automatic mail: `enqueue_automatic` refuses it for robots, our own
addresses, muted people and past the caps, and records why (docs/decisions/0125).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.pipeline import MailContext
from deskmail.routing import group_members, mail_staff, route
from deskmail.sla import SlaConfig, sla_config, start_clock
from deskmail.ticket_mail import TicketMailer, person_info, ticket_info
from models import (
    Article,
    ArticleVersion,
    Event,
    Outcome,
    Suggestion,
    Ticket,
    utcnow,
)
from responder.mails import (
    AcknowledgementMail,
    NewTicketNotificationMail,
    SuggestedSolution,
)
from responder.outbox import Queued

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfferedArticle:
    """A suggestion the acknowledgement offers, with the row to mark as sent."""

    suggestion_id: int
    solution: SuggestedSolution


def offered_articles(session: Session, ticket: Ticket, max_articles: int) -> list[OfferedArticle]:
    """The suggestions the requester may see, best first, with their published titles.

    Eligibility was decided by the suggest stage (the requester's fit confidence reached the
    threshold, public articles only, docs/decisions/0113); this only reads and orders it.
    """
    if max_articles <= 0:
        return []
    rows = session.execute(
        select(Suggestion.id, Suggestion.passage, Suggestion.confidence, ArticleVersion.title)
        .join(Article, Article.id == Suggestion.article_id)
        .join(
            ArticleVersion,
            and_(
                ArticleVersion.article_id == Article.id,
                ArticleVersion.number == Article.published_version,
            ),
        )
        .where(Suggestion.ticket_id == ticket.id, Suggestion.eligible_for_requester.is_(True))
        .order_by(Suggestion.confidence.desc(), Suggestion.rank)
        .limit(max_articles)
    ).all()
    return [
        OfferedArticle(
            suggestion_id=row.id,
            solution=SuggestedSolution(
                title=row.title,
                excerpt=row.passage,
                confidence=min(max(float(row.confidence), 0.0), 1.0),
            ),
        )
        for row in rows
    ]


class AcknowledgeStage:
    """The pipeline stage: `AcknowledgeStage(app)(ctx)` for each mail (new tickets only)."""

    def __init__(self, app: App, mailer: TicketMailer | None = None) -> None:
        self.app = app
        self.mailer = mailer or TicketMailer.build(app)
        self.sla: SlaConfig = sla_config(app.settings)

    def __call__(self, ctx: MailContext) -> None:
        if ctx.outcome is not Outcome.TICKET_CREATED or ctx.ticket is None:
            return
        in_reply_to = ctx.record.message_id if ctx.record is not None else None
        ctx.details["acknowledgement"] = self.acknowledge(
            ctx.session, ctx.ticket, request_text=ctx.new_text, in_reply_to=in_reply_to
        )

    def acknowledge(
        self,
        session: Session,
        ticket: Ticket,
        *,
        request_text: str,
        in_reply_to: str | None,
        now: datetime | None = None,
    ) -> dict[str, object]:
        """Clock, group, notification and acknowledgement of one new ticket (module doc)."""
        moment = now or utcnow()
        self._start_clock(session, ticket, moment)
        process = self.app.settings.process
        group = route(session, ticket, process, now=moment)
        notified = self._notify_group(session, ticket, group, request_text, moment)
        summary: dict[str, object] = {"group": group or None, "notified": notified}
        summary.update(self._acknowledgement(session, ticket, in_reply_to, moment))
        return summary

    def _start_clock(self, session: Session, ticket: Ticket, now: datetime) -> None:
        start_clock(ticket, self.sla)
        policy = self.sla.policy_for(ticket.priority)
        session.add(
            Event(
                ticket_id=ticket.id,
                kind="sla_started",
                actor="system",
                data={
                    "policy": policy.priority,
                    "first_response_due": _iso(ticket.first_response_due),
                    "resolution_due": _iso(ticket.resolution_due),
                },
                created_at=now,
            )
        )

    def _notify_group(
        self, session: Session, ticket: Ticket, group: str, request_text: str, now: datetime
    ) -> list[str]:
        """Tell the group's agents about a new urgent ticket, once; returns who was told."""
        process = self.app.settings.process
        priority = (ticket.priority or "").upper()
        if not group or priority not in process.notify_priorities:
            return []
        if ticket.group_notified_at is not None:
            return []
        members = group_members(session, group)
        mail = NewTicketNotificationMail(
            ticket=ticket_info(session, ticket),
            requester=person_info(ticket.requester),
            request_excerpt=request_text,
            ticket_url=self.mailer.ticket_url(ticket.id),
            group=group,
        )
        queued = mail_staff(
            session,
            self.mailer.outbox,
            mail,
            members,
            now=now,
            reply_for=lambda email: self.mailer.reply_for(ticket.id, email),
        )
        told = [q.outbound.recipient for q in queued]
        if told:
            ticket.group_notified_at = now
        session.add(
            Event(
                ticket_id=ticket.id,
                kind="group_notified" if told else "group_not_notified",
                actor="system",
                data={
                    "group": group,
                    "priority": priority,
                    "to": told,
                    **({} if told else {"reason": "no active, unmuted agent in the group"}),
                },
                created_at=now,
            )
        )
        return told

    def _acknowledgement(
        self, session: Session, ticket: Ticket, in_reply_to: str | None, now: datetime
    ) -> dict[str, object]:
        knowledge = self.app.settings.knowledge
        offered = offered_articles(session, ticket, knowledge.acknowledgement_max_articles)
        requester = person_info(ticket.requester)
        policy = self.sla.policy_for(ticket.priority)
        mail = AcknowledgementMail(
            ticket=ticket_info(session, ticket),
            requester=requester,
            response_time=policy.first_response.words(),
            response_due=ticket.first_response_due,
            suggestions=tuple(o.solution for o in offered),
            # The requester's threshold was applied when the articles were marked eligible
            # (the run's fit confidence, then each further article's own, decision 0113);
            # every eligible article is offered.
            suggestion_threshold=0.0,
            status_url=self.mailer.status_url(ticket.id, requester.email),
            max_suggestions=len(offered),
        )
        result = self.mailer.send_automatic(
            session, ticket, mail, requester, in_reply_to=in_reply_to, now=now
        )
        if not isinstance(result, Queued):
            log.info("ticket #%s: no acknowledgement (%s)", ticket.id, result.decision.reason)
            return {"outbound": result.outbound.id, "suppressed": result.decision.reason}
        for article in offered:
            suggestion = session.get(Suggestion, article.suggestion_id)
            if suggestion is not None:
                suggestion.sent_to_requester = True
        return {
            "outbound": result.outbound.id,
            "message_id": result.message_id,
            "articles": len(offered),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
