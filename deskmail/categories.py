"""The category tree as the help desk keeps it: the `category` table, its TOML file, its seeding.

The table is the truth; the classifier gets it as a `classifier.CategoryTree` built here
(active categories only, in display order). A new installation is seeded from
`deskmail/defaults/categories.toml` (or the file the settings name) on first start; an admin
edits the tree in the web UI, with `deskmail categories ...`, or by importing a TOML file of
the same layout. Single edits (add, rename, describe, deactivate) are the admin use cases of
`deskmail.admin_actions`, re-exported here; this module adds what works on the whole tree.
Keys never change once made (the classifier's models and the articles refer to them), so an
import matches nodes by key, and a node missing from an imported file is deactivated rather
than deleted, and only when asked.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from classifier import CategoryNode, CategoryTree, CategoryTreeError
from deskmail.admin_actions import (
    AdminActionError,
    CategoryConflictError,
    create_category,
    list_categories,
    update_category,
)
from models import Category, Event

__all__ = [
    "AdminActionError",
    "CategoryConflictError",
    "TreeFileNode",
    "TreeImportReport",
    "category_tree",
    "create_category",
    "deactivate_category",
    "default_tree_text",
    "ensure_categories",
    "export_tree",
    "get_category",
    "import_tree",
    "list_categories",
    "parse_tree",
    "read_tree_file",
    "seed_categories",
    "update_category",
]

# A tree file larger than this is not a category tree (the default is 10 kB).
MAX_TREE_FILE_BYTES = 2 * 1024 * 1024


def default_tree_text() -> str:
    """The packaged default tree (`deskmail/defaults/categories.toml`)."""
    return (files("deskmail.defaults") / "categories.toml").read_text(encoding="utf-8")


def read_tree_file(path: Path) -> str:
    """A tree file's text, refusing what cannot be a tree (huge, not UTF-8)."""
    try:
        if path.stat().st_size > MAX_TREE_FILE_BYTES:
            raise AdminActionError(f"{path} is larger than {MAX_TREE_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminActionError(f"cannot read {path}: {exc}") from exc


def get_category(session: Session, key: str) -> Category:
    """The category with this key (any state)."""
    found = session.execute(select(Category).where(Category.key == key)).scalar_one_or_none()
    if found is None:
        raise AdminActionError(f"no category {key[:100]!r}")
    return found


def category_tree(session: Session, *, include_inactive: bool = False) -> CategoryTree:
    """The tree the classifier works with: active categories in display order.

    A subcategory of an inactive category is left out with it (nothing could be predicted
    under a category that is not offered).
    """
    rows = list_categories(session)
    by_id = {row.id: row for row in rows}
    nodes: list[CategoryNode] = []
    for row in rows:
        if not (row.active or include_inactive):
            continue
        parent_key: str | None = None
        if row.parent_id is not None:
            parent = by_id.get(row.parent_id)
            if parent is None or not (parent.active or include_inactive):
                continue
            if parent.parent_id is not None:  # deeper than two levels: not a tree we use
                continue
            parent_key = parent.key
        nodes.append(
            CategoryNode(key=row.key, name=row.name, description=row.description, parent=parent_key)
        )
    return CategoryTree(nodes)


def deactivate_category(session: Session, key: str, *, actor: str) -> Category:
    """Stop offering a category (and with it its subcategories); kept for old tickets."""
    return update_category(session, key, actor=actor, active=False)


# --- TOML files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeFileNode:
    """One node of a tree file, with its place among its siblings."""

    key: str
    name: str
    description: str
    parent: str | None
    active: bool
    position: int


def parse_tree(text: str) -> list[TreeFileNode]:
    """The nodes of a tree file, validated (`[[category]]` with nested `[[category.sub]]`).

    A subcategory's key is `<category>/<sub>`; a bare `<sub>` under a category is read as
    that. An optional `active = false` marks a node that is kept but not offered.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AdminActionError(f"the category file is not valid TOML: {exc}") from exc
    nodes: list[TreeFileNode] = []
    categories = data.get("category", [])
    if not isinstance(categories, list):
        raise AdminActionError("'category' must be a list of tables ([[category]])")
    for number, entry in enumerate(categories):
        if not isinstance(entry, Mapping):
            raise AdminActionError("each [[category]] must be a table")
        top = _file_node(entry, parent=None, position=number)
        nodes.append(top)
        subs = entry.get("sub", [])
        if not isinstance(subs, list):
            raise AdminActionError(f"'sub' of {top.key!r} must be a list of tables")
        for sub_number, sub in enumerate(subs):
            if not isinstance(sub, Mapping):
                raise AdminActionError(f"each sub of {top.key!r} must be a table")
            nodes.append(_file_node(sub, parent=top.key, position=sub_number))
    try:  # the classifier's own checks: unique keys, known parents, two levels
        CategoryTree(CategoryNode(n.key, n.name, n.description, n.parent) for n in nodes)
    except CategoryTreeError as exc:
        raise AdminActionError(str(exc)) from exc
    return nodes


def _file_node(entry: Mapping[str, Any], *, parent: str | None, position: int) -> TreeFileNode:
    key, name = entry.get("key"), entry.get("name")
    description = entry.get("description", "")
    active = entry.get("active", True)
    if not isinstance(key, str) or not isinstance(name, str) or not isinstance(description, str):
        raise AdminActionError(f"a category needs a string key and name: {str(dict(entry))[:200]}")
    if not isinstance(active, bool):
        raise AdminActionError(f"'active' of {key!r} must be true or false")
    key = key.strip().lower()
    if parent is not None:
        if "/" not in key:
            key = f"{parent}/{key}"
        elif key.split("/", 1)[0] != parent:
            raise AdminActionError(f"subcategory {key!r} is listed under {parent!r}")
    return TreeFileNode(key, name, description, parent, active, position)


@dataclass
class TreeImportReport:
    """What an import changed, by key."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, list[str]]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deactivated": self.deactivated,
        }


