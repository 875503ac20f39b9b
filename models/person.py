"""People who write to the help desk or work in it: requesters, agents, editors, admins.

A person is known by e-mail address (lower-cased). Agents and editors also have a user account
(`models.user`). Whether automatic mail to a person is muted (after hard bounces) is kept here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Person(Base):
    """Someone with an e-mail address the help desk knows."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    vip: Mapped[bool] = mapped_column(default=False)
    # The person's role in the organisation ("executive", "engineer", ...): some roles count
    # as VIP for prioritising (classifier settings, `vip_roles`).
    role: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # Automatic mail (acknowledgements, notifications) is not sent while muted, e.g. after a
    # hard bounce: it would only bounce again.
    auto_mail_muted: Mapped[bool] = mapped_column(default=False)
    auto_mail_muted_reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
