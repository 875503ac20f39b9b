"""SQLAlchemy 2.0 typed models, one module per aggregate, and the Alembic migrations.

Importing this package registers every table on `Base.metadata` (migrations compare it).
"""

from models import web as web  # the web UI's tables (sessions, API tokens, login throttle)
from models.article import (
    Article,
    ArticleAttachment,
    ArticleExample,
    ArticleStatus,
    ArticleVersion,
    Audience,
    Embedding,
    KnowledgeState,
    Passage,
)
from models.base import Base, utcnow
from models.category import Category
from models.classification import (
    Classification,
    ClassifierModel,
    LabelSource,
    ModelStatus,
    TrainingExample,
)
from models.errors import DeskmailError
from models.event import Event
from models.inbound import InboundMessage, InboundStatus, Outcome
from models.mailbox import MailboxCursor
from models.message import Attachment, Blob, Direction, Message, ThreadRef, ThreadSignal
from models.outbound import OutboundMessage, OutboundStatus
from models.person import Person
from models.suggestion import Suggestion, SuggestionOutcome, SuggestionRun
from models.ticket import ParticipantRole, Ticket, TicketParticipant, TicketStatus
from models.user import Role, UserAccount

__all__ = [
    "Article",
    "ArticleAttachment",
    "ArticleExample",
    "ArticleStatus",
    "ArticleVersion",
    "Attachment",
    "Audience",
    "Base",
    "Blob",
    "Category",
    "Classification",
    "ClassifierModel",
    "DeskmailError",
    "Direction",
    "Embedding",
    "Event",
    "InboundMessage",
    "InboundStatus",
    "KnowledgeState",
    "LabelSource",
    "MailboxCursor",
    "Message",
    "ModelStatus",
    "OutboundMessage",
    "OutboundStatus",
    "Outcome",
    "ParticipantRole",
    "Passage",
    "Person",
    "Role",
    "Suggestion",
    "SuggestionOutcome",
    "SuggestionRun",
    "ThreadRef",
    "ThreadSignal",
    "Ticket",
    "TicketParticipant",
    "TicketStatus",
    "TrainingExample",
    "UserAccount",
    "utcnow",
]
