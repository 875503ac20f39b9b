"""The hybrid matcher on a small knowledge base written for these tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from knowledge.dense import DenseConfig
from knowledge.documents import Document, Section
from knowledge.embeddings import (
    TextEncoder,
    matrix_from_bytes,
    vector_from_bytes,
    vector_to_bytes,
)
from knowledge.fusion import FusionConfig
from knowledge.matcher import ArticleInfo, LearningConfig, Matcher, MatcherConfig, MatcherIndex
from knowledge.passages import PassageConfig, split_documents
from tests.knowledge.conftest import ConceptEncoder

ARTICLES = (
    Document.from_text(
        "vpn-cert",
        "VPN error 4011",
        "AnyConnect reports error VPN-4011: renew your token in the portal and reconnect.",
        category="network/vpn",
    ),
    Document.from_text(
        "vpn-dns",
        "VPN error 5230",
        "AnyConnect reports error VPN-5230: flush the resolver cache and reconnect.",
        category="network/dns",
    ),
    Document.from_text(
        "password",
        "Reset a forgotten password",
        "Use the self-service portal to set new credentials; the link expires after one hour.",
        category="accounts",
        audience="requester",
    ),
    Document.from_text(
        "quota",
        "Mailbox full",
        "When Outlook says the mailbox is over quota, archive old items or ask for more space.",
        category="mail",
    ),
    Document.from_text(
        "printer",
        "Printer shows low toner",
        "Order toner through the facilities desk; the printer keeps printing in draft mode.",
        category="hardware/printer",
    ),
    Document.from_text(
        "ora-listener",
        "Database connection fails: ORA-12514",
        "ORA-12514 means the listener does not know the service name. Check tnsnames.ora.",
        category="apps/database",
        audience="agent",
    ),
    Document.from_text(
        "ora-login",
        "Database connection fails: ORA-01017",
        "ORA-01017 means invalid username or password at login. Check the account.",
        category="apps/database",
        audience="agent",
    ),
    Document(
        "wifi",
        "Wireless network drops",
        (
            Section("Laptops lose the WLAN every few minutes.", "Symptom"),
            Section("Update the wireless driver from the software centre.", "Fix"),
        ),
        category="network/wifi",
    ),
)

# (query, relevant article): paraphrases that share no word with their article, and tickets
# whose only distinguishing evidence is an error code.
QUERIES = (
    ("forgot my passphrase, what now", "password"),
    ("my inbox has no storage left", "quota"),
    ("print job comes out pale, need new cartridge toner", "printer"),
    ("wlan keeps disconnecting on my notebook", "wifi"),
    ("tunnel error VPN-4011 this morning", "vpn-cert"),
    ("tunnel error VPN-5230 again", "vpn-dns"),
    ("sql connection error ORA-12514", "ora-listener"),
    ("sql connection error ORA-01017", "ora-login"),
)


def build(encoder: TextEncoder, config: MatcherConfig | None = None) -> Matcher:
    config = config or MatcherConfig()
    passages = split_documents(ARTICLES, PassageConfig())
    vectors = encoder.encode([passage.text for passage in passages])
    articles = [ArticleInfo.from_document(document) for document in ARTICLES]
    return Matcher(MatcherIndex(passages, vectors, articles, config), encoder, config)


def rank_of(ranking: Sequence[str], relevant: str) -> int:
    return list(ranking).index(relevant) + 1


def mrr_of(rankings: Sequence[Sequence[str]]) -> float:
    return float(
        np.mean([1 / rank_of(r, rel) for r, (_, rel) in zip(rankings, QUERIES, strict=True)])
    )


def test_fused_ranking_beats_both_halves(concept_encoder: ConceptEncoder) -> None:
    matcher = build(concept_encoder)
    dense_only = build(concept_encoder, MatcherConfig(fusion=FusionConfig(lexical_weight=0.0)))
    index = matcher.index
    fused = [[doc for doc, _ in matcher.ranking(q)] for q, _ in QUERIES]
    dense = [[doc for doc, _ in dense_only.ranking(q)] for q, _ in QUERIES]
    lexical = []
    for query, _ in QUERIES:
        scores = index.lexical_scores(index.query_tokens(query))
        lexical.append([index.doc_ids[i] for i in np.argsort(-scores, kind="stable")])
    assert all(
        ranking[0] == relevant for ranking, (_, relevant) in zip(fused, QUERIES, strict=True)
    )
    assert mrr_of(fused) == 1.0
    assert mrr_of(dense) < 1.0
    assert mrr_of(lexical) < 1.0


def test_suggestions_explain_themselves(concept_encoder: ConceptEncoder) -> None:
    matcher = build(concept_encoder)
    result = matcher.search("sql connection error ORA-12514", k=3)
    assert len(result) == 3
    first = result[0]
    assert first.article_id == "ora-listener"
    assert first.rank == 1
    assert "ora-12514" in first.matched_terms
    assert "ORA-12514" in first.passage_text
    assert first.passage_id.startswith("ora-listener#")
    assert first.score == pytest.approx(
        first.dense_score + first.lexical_contribution + first.example_bonus + first.category_bonus,
        abs=1e-5,
    )
    assert [s.rank for s in result] == [1, 2, 3]
    assert all(0.0 <= s.confidence <= 1.0 for s in result)
    assert result[0].confidence >= result[2].confidence
    assert 0.0 <= result.fit_confidence <= 1.0
    explanation = first.explanation()
    assert explanation["passage_id"] == first.passage_id
    assert "features" in explanation


def test_fit_confidence_is_lower_when_nothing_fits(concept_encoder: ConceptEncoder) -> None:
    matcher = build(concept_encoder)
    clear = matcher.search("sql connection error ORA-12514 listener database")
    vague = matcher.search("hello, quick question about the canteen menu")
    assert clear.fit_confidence > vague.fit_confidence


def test_learning_moves_positive_up_negative_down_and_nothing_else(
    concept_encoder: ConceptEncoder,
) -> None:
    matcher = build(concept_encoder)
    ticket = "my laptop is sluggish after the update"
    similar = "laptop sluggish since the update"
    unrelated_before = [matcher.ranking(q) for q, _ in QUERIES]
    before = dict(matcher.ranking(similar))
    assert matcher.ranking(similar)[0][0] != "printer"

    # A solved ticket: "printer" helped (say, a print spooler hogging the laptop).
    example = matcher.add_example("printer", ticket, True)
    assert example.positive
    assert example.vector.shape == (concept_encoder.dimension,)
    lifted = matcher.ranking(similar)
    assert lifted[0][0] == "printer"
    assert dict(lifted)["printer"] > before["printer"]

    # An agent rejects "printer" for a near-identical ticket: it goes down again.
    matcher.add_example("printer", similar, False)
    lowered = dict(matcher.ranking(similar))
    assert lowered["printer"] < dict(lifted)["printer"]
    # Other articles keep their scores to the last bit.
    assert {k: v for k, v in lowered.items() if k != "printer"} == {
        k: v for k, v in before.items() if k != "printer"
    }

    # Unrelated tickets: identical rankings and scores.
    assert [matcher.ranking(q) for q, _ in QUERIES] == unrelated_before


def test_negative_example_demotes_the_rejected_article(concept_encoder: ConceptEncoder) -> None:
    matcher = build(concept_encoder)
    ticket = "tunnel error VPN-4011 this morning"
    before = dict(matcher.ranking(ticket))
    matcher.add_example("vpn-cert", ticket, False)
    after = dict(matcher.ranking(ticket))
    assert after["vpn-cert"] < before["vpn-cert"]
    assert {k: v for k, v in after.items() if k != "vpn-cert"} == {
        k: v for k, v in before.items() if k != "vpn-cert"
    }


def test_examples_survive_a_rebuild_and_unknown_articles_are_ignored(
    concept_encoder: ConceptEncoder,
) -> None:
    matcher = build(concept_encoder)
    matcher.add_example("printer", "laptop sluggish", True)
    matcher.add_example("deleted-article", "laptop sluggish", True)
    rebuilt = matcher.with_index(build(concept_encoder).index)
    assert len(rebuilt.examples) == 2
    assert rebuilt.ranking("laptop sluggish")[0][0] == "printer"


def test_examples_of_another_model_are_kept_but_not_used(
    concept_encoder: ConceptEncoder,
) -> None:
    matcher = build(concept_encoder)
    before = matcher.ranking("laptop sluggish")
    matcher.add_example("printer", "laptop sluggish", True, vector=np.ones(7, np.float32))
    assert len(matcher.examples) == 1
    assert matcher.ranking("laptop sluggish") == before


def test_example_memory_is_bounded(concept_encoder: ConceptEncoder) -> None:
    config = MatcherConfig(learning=LearningConfig(max_examples_per_article=3))
    matcher = build(concept_encoder, config)
    for number in range(10):
        matcher.add_example("printer", f"ticket {number} printer", True)
    assert [ex.text for ex in matcher.examples] == [
        "ticket 7 printer",
        "ticket 8 printer",
        "ticket 9 printer",
    ]


def test_category_prior_breaks_near_ties_only(concept_encoder: ConceptEncoder) -> None:
    matcher = build(concept_encoder)
    query = "tunnel error"  # both VPN articles fit (almost) exactly as well
    plain = matcher.search(query, k=2)
    assert {s.article_id for s in plain} == {"vpn-cert", "vpn-dns"}
    assert plain[0].score == pytest.approx(plain[1].score, abs=0.01)
    for category, first, second in (
        ("network/dns", "vpn-dns", "vpn-cert"),
        ("network/vpn", "vpn-cert", "vpn-dns"),
    ):
        hinted = matcher.search(query, k=2, category=category, category_confidence=1.0)
        assert [s.article_id for s in hinted] == [first, second]
        assert hinted[0].category_bonus == pytest.approx(0.03)
        assert hinted[1].category_bonus == 0.0  # a sibling category is no match
    unsure = matcher.search(query, k=2, category="network/dns", category_confidence=0.0)
    assert [s.article_id for s in unsure] == [s.article_id for s in plain]
    parent = matcher.search("printer toner", category="hardware", category_confidence=0.5)
    assert parent[0].category_bonus == pytest.approx(0.03 * 0.5 * 0.5)
    wrong = matcher.search(
        "sql connection error ORA-12514", category="mail", category_confidence=1.0
    )
    assert wrong[0].article_id == "ora-listener"  # a wrong guess does not bury the answer


def test_audience_filter(concept_encoder: ConceptEncoder) -> None:
    matcher = build(concept_encoder)
    result = matcher.search(
        "sql connection error ORA-12514", k=8, audiences=frozenset({"requester"})
    )
    ids = {s.article_id for s in result}
    assert "ora-listener" not in ids
    assert "ora-login" not in ids
    assert "password" in ids  # requester-facing
    assert "quota" in ids  # no audience: for everyone


def test_index_rebuilds_from_stored_bytes(concept_encoder: ConceptEncoder) -> None:
    passages = split_documents(ARTICLES, PassageConfig())
    vectors = concept_encoder.encode([p.text for p in passages])
    stored = [vector_to_bytes(v) for v in vectors]
    reloaded = matrix_from_bytes(stored, concept_encoder.dimension)
    assert np.array_equal(vector_from_bytes(stored[0]), vectors[0])
    articles = [ArticleInfo.from_document(d) for d in ARTICLES]
    one = Matcher(MatcherIndex(passages, vectors, articles), concept_encoder)
    two = Matcher(MatcherIndex(passages, reloaded, articles), concept_encoder)
    for query, _ in QUERIES:
        assert one.ranking(query) == two.ranking(query)


def test_approximate_index_gives_the_same_suggestions(concept_encoder: ConceptEncoder) -> None:
    exact = build(concept_encoder)
    approximate = build(
        concept_encoder,
        MatcherConfig(dense=DenseConfig(approximate_above=5, nlist=1, threads=1)),
    )
    assert not approximate.index.exact
    for query, relevant in QUERIES:
        top = approximate.search(query, k=3)
        assert top[0].article_id == relevant
        assert [s.article_id for s in top] == [s.article_id for s in exact.search(query, k=3)]


def test_hostile_and_empty_inputs(concept_encoder: ConceptEncoder) -> None:
    matcher = build(concept_encoder)
    assert len(matcher.search("")) == 5
    huge = matcher.search("ORA-12514 " * 100_000)
    assert huge[0].article_id == "ora-listener"
    assert len(matcher.search("anything", k=0)) == 0
    empty = Matcher(MatcherIndex([], np.zeros((0, 8), np.float32)), concept_encoder)
    result = empty.search("anything")
    assert len(result) == 0
    assert result.fit_confidence == 0.0
    with pytest.raises(ValueError, match="vectors"):
        MatcherIndex(
            split_documents(ARTICLES[:1], PassageConfig()), np.zeros((1, 8), dtype=np.float32)
        )


@pytest.mark.model
def test_real_model_fused_beats_both_halves(real_encoder: TextEncoder) -> None:
    matcher = build(real_encoder)
    dense_only = build(real_encoder, MatcherConfig(fusion=FusionConfig(lexical_weight=0.0)))
    index = matcher.index
    fused = [[doc for doc, _ in matcher.ranking(q)] for q, _ in QUERIES]
    dense = [[doc for doc, _ in dense_only.ranking(q)] for q, _ in QUERIES]
    lexical = []
    for query, _ in QUERIES:
        scores = index.lexical_scores(index.query_tokens(query))
        lexical.append([index.doc_ids[i] for i in np.argsort(-scores, kind="stable")])
    assert mrr_of(fused) > mrr_of(lexical)
    assert mrr_of(fused) >= mrr_of(dense)
    assert mrr_of(fused) >= 0.9


def test_category_match_covers_ancestors_and_descendants(
    concept_encoder: ConceptEncoder,
) -> None:
    index = build(concept_encoder).index
    by_id = dict(zip(index.doc_ids, index.category_match("network/vpn/anyconnect"), strict=True))
    assert by_id["vpn-cert"] == 0.5  # network/vpn is an ancestor
    assert by_id["wifi"] == 0.0  # network/wifi is a cousin
    by_id = dict(zip(index.doc_ids, index.category_match("NETWORK/"), strict=True))
    assert by_id["vpn-cert"] == by_id["wifi"] == 0.5  # descendants
    assert by_id["printer"] == 0.0
    assert not index.category_match("").any()
