"""The help desk's category tree, as the classifier receives it.

The tree is data owned by the help desk (the database, seeded from
`deskmail/defaults/categories.toml`); `deskmail` passes it in. Everything the classifier
predicts is a key of this tree: a top-level category and one of its children as subcategory.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from classifier.errors import CategoryTreeError

# A help desk's tree has two levels (category, subcategory); deeper nodes would need a third
# prediction level that nobody has asked for, so they are refused rather than silently ignored.
MAX_DEPTH = 2


@dataclass(frozen=True, slots=True)
class CategoryNode:
    """One category or subcategory: a stable key, a display name and a description."""

    key: str
    name: str
    description: str = ""
    parent: str | None = None

    @property
    def profile(self) -> str:
        """The text that stands for this node in zero-shot matching: name and description."""
        if self.description:
            return f"{self.name}: {self.description}"
        return self.name


class CategoryTree:
    """A validated two-level tree of categories, in the order given."""

    def __init__(self, nodes: Iterable[CategoryNode]) -> None:
        ordered = tuple(nodes)
        by_key: dict[str, CategoryNode] = {}
        for node in ordered:
            if not node.key or node.key != node.key.strip():
                raise CategoryTreeError(f"invalid category key {node.key!r}")
            if node.key in by_key:
                raise CategoryTreeError(f"duplicate category key {node.key!r}")
            by_key[node.key] = node
        children: dict[str, list[CategoryNode]] = {}
        for node in ordered:
            if node.parent is None:
                continue
            parent = by_key.get(node.parent)
            if parent is None:
                raise CategoryTreeError(f"{node.key!r} has unknown parent {node.parent!r}")
            if parent.parent is not None:
                raise CategoryTreeError(
                    f"{node.key!r} is deeper than {MAX_DEPTH} levels (parent {parent.key!r})"
                )
            children.setdefault(node.parent, []).append(node)
        self._nodes = ordered
        self._by_key = by_key
        self._children = {key: tuple(value) for key, value in children.items()}

    @classmethod
    def flat(cls, labels: Iterable[str]) -> CategoryTree:
        """A one-level tree whose keys, names and descriptions are the labels themselves.

        For data whose labels come without a tree (benchmarks on a CSV file's label column).
        """
        return cls(CategoryNode(key=label, name=label) for label in dict.fromkeys(labels))

    @classmethod
    def from_toml(cls, text: str) -> CategoryTree:
        """Parse the `[[category]]` / `[[category.sub]]` layout of `categories.toml`."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise CategoryTreeError(f"category file is not valid TOML: {error}") from error
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CategoryTree:
        """Build a tree from parsed TOML/JSON of the shape `{"category": [{..., "sub": [...]}]}`."""
        nodes: list[CategoryNode] = []
        categories = data.get("category", [])
        if not isinstance(categories, list):
            raise CategoryTreeError("'category' must be a list of tables")
        for entry in categories:
            node = _node_from_entry(entry, parent=None)
            nodes.append(node)
            subs = entry.get("sub", [])
            if not isinstance(subs, list):
                raise CategoryTreeError(f"'sub' of {node.key!r} must be a list of tables")
            nodes.extend(_node_from_entry(sub, parent=node.key) for sub in subs)
        return cls(nodes)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __iter__(self) -> Iterator[CategoryNode]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, key: str) -> CategoryNode:
        """The node with this key; `CategoryTreeError` if there is none."""
        try:
            return self._by_key[key]
        except KeyError:
            raise CategoryTreeError(f"unknown category {key!r}") from None

    def top_level(self) -> tuple[CategoryNode, ...]:
        """The categories (nodes without a parent), in tree order."""
        return tuple(node for node in self._nodes if node.parent is None)

    def children(self, key: str) -> tuple[CategoryNode, ...]:
        """The subcategories of a category, in tree order (empty for a leaf)."""
        return self._children.get(key, ())

    def subcategories(self) -> tuple[CategoryNode, ...]:
        """Every subcategory (node with a parent), in tree order."""
        return tuple(node for node in self._nodes if node.parent is not None)

    def is_category(self, key: str) -> bool:
        """True for a top-level key of this tree."""
        node = self._by_key.get(key)
        return node is not None and node.parent is None

    def is_subcategory_of(self, sub: str, category: str) -> bool:
        """True when `sub` is a child of `category` in this tree."""
        node = self._by_key.get(sub)
        return node is not None and node.parent == category

    def resolve(self, value: str) -> str | None:
        """Map a label as people write it (key or display name, any case) to a key."""
        cleaned = value.strip()
        if cleaned in self._by_key:
            return cleaned
        folded = cleaned.casefold()
        for node in self._nodes:
            if node.key.casefold() == folded or node.name.casefold() == folded:
                return node.key
        return None

    def fingerprint(self) -> str:
        """A short hash of keys, parents, names and descriptions: changes when the tree does."""
        digest = hashlib.sha256()
        for node in self._nodes:
            for part in (node.key, node.parent or "", node.name, node.description):
                digest.update(part.encode())
                digest.update(b"\0")
        return digest.hexdigest()[:16]

    def keys(self) -> Sequence[str]:
        """All keys in tree order."""
        return tuple(node.key for node in self._nodes)


def _node_from_entry(entry: object, parent: str | None) -> CategoryNode:
    if not isinstance(entry, Mapping):
        raise CategoryTreeError("each category must be a table")
    key, name = entry.get("key"), entry.get("name")
    description = entry.get("description", "")
    if not isinstance(key, str) or not isinstance(name, str) or not isinstance(description, str):
        raise CategoryTreeError(f"category entry needs string key and name: {dict(entry)!r}")
    return CategoryNode(key=key, name=name, description=description, parent=parent)
