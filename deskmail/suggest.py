"""The suggest stage: standard solutions from the knowledge base for a new ticket.

Runs in the pipeline after classify and before acknowledge (`deskmail.pipeline`), inside the
mail's transaction. For a new ticket it searches the knowledge base (`deskmail.matching`) with
the subject and the requester's new text, using the classifier's category as a small prior
when the ticket has one, and stores:

- one `SuggestionRun`: the "does anything fit" confidence for agents (all articles) and for
  the requester (public articles only), the threshold and the query's vector key;
- the top k articles as `Suggestion` rows (rank, fused score, confidence, the passage that
  matched, the matcher's explanation);
- `eligible_for_requester` on the public articles the acknowledgement may offer: only when
  the requester's fit confidence reaches the threshold, at most a few, each one likely to fit.
  Internal articles are never eligible: the requester's search cannot see them.

Follow-ups are not searched: a reply usually continues the conversation rather than restating
the problem, and the agents already see the first suggestions (decision 0114).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.knowledge_settings import KnowledgeSettings
from deskmail.matching import ArticleMatch, MatchingService, MatchResult
from deskmail.pipeline import MailContext
from models import (
    Audience,
    Classification,
    Direction,
    Event,
    Message,
    Outcome,
    Suggestion,
    Ticket,
)
from models.suggestion import SuggestionRun

log = logging.getLogger(__name__)


def query_text(subject: str, new_text: str) -> str:
    """What a ticket is searched with: its subject and the requester's own words."""
    return "\n".join(part.strip() for part in (subject, new_text) if part and part.strip())


def ticket_query_text(session: Session, ticket: Ticket) -> str:
    """The query text of a stored ticket (the same text the suggest stage searched)."""
    first = session.execute(
        select(Message.new_text)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.INBOUND)
        .order_by(Message.id)
        .limit(1)
    ).scalar_one_or_none()
    return query_text(ticket.subject, first or "")


@dataclass(frozen=True)
class CategoryPrior:
    """The classifier's category for the ticket and how sure it was (0 when unknown)."""

    category: str | None
    confidence: float


def category_prior(session: Session, ticket: Ticket) -> CategoryPrior:
    """The ticket's category as a prior, only if it is set and not waiting for triage.

    The subcategory is preferred (articles are filed under subcategories); its confidence
    comes from the latest classification, or is full when a person set the category.
    """
    if ticket.needs_triage or not (ticket.subcategory or ticket.category):
        return CategoryPrior(None, 0.0)
    latest = session.execute(
        select(Classification)
        .where(Classification.ticket_id == ticket.id)
        .order_by(Classification.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    confidences = dict(latest.confidences) if latest is not None else {}
    for key, label in (("subcategory", ticket.subcategory), ("category", ticket.category)):
        if not label:
            continue
        if latest is None:
            return CategoryPrior(label, 1.0)
        value = confidences.get(key)
        if isinstance(value, int | float) and 0.0 <= float(value) <= 1.0:
            return CategoryPrior(label, float(value))
    return CategoryPrior(None, 0.0)


def requester_eligible(public: MatchResult, settings: KnowledgeSettings) -> dict[int, ArticleMatch]:
    """The public articles an acknowledgement may offer, by article id.

    None unless the public ranking's "does anything fit" confidence reaches the threshold;
    then its first article, and the next ones whose own confidence is high enough, up to
    `acknowledgement_max_articles`.
    """
    if public.fit_confidence < settings.acknowledgement_threshold:
        return {}
    chosen: dict[int, ArticleMatch] = {}
    for match in public.matches[: settings.acknowledgement_max_articles]:
        if match.audience is not Audience.PUBLIC:  # pragma: no cover - filtered by the search
            continue
        if chosen and match.confidence < settings.acknowledgement_min_confidence:
            break
        chosen[match.article_id] = match
    return chosen


def suggest_for_ticket(
    session: Session, matching: MatchingService, ticket: Ticket, new_text: str
) -> SuggestionRun | None:
    """Search the knowledge base for `ticket` and store the suggestions (see module doc).

    Returns the run, or None when the knowledge base has no published article or the ticket
    has no text.
    """
    settings = matching.settings
    text = query_text(ticket.subject, new_text)
    if not text:
        return None
    matching.refresh()
    if matching.loaded_articles == 0:
        return None
    prior = category_prior(session, ticket)
    vector = matching.embed_query(text, session=session)

    def search(k: int, audience: Audience | None) -> MatchResult:
        return matching.search(
            text,
            category=prior.category,
            category_confidence=prior.confidence,
            k=k,
            audience=audience,
            query_vector=vector,
        )

    agents = search(settings.top_k, None)
    if not agents.matches:
        return None
    public = search(max(1, settings.acknowledgement_max_articles), Audience.PUBLIC)
    eligible = requester_eligible(public, settings)
    run = SuggestionRun(
        ticket_id=ticket.id,
        fit_confidence=agents.fit_confidence,
        requester_fit_confidence=public.fit_confidence,
        threshold=settings.acknowledgement_threshold,
        eligible_count=len(eligible),
        knowledge_version=agents.knowledge_version,
        model=matching.store.model_key,
        query_key=matching.query_key(text),
        category=prior.category,
        category_confidence=prior.confidence,
    )
    session.add(run)
    session.flush()
    stored: list[tuple[int, ArticleMatch]] = [(m.rank, m) for m in agents.matches]
    shown = {m.article_id for m in agents.matches}
    # A public article offered to the requester but pushed below the agents' top k by
    # internal articles is stored too, at its true rank, so that what was offered is on record.
    for article_id, match in eligible.items():
        if article_id not in shown:
            rank = matching.rank_of(
                text,
                article_id,
                query_vector=vector,
                category=prior.category,
                category_confidence=prior.confidence,
            )
            stored.append((rank or settings.top_k + len(stored), match))
    for rank, match in stored:
        session.add(
            Suggestion(
                ticket_id=ticket.id,
                article_id=match.article_id,
                run_id=run.id,
                rank=rank,
                score=match.score,
                confidence=match.confidence,
                passage=match.passage,
                explanation=match.explanation,
                eligible_for_requester=match.article_id in eligible,
            )
        )
    session.add(
        Event(
            ticket_id=ticket.id,
            kind="suggested",
            actor="system",
            data={
                "articles": [match.slug for _rank, match in stored],
                "fit_confidence": round(agents.fit_confidence, 4),
                "requester_fit_confidence": round(public.fit_confidence, 4),
                "eligible": [eligible[a].slug for a in eligible],
                "knowledge_version": agents.knowledge_version,
            },
        )
    )
    log.info(
        "ticket #%s: %s suggestions (fit %.2f, %s for the requester)",
        ticket.id,
        len(stored),
        agents.fit_confidence,
        len(eligible),
    )
    return run


class SuggestStage:
    """The pipeline stage: `SuggestStage(matching)(ctx)` for each mail."""

    def __init__(self, matching: MatchingService) -> None:
        self.matching = matching

    def __call__(self, ctx: MailContext) -> None:
        if ctx.outcome is not Outcome.TICKET_CREATED or ctx.ticket is None:
            return
        run = suggest_for_ticket(ctx.session, self.matching, ctx.ticket, ctx.new_text)
        if run is not None:
            ctx.details["suggestions"] = {
                "run": run.id,
                "fit_confidence": round(run.fit_confidence, 4),
                "eligible": run.eligible_count,
            }
