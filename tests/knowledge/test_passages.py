"""Passages: title first, sections cut within the window, overlap, limits."""

from __future__ import annotations

import itertools

from knowledge.documents import Document, Section
from knowledge.passages import PassageConfig, rough_token_count, split_document


def words(count: int, stem: str = "word") -> str:
    return " ".join(f"{stem}{i}." for i in range(count))


def test_short_article_gives_title_and_one_body_passage() -> None:
    document = Document.from_text("kb1", "Reset your VPN password", "Open the portal. Click reset.")
    passages = split_document(document, PassageConfig())
    assert [p.is_title for p in passages] == [True, False]
    assert passages[0].text == "Reset your VPN password"
    assert passages[1].text.startswith("Reset your VPN password\n")
    assert passages[1].snippet == "Open the portal. Click reset."
    assert [p.passage_id for p in passages] == ["kb1#0", "kb1#1"]


def test_long_section_is_cut_within_the_window_with_overlap() -> None:
    config = PassageConfig(max_tokens=60, overlap_tokens=10, title_passage=False)
    document = Document.from_text("kb2", "Title", words(200))
    passages = split_document(document, config)
    assert len(passages) > 3
    for passage in passages:
        assert rough_token_count(passage.text) <= config.max_tokens
    # Consecutive passages share their boundary sentence(s).
    for first, second in itertools.pairwise(passages):
        assert first.snippet.split("\n")[-1] in second.snippet
    # Nothing is lost.
    joined = " ".join(p.snippet for p in passages)
    assert all(f"word{i}." in joined for i in range(200))


def test_headings_prefix_their_passages() -> None:
    document = Document(
        "kb3",
        "Mail quota",
        (Section("Delete old items.", heading="Symptoms"), Section("Archive.", "Fix")),
    )
    passages = split_document(document, PassageConfig())
    assert passages[1].text == "Mail quota — Symptoms\nDelete old items."
    assert passages[2].text == "Mail quota — Fix\nArchive."


def test_run_on_log_without_sentences_is_cut_by_words() -> None:
    log = " ".join(f"2024-01-01T00:00:{i:02d} ERROR CWSIA0241E frame{i}" for i in range(300))
    document = Document.from_text("kb4", "", log)
    config = PassageConfig(max_tokens=80, title_passage=False)
    passages = split_document(document, config)
    assert len(passages) > 5
    assert all(rough_token_count(p.text) <= 80 for p in passages)


def test_limits_bound_hostile_articles() -> None:
    config = PassageConfig(max_tokens=40, max_passages=7, max_chars=10_000)
    document = Document.from_text("kb5", "T", words(50_000))
    passages = split_document(document, config)
    assert len(passages) <= 7
    blob = Document.from_text("kb6", "T", "x" * 1_000_000)
    assert 1 <= len(split_document(blob, PassageConfig(max_chars=5_000))) <= 200
    titled = Document.from_text(
        "kb6b",
        "Title " * 10_000,
        "Body.",
    )
    passages = split_document(titled, PassageConfig())
    assert all(len(p.text) < 400 for p in passages)


def test_empty_article_keeps_its_title_and_nothing_else() -> None:
    assert [p.text for p in split_document(Document("kb7", "Only a title"), PassageConfig())] == [
        "Only a title"
    ]
    assert split_document(Document("kb8", ""), PassageConfig()) == []


def test_tiny_tail_joins_the_previous_passage() -> None:
    config = PassageConfig(max_tokens=60, overlap_tokens=0, min_tokens=10, title_passage=False)
    text = words(25) + "\n\nEnd."
    passages = split_document(Document.from_text("kb9", "", text), config)
    assert passages[-1].snippet.endswith("End.")
    assert all(p.snippet != "End." for p in passages)
