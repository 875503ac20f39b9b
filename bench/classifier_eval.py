"""Evaluate the ticket classifier on any labelled CSV file.

    python bench/classifier_eval.py --train TRAIN.csv[.gz] [--test TEST.csv[.gz]] \
        --text-columns COL[,COL] --label COL [--where COL=VALUE ...]

Trains on TRAIN and measures on TEST, or, without TEST, 5-fold stratified cross-validation on
TRAIN (out-of-fold predictions pooled). The label column's values are the classes (a flat
tree). Prints a table and, as the last line, one JSON object with accuracy, macro_f1, n_test,
coverage_at_p90 and timings. Sentence embeddings come from all-MiniLM-L6-v2 through the cache
in `bench/_classifier_data.py` (`--no-embeddings` for TF-IDF only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._classifier_data import CachedMiniLM, read_rows
from classifier.decode import Decisions
from classifier.evaluation import TargetMetrics, decide_targets, target_metrics
from classifier.labels import LabelledExample, Target
from classifier.training import TrainingConfig, train
from classifier.tree import CategoryTree


def load(
    path: Path, text_columns: list[str], label: str, where: list[tuple[str, str]]
) -> list[LabelledExample]:
    rows = read_rows(path)
    if rows:
        missing = [c for c in [*text_columns, label, *(k for k, _ in where)] if c not in rows[0]]
        if missing:
            raise SystemExit(f"{path}: no column(s) {', '.join(missing)}")
    examples = []
    for row in rows:
        if any(row.get(key, "") != value for key, value in where):
            continue
        value = row[label].strip()
        if not value:
            continue
        text = " ".join(row[c] for c in text_columns).strip()
        examples.append(LabelledExample(text=text, category=value))
    return examples


def evaluate_csv(
    train_path: Path,
    test_path: Path | None,
    text_columns: list[str],
    label: str,
    where: list[tuple[str, str]],
    *,
    folds: int = 5,
    seed: int = 0,
    target_precision: float = 0.9,
    encoder: CachedMiniLM | None = None,
) -> tuple[TargetMetrics, dict[str, object]]:
    """Train and measure; returns the metrics and the JSON summary."""
    training = load(train_path, text_columns, label, where)
    testing = load(test_path, text_columns, label, where) if test_path else None
    tree = CategoryTree.flat(sorted({e.category for e in training if e.category}))
    config = TrainingConfig(seed=seed, target_precision=target_precision)
    train_seconds: list[float] = []
    predict_seconds = 0.0

    def fit_and_decide(part: list[LabelledExample], unseen: list[LabelledExample]) -> Decisions:
        nonlocal predict_seconds
        started = time.perf_counter()
        model = train(part, tree, encoder=encoder, encoder_name="all-MiniLM-L6-v2", config=config)
        train_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        decisions = decide_targets(model, [e.text for e in unseen], tree, encoder=encoder)
        predict_seconds += time.perf_counter() - started
        return decisions[Target.CATEGORY]

    if testing is not None:
        truth = [str(e.category) for e in testing]
        decided = fit_and_decide(training, testing)
        mode = "train/test"
    else:
        truth = [str(e.category) for e in training]
        labels = np.array(truth)
        chosen: list[str | None] = [None] * len(training)
        confidence = np.zeros(len(training), dtype=np.float32)
        abstained = np.ones(len(training), dtype=np.bool_)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for fold_train, fold_test in splitter.split(np.zeros(len(labels)), labels):
            part = fit_and_decide(
                [training[i] for i in fold_train], [training[i] for i in fold_test]
            )
            for slot, row in enumerate(fold_test):
                chosen[row] = part.labels[slot]
            confidence[fold_test] = part.confidence
            abstained[fold_test] = part.abstained
        decided = Decisions(tuple(chosen), confidence, abstained)
        mode = f"{folds}-fold CV"
    metrics = target_metrics(Target.CATEGORY, truth, decided, target_precision)
    p = round(target_precision * 100)
    summary: dict[str, object] = {
        "accuracy": round(metrics.accuracy, 4),
        "macro_f1": round(metrics.macro_f1, 4),
        "n_test": metrics.n,
        f"coverage_at_p{p}": round(metrics.coverage_at_target, 4),
        "abstain_coverage": round(metrics.abstain_coverage, 4),
        "abstain_precision": round(metrics.abstain_precision, 4),
        "n_train": len(training),
        "n_labels": len({c.label for c in metrics.per_class}),
        "mode": mode,
        "train_seconds_per_model": round(float(np.mean(train_seconds)), 2),
        "train_seconds_total": round(float(np.sum(train_seconds)), 2),
        "predict_seconds": round(predict_seconds, 2),
        "embeddings": encoder is not None,
    }
    return metrics, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--text-columns", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--where", action="append", default=[], metavar="COL=VALUE")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target-precision", type=float, default=0.9)
    parser.add_argument("--no-embeddings", action="store_true")
    parser.add_argument("--name", default="")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    text_columns = [c.strip() for c in args.text_columns.split(",") if c.strip()]
    pairs = [tuple(item.split("=", 1)) for item in args.where]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit("--where takes COL=VALUE")
    where = [(str(pair[0]), str(pair[1])) for pair in pairs]
    metrics, summary = evaluate_csv(
        args.train,
        args.test,
        text_columns,
        args.label,
        where,
        folds=args.folds,
        seed=args.seed,
        target_precision=args.target_precision,
        encoder=None if args.no_embeddings else CachedMiniLM(),
    )
    print_table(
        f"{args.name or args.train.name}: {args.label} ({summary['mode']})",
        metrics,
        args.target_precision,
        summary,
    )
    print(json.dumps(summary))
    return 0


def print_table(
    title: str, metrics: TargetMetrics, target_precision: float, summary: dict[str, object]
) -> None:
    """The per-label table and a summary line (stdout)."""
    console = Console(width=110)
    table = Table(title=title)
    for column in ("label", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    classes = sorted(metrics.per_class, key=lambda c: -c.support)
    for item in classes[:25]:
        table.add_row(
            item.label[:40],
            f"{item.precision:.3f}",
            f"{item.recall:.3f}",
            f"{item.f1:.3f}",
            str(item.support),
        )
    if len(classes) > 25:
        table.add_row(f"... {len(classes) - 25} more", "", "", "", "")
    console.print(table)
    console.print(
        f"accuracy {metrics.accuracy:.4f}  macro-F1 {metrics.macro_f1:.4f}  "
        f"coverage@P{target_precision:g} {metrics.coverage_at_target:.3f}  "
        f"thresholds keep {metrics.abstain_coverage:.3f} at precision "
        f"{metrics.abstain_precision:.3f}  n_test {metrics.n}  "
        f"train {summary['train_seconds_per_model']} s/model"
    )


if __name__ == "__main__":
    raise SystemExit(main())
