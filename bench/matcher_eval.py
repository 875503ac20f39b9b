"""Quality of the matcher on a document set and its queries: dense only, BM25 only, plain RRF
and the fused matcher side by side, abstention AUROC, and confidence thresholds.

    python bench/matcher_eval.py --docs DOCS.jsonl --queries QUERIES [--history PAST]
        [--mode fused|dense|bm25|rrf] [--split dev] [--tune] [--calibrate-all]

Layouts are detected from the files (see bench/_matcher_data.py). `--history` adds the solved
tickets of PAST as examples (learning from use) before the queries are run: a positive example
for each relevant article, and a negative one for a wrong first suggestion (what an agent who
rejected it would record). `--tune` runs a nested 5-fold cross-validation of the fusion
weights (grouped by relevant document); `--tune-all` runs the grid on the three development
sets in ../shared/data with a leave-one-set-out check; `--calibrate-all` fits the default
confidence models on them. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._matcher_data import (
    DATA,
    EvalQuery,
    auroc,
    bench_encoder,
    grouped_folds,
    load_documents,
    load_queries,
    ranking_metrics,
)
from knowledge.documents import Document
from knowledge.embeddings import FloatMatrix, SentenceTransformerEncoder
from knowledge.fusion import (
    ConfidenceFeatures,
    ConfidenceModel,
    ranked_features,
    reciprocal_rank_fusion,
)
from knowledge.matcher import ArticleInfo, Matcher, MatcherConfig, MatcherIndex
from knowledge.passages import PassageConfig, split_documents

LAMBDAS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
SATURATIONS = (0, 10, 20, 40)


@dataclass
class Prepared:
    matcher: Matcher
    queries: list[EvalQuery]
    vectors: FloatMatrix
    dense: np.ndarray  # (n_queries, n_docs) best-passage cosine, index order
    lexical: np.ndarray  # (n_queries, n_docs) BM25
    n_tokens: np.ndarray  # (n_queries,)


def build_matcher(
    documents: Sequence[Document], encoder: SentenceTransformerEncoder, config: MatcherConfig
) -> Matcher:
    passages = split_documents(documents, PassageConfig(), encoder.count_tokens)
    vectors = encoder.encode([passage.text for passage in passages])
    articles = [ArticleInfo.from_document(document) for document in documents]
    return Matcher(MatcherIndex(passages, vectors, articles, config), encoder, config)


def prepare(docs_path: Path, queries_path: Path, split: str | None) -> Prepared:
    encoder = bench_encoder()
    matcher = build_matcher(load_documents(docs_path), encoder, MatcherConfig())
    queries = load_queries(queries_path, split)
    vectors = matcher.encode_queries([query.text for query in queries])
    index = matcher.index
    dense = np.stack([index.dense_scores(vector)[0] for vector in vectors])
    tokens = [index.query_tokens(query.text) for query in queries]
    lexical = np.stack([index.lexical_scores(query_tokens) for query_tokens in tokens])
    n_tokens = np.asarray([len(query_tokens) for query_tokens in tokens])
    return Prepared(matcher, queries, vectors, dense, lexical, n_tokens)


def fused_matrix(prep: Prepared, weight: float, saturation: int) -> np.ndarray:
    best = prep.lexical.max(axis=1, keepdims=True)
    best[best <= 0] = 1.0
    share = np.full(len(prep.queries), weight)
    if saturation > 0:
        share = weight * np.minimum(1.0, prep.n_tokens / saturation)
    fused: np.ndarray = prep.dense + share[:, None] * prep.lexical / best
    return fused


def rankings_of(prep: Prepared, scores: np.ndarray) -> list[list[str]]:
    ids = prep.matcher.index.doc_ids
    order = np.argsort(-scores, axis=1, kind="stable")
    return [[ids[j] for j in row] for row in order]


def fit_confidences(rankings_scores: Sequence[np.ndarray], model: ConfidenceModel) -> list[float]:
    values = []
    for scores in rankings_scores:
        features = ranked_features(np.sort(scores)[::-1][:3], 1)
        values.append(model.probability(features[0]) if features else 0.0)
    return values


def threshold_table(
    confidences: Sequence[float], correct: Sequence[bool], targets: Sequence[float]
) -> list[dict[str, float]]:
    """For each target precision of the first suggestion: the lowest threshold reaching it
    on these queries, with the share of queries above it; and the same threshold chosen by
    5-fold cross-validation (chosen on four folds, measured on the fifth)."""
    conf = np.asarray(confidences)
    right = np.asarray(correct, dtype=bool)
    rows = []
    rng = np.random.default_rng(7)
    fold_of = rng.integers(0, 5, size=conf.size)
    for target in targets:
        threshold = _lowest_threshold(conf, right, target)
        above = conf >= threshold
        cv_hits = cv_total = 0
        for fold in range(5):
            train = fold_of != fold
            chosen = _lowest_threshold(conf[train], right[train], target)
            test = (fold_of == fold) & (conf >= chosen)
            cv_hits += int(right[test].sum())
            cv_total += int(test.sum())
        rows.append(
            {
                "target_precision": target,
                "threshold": float(threshold),
                "coverage": float(above.mean()),
                "precision": float(right[above].mean()) if above.any() else float("nan"),
                "cv_precision": cv_hits / cv_total if cv_total else float("nan"),
                "cv_coverage": cv_total / conf.size,
            }
        )
    return rows


def _lowest_threshold(conf: np.ndarray, right: np.ndarray, target: float) -> float:
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(right[order])
    precision = hits / np.arange(1, order.size + 1)
    ok = np.flatnonzero(precision >= target)
    if ok.size == 0:
        return 1.0
    # Largest prefix that still reaches the target precision.
    return float(conf[order[ok[-1]]])


def add_history(prep: Prepared, history: Sequence[EvalQuery]) -> tuple[int, int]:
    """Replay past tickets: accepted article -> positive example; a wrong first suggestion ->
    negative example (an agent's rejection)."""
    matcher = prep.matcher
    solved = [query for query in history if query.relevant]
    vectors = matcher.encode_queries([query.text for query in solved])
    positives = negatives = 0
    for query, vector in zip(solved, vectors, strict=True):
        top = matcher.search(query.text, k=1, query_vector=vector)
        if top and top[0].article_id not in query.relevant:
            matcher.add_example(top[0].article_id, query.text, False, vector=vector)
            negatives += 1
        for article_id in sorted(query.relevant):
            if matcher.index.position_of(article_id) is not None:
                matcher.add_example(article_id, query.text, True, vector=vector)
                positives += 1
    return positives, negatives


def evaluate(prep: Prepared, mode: str) -> dict[str, object]:
    queries = prep.queries
    relevants = [query.relevant for query in queries]
    answerable = [query.answerable for query in queries]
    matcher = prep.matcher
    fusion = matcher.config.fusion
    table: dict[str, dict[str, float]] = {}
    per_mode_scores: dict[str, list[np.ndarray]] = {}
    rankings: dict[str, list[list[str]]] = {}
    dense_only = prep.dense
    rankings["dense"] = rankings_of(prep, dense_only)
    per_mode_scores["dense"] = list(dense_only)
    rankings["bm25"] = rankings_of(prep, prep.lexical)
    per_mode_scores["bm25"] = [row / max(row.max(), 1e-9) for row in prep.lexical]
    rrf = np.stack(
        [reciprocal_rank_fusion([d, b]) for d, b in zip(prep.dense, prep.lexical, strict=True)]
    )
    rankings["rrf"] = rankings_of(prep, rrf)
    per_mode_scores["rrf"] = list(rrf * 30.0)  # same ordering; scale only for the table
    fused_rankings: list[list[str]] = []
    fused_scores: list[np.ndarray] = []
    for query, vector in zip(queries, prep.vectors, strict=True):
        ranked = matcher.ranking(query.text, query_vector=vector)
        fused_rankings.append([doc_id for doc_id, _ in ranked])
        fused_scores.append(np.asarray([score for _, score in ranked], dtype=np.float32))
    rankings["fused"] = fused_rankings
    per_mode_scores["fused"] = fused_scores
    confidence_model = matcher.config.fit_confidence
    for name in ("dense", "bm25", "rrf", "fused"):
        metrics = ranking_metrics(rankings[name], relevants)
        conf = fit_confidences(per_mode_scores[name], confidence_model)
        top1_right = [
            bool(ranking) and ranking[0] in relevant
            for ranking, relevant in zip(rankings[name], relevants, strict=True)
        ]
        table[name] = {
            "n_queries": metrics.n_queries,
            "mrr": metrics.mrr,
            "p_at_1": metrics.p_at_1,
            "r_at_5": metrics.r_at_5,
            "hit_at_5": metrics.hit_at_5,
            "abstain_auroc": auroc(conf, answerable),
            "top1_auroc": auroc(conf, top1_right),
            "raw_top1_auroc": auroc([float(np.max(s)) for s in per_mode_scores[name]], answerable),
        }
    print(
        f"{'method':8} {'n':>5} {'MRR':>6} {'P@1':>6} {'R@5':>6} {'Hit@5':>6} "
        f"{'AUROC(ans)':>10} {'AUROC(top1 right)':>17}"
    )
    for name, row in table.items():
        print(
            f"{name:8} {row['n_queries']:5d} {row['mrr']:6.3f} {row['p_at_1']:6.3f} "
            f"{row['r_at_5']:6.3f} {row['hit_at_5']:6.3f} {row['abstain_auroc']:10.3f} "
            f"{row['top1_auroc']:17.3f}"
        )
    print(
        f"(fusion: lexical weight {fusion.lexical_weight}, full at "
        f"{fusion.lexical_saturation_tokens} query tokens; AUROC(ans) = fit confidence, "
        "answerable vs not; nan when every query is answerable)"
    )
    fused_conf = fit_confidences(per_mode_scores["fused"], confidence_model)
    fused_right = [
        bool(ranking) and ranking[0] in relevant
        for ranking, relevant in zip(rankings["fused"], relevants, strict=True)
    ]
    thresholds = threshold_table(fused_conf, fused_right, (0.7, 0.8, 0.9))
    print("\nfit-confidence threshold for a target precision of the first suggestion (fused):")
    print(
        f"{'target':>6} {'threshold':>9} {'coverage':>8} {'precision':>9} {'cv prec':>8} "
        f"{'cv cover':>8}"
    )
    for row in thresholds:
        print(
            f"{row['target_precision']:6.2f} {row['threshold']:9.3f} {row['coverage']:8.3f} "
            f"{row['precision']:9.3f} {row['cv_precision']:8.3f} {row['cv_coverage']:8.3f}"
        )
    chosen = table[mode]
    result: dict[str, object] = {
        "mode": mode,
        "n_queries": chosen["n_queries"],
        "n_unanswerable": sum(1 for value in answerable if not value),
        "mrr": round(chosen["mrr"], 4),
        "p_at_1": round(chosen["p_at_1"], 4),
        "r_at_5": round(chosen["r_at_5"], 4),
        "hit_at_5": round(chosen["hit_at_5"], 4),
        "threshold_p90": round(thresholds[2]["threshold"], 4),
    }
    if not all(answerable):
        result["abstain_auroc"] = round(chosen["abstain_auroc"], 4)
    for name, row in table.items():
        result[f"{name}_mrr"] = round(row["mrr"], 4)
    return result


def tune(prep: Prepared) -> None:
    """Nested 5-fold CV of (lexical weight, saturation), grouped by relevant document."""
    queries = prep.queries
    relevants = [query.relevant for query in queries]
    folds = grouped_folds(queries, 5)
    grid = [(w, t) for w in LAMBDAS for t in SATURATIONS]
    reciprocal = {}
    for weight, saturation in grid:
        ranks = rankings_of(prep, fused_matrix(prep, weight, saturation))
        reciprocal[(weight, saturation)] = np.asarray(
            [_rr(ranking, relevant) for ranking, relevant in zip(ranks, relevants, strict=True)]
        )
    answerable = np.asarray([query.answerable for query in queries])
    print("mean MRR over all queries for each (lexical weight, saturation tokens):")
    print("weight " + " ".join(f"T={t:<5}" for t in SATURATIONS))
    for weight in LAMBDAS:
        row = " ".join(f"{reciprocal[(weight, t)][answerable].mean():7.3f}" for t in SATURATIONS)
        print(f"{weight:6.2f} {row}")
    nested = np.zeros(len(queries))
    for position, test in enumerate(folds):
        train = np.asarray(
            [i for other, fold in enumerate(folds) if other != position for i in fold]
        )
        train = train[answerable[train]]
        best = max(grid, key=lambda key: (reciprocal[key][train].mean(), -key[0]))
        nested[test] = reciprocal[best][test]
        print(f"fold {position}: chose weight {best[0]}, saturation {best[1]}")
    print(
        f"nested-CV MRR (fused, weights chosen on the other folds): {nested[answerable].mean():.4f}"
    )


DEV_SETS = {
    "techqa": (DATA / "techqa_answers/documents.jsonl", DATA / "techqa_answers/queries.jsonl"),
    "stackfaq": (DATA / "stackfaq/faqs.jsonl", DATA / "stackfaq/queries.csv"),
    "stackunix": (DATA / "stackunix_qa/documents.jsonl", DATA / "stackunix_qa/queries.jsonl"),
}


def tune_all() -> None:
    """The fusion grid on the three dev sets: per-set MRR, their mean, and a leave-one-set-out
    check (weights chosen on two sets, scored on the third) of how well a choice transfers."""
    grid = [(w, t) for w in LAMBDAS for t in SATURATIONS]
    table: dict[str, dict[tuple[float, int], float]] = {}
    for name, (docs_path, queries_path) in DEV_SETS.items():
        prep = prepare(docs_path, queries_path, "dev")
        relevants = [query.relevant for query in prep.queries]
        table[name] = {
            key: ranking_metrics(rankings_of(prep, fused_matrix(prep, *key)), relevants).mrr
            for key in grid
        }
    names = list(table)
    print(f"{'weight':>6} {'T':>3} " + " ".join(f"{n:>9}" for n in names) + "      mean")
    for key in grid:
        values = [table[name][key] for name in names]
        print(
            f"{key[0]:6.2f} {key[1]:3d} "
            + " ".join(f"{v:9.3f}" for v in values)
            + f" {np.mean(values):9.4f}"
        )
    best = max(grid, key=lambda key: (np.mean([table[n][key] for n in names]), -key[0]))
    print(f"best mean: weight {best[0]}, saturation {best[1]}")
    for held in names:
        others = [n for n in names if n != held]
        chosen = max(grid, key=lambda key: (np.mean([table[n][key] for n in others]), -key[0]))
        print(
            f"chosen without {held}: weight {chosen[0]}, saturation {chosen[1]} -> "
            f"{held} MRR {table[held][chosen]:.3f} (best possible {max(table[held].values()):.3f})"
        )


def _rr(ranking: Sequence[str], relevant: frozenset[str]) -> float:
    for position, doc_id in enumerate(ranking, 1):
        if doc_id in relevant:
            return 1.0 / position
    return 0.0


def calibrate_all() -> tuple[ConfidenceModel, ConfidenceModel]:
    """Fit the default confidence models on the three dev sets, each set weighing the same:
    the suggestion model on the first ten candidates of every query, the fit model on the
    first suggestion only (label: it is right)."""
    sets = tuple(DEV_SETS.values())
    pointwise: tuple[list[ConfidenceFeatures], list[bool], list[float]] = ([], [], [])
    first: tuple[list[ConfidenceFeatures], list[bool], list[float]] = ([], [], [])
    for docs_path, queries_path in sets:
        prep = prepare(docs_path, queries_path, "dev")
        start_point, start_first = len(pointwise[0]), len(first[0])
        for query, vector in zip(prep.queries, prep.vectors, strict=True):
            ranked = prep.matcher.ranking(query.text, query_vector=vector)
            scores = np.asarray([score for _, score in ranked[:12]], dtype=np.float32)
            for position, feature in enumerate(ranked_features(scores, 10)):
                right = ranked[position][0] in query.relevant
                pointwise[0].append(feature)
                pointwise[1].append(right)
                if position == 0:
                    first[0].append(feature)
                    first[1].append(right)
        for store, start in ((pointwise, start_point), (first, start_first)):
            count = len(store[0]) - start
            store[2].extend([1.0 / count] * count)
        print(f"{docs_path.parent.name}: {len(first[0]) - start_first} queries")
    models = []
    for features, labels, weights in (pointwise, first):
        scale = len(features) / len(sets)
        models.append(
            ConfidenceModel.fit(features, labels, sample_weight=[w * scale for w in weights])
        )
    print(f"suggestion confidence: {models[0]}")
    print(f"fit confidence:        {models[1]}")
    return models[0], models[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--history", type=Path)
    parser.add_argument("--mode", choices=("fused", "dense", "bm25", "rrf"), default="fused")
    parser.add_argument("--split", help="only queries whose `split` column has this value")
    parser.add_argument("--history-split", help="only history rows with this split")
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--calibrate-all", action="store_true")
    parser.add_argument("--tune-all", action="store_true")
    args = parser.parse_args(argv)
    if args.tune_all:
        tune_all()
        return 0
    if args.calibrate_all:
        suggestion_model, fit_model = calibrate_all()
        print(json.dumps({"suggestion": suggestion_model.__dict__, "fit": fit_model.__dict__}))
        return 0
    if args.docs is None or args.queries is None:
        parser.error("--docs and --queries are required")
    prep = prepare(args.docs, args.queries, args.split)
    print(
        f"{len(prep.matcher.index)} documents, {len(prep.matcher.index.passages)} passages, "
        f"{len(prep.queries)} queries"
    )
    if args.tune:
        tune(prep)
    extra: dict[str, object] = {}
    if args.history:
        history = load_queries(args.history, args.history_split)
        own = {query.query_id for query in prep.queries}
        history = [query for query in history if query.query_id not in own]
        positives, negatives = add_history(prep, history)
        print(f"history: {positives} positive and {negatives} negative examples added")
        extra = {"history_positive": positives, "history_negative": negatives}
    result = evaluate(prep, args.mode)
    result.update(extra)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
