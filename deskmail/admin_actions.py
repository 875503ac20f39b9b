"""Admins' use cases: the category tree's names and descriptions, and replaying failed mail.

Shared by the web UI's admin pages and the JSON API (and open to the CLI). Category keys are
what the classifier predicts and articles refer to, so a key never changes once made; names,
descriptions (which the zero-shot classifier embeds), order and the active flag may. Every
change writes an audit `Event` without a ticket.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.worker import retry_dead
from models import Category, Event
from models.errors import DeskmailError

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
# "<category>" or "<category>/<sub>": lower-case words joined by hyphens.
_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)?$")


class AdminActionError(DeskmailError):
    """An admin use case was refused; the message says why (safe to show)."""


class CategoryConflictError(AdminActionError):
    """The category exists already, or the parent of a new subcategory does not."""


def _audit(session: Session, kind: str, actor: str, **data: Any) -> None:
    session.add(Event(ticket_id=None, kind=kind, actor=actor, data=data))


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise AdminActionError("a category needs a name")
    if len(cleaned) > MAX_NAME_CHARS or any(ord(c) < 32 for c in cleaned):
        raise AdminActionError(f"the name must be one line of at most {MAX_NAME_CHARS} characters")
    return cleaned


def _clean_description(description: str) -> str:
    cleaned = description.replace("\r\n", "\n").replace("\x00", "").strip()
    if len(cleaned) > MAX_DESCRIPTION_CHARS:
        raise AdminActionError(f"a description may have at most {MAX_DESCRIPTION_CHARS} characters")
    return cleaned


def list_categories(session: Session) -> list[Category]:
    """The tree in display order: each top-level category followed by its subcategories."""
    rows = list(
        session.execute(select(Category).order_by(Category.position, Category.key)).scalars()
    )
    children: dict[int, list[Category]] = {}
    for row in rows:
        if row.parent_id is not None:
            children.setdefault(row.parent_id, []).append(row)
    ordered: list[Category] = []
    for row in rows:
        if row.parent_id is None:
            ordered.append(row)
            ordered.extend(children.get(row.id, []))
    known = {c.id for c in ordered}
    ordered.extend(r for r in rows if r.id not in known)  # orphans last, never hidden
    return ordered


def create_category(
    session: Session, key: str, *, name: str, description: str = "", actor: str
) -> Category:
    """A new category; a key "parent/sub" makes a subcategory of an existing "parent"."""
    cleaned_key = key.strip().lower()
    if not _KEY.match(cleaned_key) or len(cleaned_key) > 100:
        raise AdminActionError(
            "a key is lower-case words joined by hyphens, e.g. 'printing' or 'printing/toner'"
        )
    if session.execute(select(Category.id).where(Category.key == cleaned_key)).first():
        raise CategoryConflictError(f"the category {cleaned_key!r} exists already")
    parent_id = None
    if "/" in cleaned_key:
        parent_key = cleaned_key.split("/", 1)[0]
        parent = session.execute(
            select(Category).where(Category.key == parent_key)
        ).scalar_one_or_none()
        if parent is None:
            raise CategoryConflictError(f"create the category {parent_key!r} first")
        parent_id = parent.id
    category = Category(
        key=cleaned_key,
        name=_clean_name(name),
        description=_clean_description(description),
        parent_id=parent_id,
        active=True,
    )
    session.add(category)
    session.flush()
    _audit(session, "category_created", actor, key=cleaned_key)
    return category


def update_category(
    session: Session,
    key: str,
    *,
    actor: str,
    name: str | None = None,
    description: str | None = None,
    active: bool | None = None,
    position: int | None = None,
) -> Category:
    """Change a category's name, description, order or whether it is offered."""
    category = session.execute(select(Category).where(Category.key == key)).scalar_one_or_none()
    if category is None:
        raise AdminActionError(f"no category {key[:100]!r}")
    # Everything is checked before anything changes: a refusal leaves the category as it was.
    new_name = _clean_name(name) if name is not None else category.name
    new_description = (
        _clean_description(description) if description is not None else category.description
    )
    changes: dict[str, Any] = {}
    if new_name != category.name:
        changes["name"] = [category.name, new_name]
        category.name = new_name
    if new_description != category.description:
        # The old description is not copied into the event: it can be long; the key says which.
        changes["description"] = True
        category.description = new_description
    if active is not None and active != category.active:
        changes["active"] = [category.active, active]
        category.active = active
    if position is not None and position != category.position:
        changes["position"] = [category.position, position]
        category.position = position
    if changes:
        _audit(session, "category_updated", actor, key=category.key, changes=changes)
    return category


def replay_inbound(app: App, inbound_id: int, *, actor: str) -> bool:
    """Queue a dead-lettered or quarantined mail again (`deskmail inbound retry`), audited."""
    if not retry_dead(app, inbound_id):
        return False
    with app.sessions() as session, session.begin():
        _audit(session, "inbound_retried", actor, inbound=inbound_id)
    return True