def import_tree(
    session: Session, text: str, *, actor: str, deactivate_missing: bool = False
) -> TreeImportReport:
    """Create and update categories from a tree file (matched by key), audited per change.

    With `deactivate_missing`, active categories the file does not list stop being offered.
    Everything is checked before anything changes; the caller's transaction makes it one unit.
    """
    nodes = parse_tree(text)
    report = TreeImportReport()
    for node in nodes:  # parents come before their children in a file
        existing = session.execute(
            select(Category).where(Category.key == node.key)
        ).scalar_one_or_none()
        if existing is None:
            created = create_category(
                session, node.key, name=node.name, description=node.description, actor=actor
            )
            created.position = node.position
            if not node.active:
                created.active = False
            report.created.append(node.key)
            continue
        before = (existing.name, existing.description, existing.active, existing.position)
        update_category(
            session,
            node.key,
            actor=actor,
            name=node.name,
            description=node.description,
            active=node.active,
            position=node.position,
        )
        after = (existing.name, existing.description, existing.active, existing.position)
        (report.updated if after != before else report.unchanged).append(node.key)
    if deactivate_missing:
        listed = {node.key for node in nodes}
        for row in list_categories(session):
            if row.key not in listed and row.active:
                update_category(session, row.key, actor=actor, active=False)
                report.deactivated.append(row.key)
    return report


def _toml_string(value: str) -> str:
    # JSON's escapes (\", \\, \n, \uXXXX) are valid in TOML basic strings; DEL is the one
    # character TOML forbids unescaped that JSON leaves alone.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def export_tree(session: Session, *, include_inactive: bool = True) -> str:
    """The tree as a TOML file that `import_tree` reads back to the same tree."""
    rows = list_categories(session)
    by_id = {row.id: row for row in rows}
    lines = [
        "# Deskmail category tree. Keys never change; names and descriptions may.",
        "# The zero-shot classifier reads the descriptions: write them as employees write.",
    ]
    for row in rows:
        if not (row.active or include_inactive):
            continue
        parent = by_id.get(row.parent_id) if row.parent_id is not None else None
        if row.parent_id is not None and parent is None:
            continue  # an orphan cannot be written under a parent
        if parent is not None and not (parent.active or include_inactive):
            continue
        indent = "  " if parent is not None else ""
        header = "[[category.sub]]" if parent is not None else "[[category]]"
        lines += ["", f"{indent}{header}"]
        lines.append(f"{indent}key = {_toml_string(row.key)}")
        lines.append(f"{indent}name = {_toml_string(row.name)}")
        lines.append(f"{indent}description = {_toml_string(row.description)}")
        if not row.active:
            lines.append(f"{indent}active = false")
    return "\n".join(lines) + "\n"


# --- first start --------------------------------------------------------------------------


def seed_categories(session: Session, nodes: Iterable[TreeFileNode], *, actor: str) -> int:
    """Insert the nodes that are missing, safely while other processes do the same.

    Insert-or-ignore by key (two workers may start on an empty table at once); parents first
    so children find their ids. Returns how many rows this call inserted.
    """
    ordered = list(nodes)
    dialect = session.get_bind().dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = 0
    for level in (0, 1):
        wanted = [n for n in ordered if (n.parent is None) == (level == 0)]
        if not wanted:
            continue
        # `.all()`: a Result has `keys()`, which dict() would take for a mapping's.
        parent_ids = dict(
            session.execute(
                select(Category.key, Category.id).where(
                    Category.key.in_({n.parent for n in wanted if n.parent})
                )
            ).all()
        )
        for node in wanted:
            values = {
                "key": node.key,
                "name": node.name.strip()[:200],
                "description": node.description.strip(),
                "parent_id": parent_ids.get(node.parent) if node.parent else None,
                "position": node.position,
                "active": node.active,
            }
            result = session.execute(
                make_insert(Category)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            inserted += max(int(result.rowcount), 0)  # type: ignore[attr-defined]
    if inserted:
        session.add(
            Event(ticket_id=None, kind="categories_seeded", actor=actor, data={"count": inserted})
        )
    return inserted


def ensure_categories(session: Session, tree_file: Path | None = None) -> int:
    """Seed the tree on first start: only when the table has no category at all.

    An admin who deactivated every category is not overruled; the table is not empty then.
    """
    if session.scalar(select(func.count()).select_from(Category)):
        return 0
    text = read_tree_file(tree_file) if tree_file is not None else default_tree_text()
    return seed_categories(session, parse_tree(text), actor="system")
