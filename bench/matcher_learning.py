"""Learning from use: does a solved ticket help the next similar one, and leave others alone?

    python bench/matcher_learning.py [--docs DOCS --queries QUERIES] [--split dev] [--grid]

Protocol (default data: StackFAQ and TechQA dev parts). Articles are split at random into
"learned" and "untouched" halves. For a learned article, all but one of its queries are past
tickets (replayed as in production: the relevant article gets a positive example, a wrong first
suggestion a negative one) and the remaining query is a new ticket; every query of an untouched
article is a new ticket whose article received no example ("unrelated"). Three rotations of
which query is held back, three seeds. The table compares each group before and after, and
counts the unrelated tickets whose relevant article fell in the ranking (should be 0).
`--grid` runs a nested cross-validation over the learning thresholds and weights instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._matcher_data import DATA, EvalQuery
from bench.matcher_eval import Prepared, prepare
from knowledge.matcher import LearningConfig, Matcher


@dataclass
class Outcome:
    related_before: list[float]
    related_after: list[float]
    unrelated_before: list[float]
    unrelated_after: list[float]
    unrelated_worse: int
    unrelated_better: int
    related_worse: int
    related_better: int
    examples: int


def _rank(matcher: Matcher, query: EvalQuery, vector: np.ndarray) -> int:
    ranked = matcher.ranking(query.text, query_vector=vector)
    for position, (doc_id, _) in enumerate(ranked, 1):
        if doc_id in query.relevant:
            return position
    return len(ranked) + 1


def run_protocol(
    prep: Prepared, learning: LearningConfig, seeds: Sequence[int] = (1, 2, 3)
) -> Outcome:
    base = prep.matcher
    config = replace(base.config, learning=learning)
    vectors = {
        query.query_id: vector for query, vector in zip(prep.queries, prep.vectors, strict=True)
    }
    by_doc: dict[str, list[EvalQuery]] = {}
    for query in prep.queries:
        if query.relevant:
            by_doc.setdefault(min(query.relevant), []).append(query)
    outcome = Outcome([], [], [], [], 0, 0, 0, 0, 0)
    plain = Matcher(base.index, _NoEncoder(), config)
    before = {
        query.query_id: _rank(plain, query, vectors[query.query_id])
        for query in prep.queries
        if query.relevant
    }
    for seed in seeds:
        rng = np.random.default_rng(seed)
        docs = sorted(doc for doc, queries in by_doc.items() if len(queries) >= 2)
        learned = set(rng.permutation(docs)[: len(docs) // 2].tolist())
        for rotation in range(3):
            matcher = Matcher(base.index, _NoEncoder(), config)
            new_related: list[EvalQuery] = []
            for doc in sorted(learned):
                queries = by_doc[doc]
                held = queries[rotation % len(queries)]
                new_related.append(held)
                for past in queries:
                    if past is held:
                        continue
                    vector = vectors[past.query_id]
                    top = matcher.search(past.text, k=1, query_vector=vector)
                    if top and top[0].article_id not in past.relevant:
                        matcher.add_example(top[0].article_id, past.text, False, vector=vector)
                        outcome.examples += 1
                    matcher.add_example(doc, past.text, True, vector=vector)
                    outcome.examples += 1
            unrelated = [q for q in prep.queries if q.relevant and min(q.relevant) not in learned]
            for group, target_before, target_after in (
                (new_related, outcome.related_before, outcome.related_after),
                (unrelated, outcome.unrelated_before, outcome.unrelated_after),
            ):
                for query in group:
                    old = before[query.query_id]
                    new = _rank(matcher, query, vectors[query.query_id])
                    target_before.append(1.0 / old)
                    target_after.append(1.0 / new)
                    if group is unrelated:
                        outcome.unrelated_worse += int(new > old)
                        outcome.unrelated_better += int(new < old)
                    else:
                        outcome.related_worse += int(new > old)
                        outcome.related_better += int(new < old)
    return outcome


class _NoEncoder:
    """The benchmark passes every vector in; embedding here would be a bug."""

    model_key = "none"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("vectors are precomputed in this benchmark")


def report(name: str, outcome: Outcome) -> dict[str, float]:
    def mrr(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    def p1(values: list[float]) -> float:
        return float(np.mean([v == 1.0 for v in values])) if values else float("nan")

    print(f"\n{name}: {outcome.examples} examples replayed over 3 seeds x 3 rotations")
    print(
        f"{'group':10} {'n':>5} {'MRR before':>10} {'MRR after':>9} {'P@1 before':>10} "
        f"{'P@1 after':>9} {'better':>6} {'worse':>5}"
    )
    rows = (
        (
            "related",
            outcome.related_before,
            outcome.related_after,
            outcome.related_better,
            outcome.related_worse,
        ),
        (
            "unrelated",
            outcome.unrelated_before,
            outcome.unrelated_after,
            outcome.unrelated_better,
            outcome.unrelated_worse,
        ),
    )
    for label, before, after, better, worse in rows:
        print(
            f"{label:10} {len(before):5d} {mrr(before):10.3f} {mrr(after):9.3f} "
            f"{p1(before):10.3f} {p1(after):9.3f} {better:6d} {worse:5d}"
        )
    return {
        "related_mrr_before": round(mrr(outcome.related_before), 4),
        "related_mrr_after": round(mrr(outcome.related_after), 4),
        "unrelated_mrr_before": round(mrr(outcome.unrelated_before), 4),
        "unrelated_mrr_after": round(mrr(outcome.unrelated_after), 4),
        "unrelated_worse": outcome.unrelated_worse,
        "unrelated_better": outcome.unrelated_better,
        "related_worse": outcome.related_worse,
    }


GRID = tuple(
    LearningConfig(
        positive_threshold=tp, positive_weight=wp, negative_threshold=tn, negative_weight=wn
    )
    for tp in (0.6, 0.7, 0.8, 0.85)
    for wp in (0.1, 0.3)
    for tn in (0.75, 0.8)
    for wn in (0.0, 0.3)
)


def grid(preps: dict[str, Prepared]) -> None:
    """Score every setting by related-MRR gain minus 10x unrelated-MRR loss per data set;
    leave-one-seed-out selection shows whether the choice is stable."""
    scores: dict[int, list[float]] = {}
    print(
        f"{'pos thr':>7} {'pos w':>5} {'neg thr':>7} {'neg w':>5} {'objective':>9} "
        f"{'related gain':>12} {'unrelated worse':>15}"
    )
    for position, learning in enumerate(GRID):
        values = []
        gains = []
        worse = 0
        for prep in preps.values():
            for seed in (1, 2, 3):
                outcome = run_protocol(prep, learning, seeds=(seed,))
                gain = float(np.mean(outcome.related_after) - np.mean(outcome.related_before))
                loss = float(np.mean(outcome.unrelated_before) - np.mean(outcome.unrelated_after))
                values.append(gain - 10.0 * max(0.0, loss))
                gains.append(float(gain))
                worse += outcome.unrelated_worse
        scores[position] = values
        print(
            f"{learning.positive_threshold:7.2f} {learning.positive_weight:5.2f} "
            f"{learning.negative_threshold:7.2f} {learning.negative_weight:5.2f} "
            f"{np.mean(values):9.4f} {np.mean(gains):12.4f} {worse:15d}"
        )
    n = len(next(iter(scores.values())))
    for held in range(n):
        best = max(
            scores, key=lambda key: np.mean([v for i, v in enumerate(scores[key]) if i != held])
        )
        print(
            f"without run {held}: best {GRID[best]} -> held-out objective {scores[best][held]:.4f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args(argv)
    if args.docs and args.queries:
        sets = {args.docs.parent.name: (args.docs, args.queries)}
    else:
        sets = {
            "stackfaq": (DATA / "stackfaq/faqs.jsonl", DATA / "stackfaq/queries.csv"),
            "techqa": (
                DATA / "techqa_answers/documents.jsonl",
                DATA / "techqa_answers/queries.jsonl",
            ),
        }
    preps = {name: prepare(docs, queries, args.split) for name, (docs, queries) in sets.items()}
    if args.grid:
        grid(preps)
        return 0
    summary: dict[str, object] = {}
    for name, prep in preps.items():
        summary[name] = report(name, run_protocol(prep, prep.matcher.config.learning))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
