"""The gaps in the knowledge base: recent tickets no article fitted, grouped by likeness.

Read by the editors' "Knowledge gaps" page (`deskmail.web.routes_kb`). A ticket is a gap when
the suggest stage found nothing that fits well enough - its search's "does anything fit"
confidence (`SuggestionRun.fit_confidence`) stayed below the threshold - or found nothing at
all, or when agents rejected every suggestion it got; a ticket an article helped (accepted or
"solved") is never a gap.

Gaps are clustered so that one new article can close several (docs/decisions/0143): the
tickets' query vectors - stored by the suggest stage under `SuggestionRun.query_key`, so no
model runs here - are joined by average-linkage agglomerative clustering on cosine distance,
cut at a fixed distance. Tickets that were never searched (an empty knowledge base) have no
vector; they are grouped by their category. Each cluster names its most typical ticket (the
medoid), which prefills the draft of the article that would close it (`draft_for_gap`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskmail.knowledge_base import (
    HELPED,
    MAX_PREFILL_CHARS,
    ArticleDraft,
    KnowledgeBaseError,
    category_keys,
    draft_from_ticket,
    unique_slug,
)
from deskmail.suggest import ticket_query_text
from knowledge.embeddings import vector_from_bytes
from models import (
    Article,
    Audience,
    Embedding,
    Suggestion,
    SuggestionOutcome,
    Ticket,
)
from models.suggestion import SuggestionRun

# Below this fit confidence the matcher itself says nothing fits (decision 0055 calibrates
# the confidence as the probability that the best article answers the ticket).
DEFAULT_GAP_THRESHOLD = 0.5
# Average cosine distance at which two groups of tickets stop being one gap: MiniLM puts
# paraphrases of one problem at a similarity of about 0.6-0.9, unrelated IT problems below 0.4.
DEFAULT_CLUSTER_DISTANCE = 0.55
# The newest gaps only: clustering is quadratic in their number.
MAX_GAP_TICKETS = 500
MAX_CLUSTER_TICKETS = 200
SCAN_FACTOR = 10
NO_CATEGORY = "(no category)"


@dataclass(frozen=True)
class GapTicket:
    """A recent ticket no article fitted."""

    number: int
    subject: str
    category: str | None
    status: str
    created_at: datetime
    # None: never searched (the knowledge base had no published article then).
    fit_confidence: float | None
    best_article: str | None  # the slug of the best suggestion, if there was one
    rejected: bool  # agents rejected every suggestion it got


@dataclass(frozen=True)
class GapCluster:
    """Gaps that one article could close; `tickets[0]` is the most typical one."""

    tickets: tuple[GapTicket, ...]
    category: str | None
    # Mean cosine similarity of the tickets to the medoid (None without vectors).
    cohesion: float | None

    @property
    def label(self) -> str:
        return self.tickets[0].subject or f"Ticket {self.tickets[0].number}"

    @property
    def newest(self) -> datetime:
        return max(ticket.created_at for ticket in self.tickets)

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(ticket.number for ticket in self.tickets)


@dataclass(frozen=True)
class GapReport:
    """The gaps since `since`, clustered, largest clusters first."""

    since: datetime
    threshold: float
    clusters: tuple[GapCluster, ...]
    truncated: bool

    @property
    def ticket_count(self) -> int:
        return sum(len(cluster.tickets) for cluster in self.clusters)


@dataclass(frozen=True)
class _Candidate:
    ticket: GapTicket
    vector_key: tuple[str, str] | None  # (content key, model) of the query vector


def _latest_runs(session: Session, numbers: Sequence[int]) -> dict[int, SuggestionRun]:
    if not numbers:
        return {}
    newest = (
        select(SuggestionRun.ticket_id, func.max(SuggestionRun.id).label("run_id"))
        .where(SuggestionRun.ticket_id.in_(list(numbers)))
        .group_by(SuggestionRun.ticket_id)
        .subquery()
    )
    rows = session.execute(
        select(SuggestionRun).join(newest, newest.c.run_id == SuggestionRun.id)
    ).scalars()
    return {run.ticket_id: run for run in rows}


def _suggestion_facts(
    session: Session, numbers: Sequence[int]
) -> dict[int, tuple[str | None, set[str]]]:
    """Per ticket: the slug of its best suggestion and the set of outcomes."""
    facts: dict[int, tuple[str | None, set[str]]] = {}
    if not numbers:
        return facts
    rows = session.execute(
        select(Suggestion.ticket_id, Suggestion.rank, Suggestion.outcome, Article.slug)
        .join(Article, Article.id == Suggestion.article_id)
        .where(Suggestion.ticket_id.in_(list(numbers)))
        .order_by(Suggestion.ticket_id, Suggestion.rank)
    )
    for number, _rank, outcome, slug in rows:
        best, outcomes = facts.get(number, (None, set()))
        facts[number] = (best or slug, outcomes | {str(outcome)})
    return facts


def _candidates(
    session: Session, since: datetime, threshold: float, limit: int
) -> tuple[list[_Candidate], bool]:
    # Most recent tickets are no gap; looking at a few times the limit finds enough of them.
    scanned = limit * SCAN_FACTOR
    tickets = list(
        session.execute(
            select(Ticket)
            .where(Ticket.created_at >= since, Ticket.merged_into_id.is_(None))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(scanned)
        ).scalars()
    )
    numbers = [ticket.id for ticket in tickets]
    runs = _latest_runs(session, numbers)
    facts = _suggestion_facts(session, numbers)
    helped = {str(outcome) for outcome in HELPED}
    found: list[_Candidate] = []
    for ticket in tickets:
        run = runs.get(ticket.id)
        best, outcomes = facts.get(ticket.id, (None, set()))
        if outcomes & helped:
            continue
        rejected = bool(outcomes) and outcomes <= {str(SuggestionOutcome.REJECTED)}
        weak = run is None or run.fit_confidence < threshold
        if not (weak or rejected):
            continue
        found.append(
            _Candidate(
                GapTicket(
                    number=ticket.id,
                    subject=ticket.subject,
                    category=ticket.subcategory or ticket.category,
                    status=str(ticket.status),
                    created_at=ticket.created_at,
                    fit_confidence=None if run is None else float(run.fit_confidence),
                    best_article=best,
                    rejected=rejected,
                ),
                (run.query_key, run.model) if run is not None and run.query_key else None,
            )
        )
        if len(found) >= limit:
            return found, True
    # Older tickets were not looked at when the scan window was full.
    return found, len(tickets) == scanned


def _vectors(
    session: Session, keys: Sequence[tuple[str, str]], model_key: str
) -> dict[str, np.ndarray]:
    wanted = sorted({key for key, model in keys if model == model_key})
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(Embedding.content_sha256, Embedding.dim, Embedding.vector).where(
                Embedding.model == model_key, Embedding.content_sha256.in_(chunk)
            )
        )
        for key, dim, blob in rows:
            found[key] = vector_from_bytes(blob, dim)
    return found


def _most_common_category(tickets: Sequence[GapTicket]) -> str | None:
    counted = Counter(t.category for t in tickets if t.category)
    return counted.most_common(1)[0][0] if counted else None


def cluster_vectors(matrix: np.ndarray, distance: float) -> list[list[int]]:
    """Row indexes of `matrix` (unit vectors) grouped by average-linkage clustering on cosine
    distance, cut at `distance`; each group starts with its medoid, then by closeness."""
    count = matrix.shape[0]
    if count == 0:
        return []
    if count == 1:
        return [[0]]
    labels = fcluster(
        linkage(matrix.astype(np.float64), method="average", metric="cosine"),
        t=distance,
        criterion="distance",
    )
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    ordered: list[list[int]] = []
    for members in groups.values():
        block = matrix[members]
        similarity = block @ block.T
        medoid = int(np.argmax(similarity.sum(axis=1)))
        closeness = similarity[medoid]
        order = sorted(range(len(members)), key=lambda i: (i != medoid, -float(closeness[i]), i))
        ordered.append([members[i] for i in order])
    return ordered


def find_gaps(
    session: Session,
    *,
    since: datetime,
    model_key: str,
    threshold: float = DEFAULT_GAP_THRESHOLD,
    distance: float = DEFAULT_CLUSTER_DISTANCE,
    limit: int = MAX_GAP_TICKETS,
) -> GapReport:
    """The gaps among tickets created since `since`, clustered (see the module's doc)."""
    candidates, truncated = _candidates(session, since, threshold, limit)
    keys = [c.vector_key for c in candidates if c.vector_key is not None]
    vectors = _vectors(session, keys, model_key)
    with_vector = [c for c in candidates if c.vector_key is not None and c.vector_key[0] in vectors]
    without = [c for c in candidates if c not in with_vector]
    clusters: list[GapCluster] = []
    if with_vector:
        matrix = np.stack([vectors[c.vector_key[0]] for c in with_vector if c.vector_key])
        for members in cluster_vectors(matrix, distance):
            block = matrix[members]
            cohesion = float(np.mean(block @ block[0]))
            tickets = tuple(with_vector[i].ticket for i in members)[:MAX_CLUSTER_TICKETS]
            clusters.append(GapCluster(tickets, _most_common_category(tickets), cohesion))
    by_category: dict[str, list[GapTicket]] = {}
    for candidate in without:
        by_category.setdefault(candidate.ticket.category or NO_CATEGORY, []).append(
            candidate.ticket
        )
    for category, grouped in by_category.items():
        clusters.append(
            GapCluster(
                tuple(grouped[:MAX_CLUSTER_TICKETS]),
                None if category == NO_CATEGORY else category,
                None,
            )
        )
    clusters.sort(key=lambda c: (-len(c.tickets), -c.newest.timestamp(), c.tickets[0].number))
    return GapReport(since, threshold, tuple(clusters), truncated)


def draft_for_gap(session: Session, numbers: Sequence[int]) -> ArticleDraft:
    """A draft (not saved) for the article that would close a gap made of tickets `numbers`
    (the most typical first).

    A ticket of the gap that was resolved lends its problem and resolution
    (`draft_from_ticket`); otherwise the first ticket's words are the problem, the other
    tickets' subjects are listed under it (they are how people describe it), and the
    solution is left for the editor. Internal until reviewed, like every draft from mail.
    """
    tickets = [session.get(Ticket, number) for number in numbers]
    present = [ticket for ticket in tickets if ticket is not None]
    if not present:
        raise KnowledgeBaseError("none of these tickets exists")
    for ticket in present:
        try:
            return draft_from_ticket(session, ticket.id)
        except KnowledgeBaseError:
            continue
    first = present[0]
    problem = ticket_query_text(session, first)
    others = [t.subject for t in present[1:] if t.subject and t.subject != first.subject]
    if others:
        listed = "\n".join(f"- {subject}" for subject in dict.fromkeys(others))
        problem = f"{problem}\n\nAlso reported as:\n\n{listed}"
    keys = category_keys(session)
    counted = Counter(t.subcategory or t.category for t in present if t.subcategory or t.category)
    category = next((key for key, _count in counted.most_common() if key in keys), None)
    title = " ".join(first.subject.split())[:200] or f"Ticket {first.id}"
    return ArticleDraft(
        title=title,
        problem=problem[:MAX_PREFILL_CHARS],
        solution="",
        category=category,
        audience=Audience.INTERNAL,
        slug=unique_slug(session, title),
    )
