"""Tokenisation keeps identifiers; BM25 ranks by them."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.lexical import LexicalConfig, LexicalIndex, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Error CWSIA0241E when starting", {"cwsia0241e"}),
        ("Access denied (0x80070005)", {"0x80070005"}),
        ("ORA-12514: TNS:listener does not know", {"ora-12514", "ora", "12514"}),
        ("java.lang.OutOfMemoryError thrown", {"java.lang.outofmemoryerror", "outofmemoryerror"}),
        ("reason 2189 MQRC_CLUSTER_RESOLUTION_ERROR", {"mqrc_cluster_resolution_error", "2189"}),
        ("upgrade to 8.5.5.9 failed", {"8.5.5.9"}),
        ("SQL30081N communication error", {"sql30081n"}),
    ],
)
def test_identifiers_survive_tokenisation(text: str, expected: set[str]) -> None:
    assert expected <= set(tokenize(text))


def test_stop_words_and_single_letters_are_dropped() -> None:
    assert tokenize("It is a VPN and the x of it") == ["vpn"]


def test_long_tokens_are_bounded() -> None:
    blob = "A" * 5000
    assert tokenize(blob, max_token_chars=64) == []
    assert tokenize("") == []


def test_code_in_query_finds_article_by_code_either_spelling() -> None:
    index = LexicalIndex.from_texts(
        [
            "ORA-12514 listener does not currently know of service requested",
            "VPN client cannot connect from home network",
            "Outlook mailbox is full and rejects new mail",
        ],
        LexicalConfig(),
    )
    for query in ("getting ORA-12514 since this morning", "error ora 12514"):
        scores = index.scores(query)
        assert int(np.argmax(scores)) == 0
        assert scores[1] == 0.0


def test_empty_corpus_and_unknown_tokens_score_zero() -> None:
    empty = LexicalIndex.from_texts([], LexicalConfig())
    assert empty.scores("anything").shape == (0,)
    index = LexicalIndex.from_texts(["", "printer offline"], LexicalConfig())
    assert index.scores("zzz qqq").tolist() == [0.0, 0.0]
    assert index.scores("").tolist() == [0.0, 0.0]
    assert index.scores("printer")[1] > 0.0


def test_query_token_cap_bounds_hostile_queries() -> None:
    index = LexicalIndex.from_texts(["printer"], LexicalConfig(max_query_tokens=10))
    assert len(index.query_tokens("word " * 10_000)) == 10
