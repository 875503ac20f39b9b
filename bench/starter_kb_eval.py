"""Sanity check of the shipped setup on the starter knowledge base: does a help-desk mail find
its starter article, and is the "does anything fit" confidence any use?

    python bench/starter_kb_eval.py [--per-query] [--k 10] [--queries FILE]

The queries (bench/starter_kb_queries.jsonl) are OUR OWN SMALL SANITY SET: 48 mails written
for this check in the way employees write to a help desk (subject line, then the body), each
with the starter article(s) that answer it, plus 8 mails that no starter article answers.
They were written once, by someone who knew the list of article titles, before running the
matcher on them, and were not changed after; they are easier than real mail and are no
benchmark of the matcher in general (bench/matcher_eval.py measures it on public data);
they catch regressions of the whole shipped path: the packaged articles, the passage
splitter, the model, the database round trip of vectors (`deskmail.matching`) and the fused
ranking with its confidence.

Everything runs as in production: a fresh SQLite database, `import_starter`, then
`MatchingService.search` for agents (all articles) and for requesters (public only). Vectors
are cached by content hash under .cache/ so reruns are quick. Prints per-view metrics (MRR,
P@1, Hit@3), the fit confidence's AUROC (first suggestion right vs wrong or unanswerable) and
coverage/precision at thresholds; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.table import Table

from bench._matcher_data import CACHE_DIR, SqliteEmbeddingCache, auroc, reciprocal_rank
from deskmail.app import App
from deskmail.db import upgrade
from deskmail.knowledge_transfer import import_starter
from deskmail.matching import EmbeddingStore, MatchingService, MatchResult
from deskmail.settings import load_settings
from knowledge.embeddings import EmbeddingConfig, SentenceTransformerEncoder, default_model_path
from models import Audience


@dataclass(frozen=True)
class Query:
    text: str
    relevant: frozenset[str]


QUERIES_FILE = Path(__file__).with_name("starter_kb_queries.jsonl")


def load_queries(path: Path = QUERIES_FILE) -> list[Query]:
    """One JSON object per line: `subject`, `body`, `relevant` (slugs; empty: unanswerable)."""
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            queries.append(Query(f"{row['subject']}\n{row['body']}", frozenset(row["relevant"])))
    return queries


THRESHOLDS = (0.5, 0.7, 0.85, 0.9)


@dataclass(frozen=True)
class Outcome:
    query: Query
    ranking: tuple[str, ...]
    fit: float

    @property
    def first_right(self) -> bool:
        return bool(self.ranking) and self.ranking[0] in self.query.relevant


def run(
    matching: MatchingService, queries: list[Query], audience: Audience | None, k: int
) -> list[Outcome]:
    outcomes = []
    for query in queries:
        result: MatchResult = matching.search(query.text, k=k, audience=audience)
        outcomes.append(Outcome(query, tuple(m.slug for m in result), result.fit_confidence))
    return outcomes


def summarise(outcomes: list[Outcome]) -> dict[str, float | int]:
    answerable = [o for o in outcomes if o.query.relevant]
    n = len(answerable)
    summary: dict[str, float | int] = {
        "queries": n,
        "unanswerable": len(outcomes) - n,
        "mrr": sum(reciprocal_rank(o.ranking, o.query.relevant) for o in answerable) / n,
        "p_at_1": sum(o.first_right for o in answerable) / n,
        "hit_at_3": sum(bool(set(o.ranking[:3]) & o.query.relevant) for o in answerable) / n,
        "fit_auroc": auroc([o.fit for o in outcomes], [o.first_right for o in outcomes]),
    }
    for threshold in THRESHOLDS:
        above = [o for o in outcomes if o.fit >= threshold]
        summary[f"coverage@{threshold}"] = len(above) / len(outcomes)
        summary[f"precision@{threshold}"] = (
            sum(o.first_right for o in above) / len(above) if above else float("nan")
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-query", action="store_true", help="print every query's result")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=Path, default=QUERIES_FILE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    queries = load_queries(args.queries)
    console = Console()

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            data_dir=Path(folder),
            addresses=["help@example.org"],
            secret_key="bench",
            knowledge={"reload_check_seconds": 0},
        )
        app = App.open(settings)
        try:
            upgrade(app.engine)
            encoder = SentenceTransformerEncoder(EmbeddingConfig(model_path=default_model_path()))
            cache = SqliteEmbeddingCache(CACHE_DIR / "starter_kb_embeddings.sqlite")
            store = EmbeddingStore(app, encoder, cache)
            import_starter(app, store)
            matching = MatchingService(app, store, settings.knowledge)
            views = {
                "agents": run(matching, queries, None, args.k),
                "requesters": run(matching, queries, Audience.PUBLIC, args.k),
            }
        finally:
            app.close()

    if args.per_query:
        table = Table("query", "expected", "first (agents)", "rank", "fit")
        for outcome in views["agents"]:
            rank = next(
                (i for i, s in enumerate(outcome.ranking, 1) if s in outcome.query.relevant), None
            )
            table.add_row(
                outcome.query.text.split("\n")[0],
                ", ".join(sorted(outcome.query.relevant)) or "(none)",
                outcome.ranking[0] if outcome.ranking else "",
                "-" if rank is None else str(rank),
                f"{outcome.fit:.2f}",
            )
        console.print(table)

    summaries = {name: summarise(outcomes) for name, outcomes in views.items()}
    answerable = sum(1 for query in queries if query.relevant)
    title = (
        f"Starter knowledge base, our own sanity set ({answerable} mails with an answer, "
        f"{len(queries) - answerable} without)"
    )
    table = Table("view", "MRR", "P@1", "Hit@3", "fit AUROC", title=title)
    for name, s in summaries.items():
        table.add_row(
            f"{name} ({'all articles' if name == 'agents' else 'public only'})",
            f"{s['mrr']:.3f}",
            f"{s['p_at_1']:.3f}",
            f"{s['hit_at_3']:.3f}",
            f"{s['fit_auroc']:.3f}",
        )
    console.print(table)
    table = Table(
        "fit threshold",
        "agents: coverage",
        "agents: precision",
        "requesters: coverage",
        "requesters: precision",
        title="Acknowledgement threshold on the fit confidence",
    )
    for threshold in THRESHOLDS:
        table.add_row(
            f"{threshold}",
            *(
                f"{summaries[name][f'{kind}@{threshold}']:.2f}"
                for name in ("agents", "requesters")
                for kind in ("coverage", "precision")
            ),
        )
    console.print(table)
    console.print(
        "coverage: share of all mails whose fit confidence reaches the threshold; precision: "
        "how often their first suggestion is right (a mail without answer counts as wrong)."
    )
    print(json.dumps({"bench": "starter_kb_eval", **summaries}, default=float))


if __name__ == "__main__":
    main()
