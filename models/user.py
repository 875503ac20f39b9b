"""Accounts of the people who work in Deskmail: agents, knowledge editors and admins.

Requesters have no account; they reach their tickets through signed links.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.person import Person


class Role(StrEnum):
    """What an account may do; each role includes the ones before it in `ROLE_ORDER`."""

    AGENT = "agent"
    EDITOR = "editor"
    ADMIN = "admin"


class UserAccount(Base):
    """A login for an agent, editor or admin, tied to a person."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    role: Mapped[Role] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)
    # The assignment group this account belongs to (routing and notifications).
    group: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship(lazy="joined")
