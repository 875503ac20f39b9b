"""The category tree: parsing the default file, validation, lookups."""

import pytest

from classifier.errors import CategoryTreeError
from classifier.tree import CategoryNode, CategoryTree


def test_default_tree_parses_with_two_levels(default_tree: CategoryTree) -> None:
    tops = default_tree.top_level()
    assert "accounts" in {node.key for node in tops}
    children = default_tree.children("accounts")
    assert "accounts/password" in {node.key for node in children}
    assert all(node.parent == "accounts" for node in children)
    assert default_tree.is_subcategory_of("accounts/password", "accounts")
    assert not default_tree.is_subcategory_of("accounts/password", "email")


@pytest.mark.parametrize(
    "nodes",
    [
        [CategoryNode("a", "A"), CategoryNode("a", "A again")],
        [CategoryNode("a/b", "B", parent="a")],
        [
            CategoryNode("a", "A"),
            CategoryNode("b", "B", parent="a"),
            CategoryNode("c", "C", parent="b"),
        ],
        [CategoryNode(" a", "A")],
    ],
)
def test_invalid_trees_are_refused(nodes: list[CategoryNode]) -> None:
    with pytest.raises(CategoryTreeError):
        CategoryTree(nodes)


def test_resolve_by_key_or_name_any_case(default_tree: CategoryTree) -> None:
    assert default_tree.resolve("accounts") == "accounts"
    assert default_tree.resolve("  password RESET ") == "accounts/password"
    assert default_tree.resolve("no such thing") is None


def test_fingerprint_changes_with_descriptions() -> None:
    one = CategoryTree([CategoryNode("a", "A", "printers")])
    two = CategoryTree([CategoryNode("a", "A", "scanners")])
    assert one.fingerprint() != two.fingerprint()
    assert one.fingerprint() == CategoryTree([CategoryNode("a", "A", "printers")]).fingerprint()


def test_bad_toml_is_a_tree_error() -> None:
    with pytest.raises(CategoryTreeError):
        CategoryTree.from_toml("[[category]]\nkey = 1\n")
    with pytest.raises(CategoryTreeError):
        CategoryTree.from_toml("not toml [")
