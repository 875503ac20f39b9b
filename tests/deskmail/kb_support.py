"""Helpers of the knowledge-base tests: one real model per test process, shared vectors, a
database with the starter knowledge base to copy, and mail to send through the pipeline.

The model (all-MiniLM-L6-v2, offline) is loaded once per process and every vector it makes is
kept in one in-memory cache, so each text is embedded once per test session however many
databases the tests create; the databases still store every vector themselves, as in
production. Tests that use these helpers are marked `model`.
"""

from __future__ import annotations

import functools
import shutil
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from deskmail.app import App
from deskmail.knowledge_transfer import import_starter, starter_documents
from deskmail.matching import EmbeddingStore, KnowledgeServices, MatchingService
from deskmail.wiring import ProcessServices, build_worker
from deskmail.worker import Worker
from knowledge.embeddings import (
    EmbeddingConfig,
    InMemoryEmbeddingCache,
    SentenceTransformerEncoder,
    default_model_path,
)
from knowledge.kb_io import ArticleDocument
from tests.conftest import make_settings

_lock = threading.Lock()
_starter_templates: dict[Path, Path] = {}

# A few starter articles that share words and topics (VPN, printing, passwords, accounts),
# including an internal one, for tests that need a small knowledge base.
SMALL_KB = (
    "vpn-certificate-error",
    "vpn-does-not-connect",
    "printer-paper-jam",
    "printer-offline",
    "password-forgotten",
    "account-locked",
    "agent-unlock-account",
    "mailbox-full",
)


@functools.cache
def shared_encoder() -> SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 without a cache of its own (the stores below keep the vectors)."""
    encoder = SentenceTransformerEncoder(EmbeddingConfig(model_path=default_model_path()))
    encoder.model()
    return encoder


@functools.cache
def shared_memory() -> InMemoryEmbeddingCache:
    return InMemoryEmbeddingCache(max_items=100_000)


def knowledge(app: App, *, reload_check_seconds: float = 0.0) -> KnowledgeServices:
    """The process services of a test: the shared model, fresh per-app matcher service.

    Reload checks happen before every search unless told otherwise, so a test sees a change
    as soon as it is committed.
    """
    store = EmbeddingStore(app, shared_encoder(), shared_memory())
    settings = app.settings.knowledge.model_copy(
        update={"reload_check_seconds": reload_check_seconds}
    )
    return KnowledgeServices(store, MatchingService(app, store, settings))


def worker(app: App, services: KnowledgeServices) -> Worker:
    """A pipeline worker whose suggest stage uses `services`."""
    return build_worker(app, services=ProcessServices(services.store.encoder, services))


@functools.cache
def starter_by_slug() -> dict[str, ArticleDocument]:
    return {doc.slug: doc for doc in starter_documents()}


def small_kb() -> list[ArticleDocument]:
    docs = starter_by_slug()
    return [docs[slug] for slug in SMALL_KB]


def starter_template(migrated: Path, folder: Path) -> Path:
    """A copy of the migrated SQLite template with the whole starter knowledge base imported
    and published (made once per process, then copied by each test)."""
    with _lock:
        found = _starter_templates.get(migrated)
        if found is not None:
            return found
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "deskmail.db"
        shutil.copyfile(migrated, path)
        app = App.open(make_settings(folder / "data", f"sqlite:///{path}"))
        try:
            import_starter(app, knowledge(app).store)
        finally:
            app.close()
        _starter_templates[migrated] = path
        return path


def copy_database(template: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deskmail.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def mail(subject: str, body: str, *, sender: str = "kim.lee@example.com") -> bytes:
    """A plain requester mail to the test help desk."""
    message = EmailMessage()
    message["From"] = f"Kim Lee <{sender}>"
    message["To"] = "help@example.org"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    message["Date"] = "Fri, 27 Nov 2026 09:00:00 +0000"
    message.set_content(body)
    return message.as_bytes()
