"""Tests for the starter knowledge base shipped in deskmail/defaults/knowledge/.

The articles are loaded on a help desk's first start, so they must parse, fit the default
category tree, cover every top-level category, and read like real articles (steps to follow,
when to contact the help desk, no invented links or template placeholders).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from importlib.resources import files
from importlib.resources.abc import Traversable

import pytest

from knowledge.kb_io import (
    ArticleDocument,
    ArticleStatus,
    Audience,
    read_jsonl,
    read_markdown,
    read_markdown_dir,
    write_jsonl,
    write_markdown,
)

DEFAULTS = files("deskmail.defaults")
KNOWLEDGE = DEFAULTS / "knowledge"


def _category_tree() -> tuple[set[str], set[str]]:
    """(top-level keys, all keys) of the default category tree."""
    tree = tomllib.loads((DEFAULTS / "categories.toml").read_text(encoding="utf-8"))
    top = {category["key"] for category in tree["category"]}
    subs = {sub["key"] for category in tree["category"] for sub in category.get("sub", [])}
    return top, top | subs


TOP_LEVEL, ALL_KEYS = _category_tree()
ARTICLES = read_markdown_dir(KNOWLEDGE, categories=ALL_KEYS)


def _words(doc: ArticleDocument) -> int:
    return len(re.findall(r"[A-Za-z0-9']+", f"{doc.problem} {doc.solution}"))


def _article_files() -> list[Traversable]:
    return sorted(
        (entry for entry in KNOWLEDGE.iterdir() if entry.name.endswith(".md")),
        key=lambda entry: entry.name,
    )


def test_at_least_45_articles_parse() -> None:
    assert len(ARTICLES) >= 45
    assert len(ARTICLES) == len(_article_files())


@pytest.mark.parametrize("entry", _article_files(), ids=lambda entry: entry.name)
def test_files_use_explicit_sections_and_front_matter(entry: Traversable) -> None:
    text = entry.read_text(encoding="utf-8")
    assert text.startswith("---\nslug: ")
    assert re.search(r"^audience: (public|internal)$", text, re.MULTILINE)
    assert re.search(r"^## Problem\n.+^## Solution\n", text, re.MULTILINE | re.DOTALL)


def test_file_names_match_slugs_and_slugs_are_unique() -> None:
    assert [f"{doc.slug}.md" for doc in ARTICLES] == [entry.name for entry in _article_files()]
    assert len({doc.slug for doc in ARTICLES}) == len(ARTICLES)
    duplicates = [t for t, n in Counter(doc.title.casefold() for doc in ARTICLES).items() if n > 1]
    assert duplicates == []


def test_every_category_is_in_the_default_tree() -> None:
    unknown = {doc.slug: doc.category for doc in ARTICLES if doc.category not in ALL_KEYS}
    assert unknown == {}


def test_every_top_level_category_has_articles() -> None:
    covered = {(doc.category or "").split("/")[0] for doc in ARTICLES}
    assert TOP_LEVEL - covered == set()


def test_both_audiences_are_present() -> None:
    audiences = Counter(doc.audience for doc in ARTICLES)
    assert 5 <= audiences[Audience.INTERNAL] <= 8
    assert audiences[Audience.PUBLIC] >= 45
    assert all(doc.status is ArticleStatus.PUBLISHED for doc in ARTICLES)


@pytest.mark.parametrize("doc", ARTICLES, ids=[doc.slug for doc in ARTICLES])
def test_article_is_a_complete_focused_article(doc: ArticleDocument) -> None:
    assert 150 <= _words(doc) <= 500, f"{doc.slug} has {_words(doc)} words"
    assert len(doc.problem.split()) >= 20, "the Problem section describes symptoms"
    assert re.search(r"^\s*1\. ", doc.solution, re.MULTILINE), "the Solution has numbered steps"
    assert "help desk" in doc.solution.lower() or doc.audience is Audience.INTERNAL
    assert doc.tags, "tags help the lexical matcher"
    assert doc.category is not None
    assert "/" in doc.category, "articles use subcategories"


@pytest.mark.parametrize("doc", ARTICLES, ids=[doc.slug for doc in ARTICLES])
def test_article_has_no_links_or_placeholders(doc: ArticleDocument) -> None:
    text = f"{doc.title}\n{doc.problem}\n{doc.solution}"
    # Help desks add their own addresses; an invented URL or template syntax would be shown to
    # employees as is.
    assert not re.search(r"https?://|www\.|\{\{|\}\}|\{%|\]\(", text)
    assert not re.search(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b", text), "no email addresses"


def test_internal_articles_are_marked_as_agent_procedures() -> None:
    internal = [doc for doc in ARTICLES if doc.audience is Audience.INTERNAL]
    assert all(doc.title.startswith("Agents:") for doc in internal)
    public = [doc for doc in ARTICLES if doc.audience is Audience.PUBLIC]
    assert not any(doc.title.startswith("Agents:") for doc in public)


def test_starter_articles_round_trip() -> None:
    for doc in ARTICLES:
        assert read_markdown(write_markdown(doc), source=doc.slug) == doc
    assert read_jsonl(write_jsonl(ARTICLES).splitlines()) == ARTICLES
