"""Shared helpers of the matcher benchmarks: data-set loaders, a file-backed embedding cache,
ranking metrics and cross-validation folds.

Reads the layouts of `../shared/data` as they are (never copies them): documents as JSON lines
with `doc_id`/`text` (TechQA, StackUnix) or `faq_id`/`question`/`answers` (StackFAQ); queries as
JSON lines (`query_id`, `title`/`body` or `text`, `relevant_doc_ids`, optional `answerable`) or
as the StackFAQ CSV (`query_id`, `faq_id`, `text`).
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from knowledge.documents import Document, Section
from knowledge.embeddings import (
    EmbeddingConfig,
    SentenceTransformerEncoder,
    default_model_path,
    vector_from_bytes,
    vector_to_bytes,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CACHE_DIR = REPO / ".cache"


@dataclass(frozen=True)
class EvalQuery:
    query_id: str
    title: str
    body: str
    relevant: frozenset[str]
    split: str

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}".strip() if self.title else self.body


def load_documents(path: Path) -> list[Document]:
    documents: list[Document] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            if "faq_id" in row:
                answers = tuple(Section(str(answer)) for answer in row.get("answers", []))
                documents.append(Document(str(row["faq_id"]), str(row["question"]), answers))
            else:
                title = str(row.get("title", ""))
                documents.append(Document.from_text(str(row["doc_id"]), title, str(row["text"])))
    return documents


def load_queries(path: Path, split: str | None = None) -> list[EvalQuery]:
    queries: list[EvalQuery] = []
    with path.open(encoding="utf-8") as handle:
        first = handle.read(1)
    if first != "{":  # not JSON lines: the StackFAQ CSV layout
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                queries.append(
                    EvalQuery(
                        str(row["query_id"]),
                        "",
                        row["text"],
                        frozenset({str(row["faq_id"])}),
                        row.get("split", ""),
                    )
                )
    else:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                row = json.loads(line)
                relevant = frozenset(str(doc) for doc in row.get("relevant_doc_ids", []))
                if row.get("answerable") is False:
                    relevant = frozenset()
                if "text" in row and "body" not in row:
                    title, body = "", str(row["text"])
                else:
                    title, body = str(row.get("title", "")), str(row.get("body", ""))
                queries.append(
                    EvalQuery(str(row["query_id"]), title, body, relevant, row.get("split", ""))
                )
    if split:
        queries = [query for query in queries if query.split == split]
    return queries


class SqliteEmbeddingCache:
    """`EmbeddingCache` in one SQLite file under .cache/ (benchmarks only)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), check_same_thread=False)
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self._connection.commit()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> Mapping[str, npt.NDArray[np.float32]]:
        found: dict[str, npt.NDArray[np.float32]] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                batch = unique[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._connection.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch
                )
                for key, blob in rows:
                    found[str(key)] = vector_from_bytes(bytes(blob))
        return found

    def put_many(self, items: Mapping[str, npt.NDArray[np.float32]]) -> None:
        with self._lock:
            self._connection.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(key, vector_to_bytes(vector)) for key, vector in items.items()],
            )
            self._connection.commit()


def bench_encoder(batch_size: int = 32) -> SentenceTransformerEncoder:
    """The real model with the on-disk cache of the benchmarks."""
    config = EmbeddingConfig(model_path=default_model_path(), batch_size=batch_size)
    cache = SqliteEmbeddingCache(CACHE_DIR / "matcher_embeddings.sqlite")
    return SentenceTransformerEncoder(config, cache)


def reciprocal_rank(ranking: Sequence[str], relevant: frozenset[str]) -> float:
    for position, doc_id in enumerate(ranking, start=1):
        if doc_id in relevant:
            return 1.0 / position
    return 0.0


@dataclass(frozen=True)
class RankingMetrics:
    n_queries: int
    mrr: float
    p_at_1: float
    r_at_5: float
    hit_at_5: float


def ranking_metrics(
    rankings: Sequence[Sequence[str]], relevants: Sequence[frozenset[str]]
) -> RankingMetrics:
    """MRR, P@1, R@5 (share of relevant in the top 5) and Hit@5 over queries with answers."""
    rr, p1, r5, h5 = [], [], [], []
    for ranking, relevant in zip(rankings, relevants, strict=True):
        if not relevant:
            continue
        rr.append(reciprocal_rank(ranking, relevant))
        p1.append(1.0 if ranking and ranking[0] in relevant else 0.0)
        top5 = set(ranking[:5])
        r5.append(len(top5 & relevant) / len(relevant))
        h5.append(1.0 if top5 & relevant else 0.0)
    n = len(rr)
    if n == 0:
        return RankingMetrics(0, 0.0, 0.0, 0.0, 0.0)
    return RankingMetrics(n, *(float(np.mean(values)) for values in (rr, p1, r5, h5)))


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); nan if one class is empty."""
    positives = [s for s, label in zip(scores, labels, strict=True) if label]
    negatives = [s for s, label in zip(scores, labels, strict=True) if not label]
    if not positives or not negatives:
        return float("nan")
    pos = np.asarray(positives, dtype=np.float64)[:, None]
    neg = np.asarray(negatives, dtype=np.float64)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def grouped_folds(
    queries: Sequence[EvalQuery], n_folds: int, seed: int = 20261127
) -> list[list[int]]:
    """Query indexes in `n_folds` folds, queries sharing a relevant document kept together
    (so that learning on one fold never sees another fold's answer)."""
    groups: dict[str, list[int]] = {}
    for position, query in enumerate(queries):
        key = min(query.relevant) if query.relevant else f"none:{query.query_id}"
        groups.setdefault(key, []).append(position)
    keys = sorted(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(keys)
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for position, key in enumerate(keys):
        folds[position % n_folds].extend(groups[key])
    return [sorted(fold) for fold in folds]
