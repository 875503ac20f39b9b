"""Helpers of the classification tests: the session's model behind a classification service,
a worker whose classify stage uses it, and a small synthetic export of labelled tickets.

The synthetic tickets are made from phrases typical of four subcategories of the default tree
(seeded, so every run writes the same file), with an urgency that follows the words: small
enough to train in a second or two, clear enough that a trained model is right on held-out
tickets and a model trained on scrambled labels is visibly worse.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from deskmail.app import App
from deskmail.classification import ClassificationService
from deskmail.wiring import ProcessServices, build_worker
from deskmail.worker import Worker
from tests.conftest import make_settings
from tests.deskmail.kb_support import knowledge

# subcategory -> phrases a requester would write about it
PHRASES: dict[str, tuple[str, ...]] = {
    "network/vpn": (
        "the vpn client will not connect",
        "vpn tunnel drops every few minutes",
        "anyconnect says the vpn certificate expired",
        "cannot reach the office network over vpn from home",
        "remote access vpn keeps asking for the token",
    ),
    "hardware/printer": (
        "the printer shows paper jam in tray two",
        "toner is empty on the second floor printer",
        "print jobs stay stuck in the print queue",
        "the printer prints blank pages",
        "cannot add the network printer to my laptop",
    ),
    "accounts/password": (
        "i forgot my password and cannot log in",
        "my password expired this morning",
        "please reset my password",
        "the password change page gives an error",
        "password not accepted after the change",
    ),
    "email/mailbox": (
        "my mailbox is full and i cannot send mail",
        "outlook says the mailbox is over its quota",
        "emails from customers are not arriving in my inbox",
        "mail stuck in the outbox for hours",
        "please increase my mailbox size",
    ),
}
FILLERS = (
    "since yesterday",
    "this morning",
    "after the update",
    "on my laptop",
    "at the office",
    "again",
    "thanks for your help",
    "it worked last week",
)
URGENT = ("urgent", "asap", "blocking my work")


def synthetic_rows(per_class: int = 40, seed: int = 7) -> list[dict[str, str]]:
    """Labelled tickets as an export would hold them (subject, body, labels by name)."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for subcategory, phrases in PHRASES.items():
        for n in range(per_class):
            urgent = n % 3 == 0
            words = [rng.choice(phrases), rng.choice(FILLERS), rng.choice(FILLERS)]
            if urgent:
                words.append(rng.choice(URGENT))
            rows.append(
                {
                    "Subject": rng.choice(phrases).capitalize(),
                    "Body": f"Hello, {', '.join(words)}. Ticket ref {rng.randrange(10**6)}.",
                    "Category": subcategory.split("/", 1)[0],
                    "Subcategory": subcategory,
                    "Priority": "High" if urgent else "Low",
                }
            )
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def classifier_settings(**overrides: Any) -> dict[str, Any]:
    """Classifier settings of the tests: on, and every change is seen at once."""
    return {"enabled": True, "reload_check_seconds": 0.0, **overrides}


def open_app(folder: Path, url: str, **classifier: Any) -> App:
    return App.open(make_settings(folder, url, classifier=classifier_settings(**classifier)))


def service(app: App) -> ClassificationService:
    """The classifier of a test process: the session's model, this app's database."""
    return ClassificationService(app, knowledge(app).store)


def worker(app: App, classification: ClassificationService | None = None) -> Worker:
    """A pipeline worker (classify and suggest) over the session's model."""
    kb = knowledge(app)
    classification = classification or ClassificationService(app, kb.store)
    return build_worker(app, services=ProcessServices(kb.store.encoder, kb, classification))
