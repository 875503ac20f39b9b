"""Wiring: builds the pipeline and the worker of a process from its application object.

The pipeline's later stages (classify, suggest, acknowledge) need services that are costly to
build (the sentence encoder, the classifier, the matcher); `build_services` creates them once
per process, and every worker thread's pipeline shares them.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskmail.acknowledge import AcknowledgeStage
from deskmail.app import App
from deskmail.classification import ClassificationService, ClassifyStage
from deskmail.encoder import build_encoder
from deskmail.lifecycle import LifecycleStage
from deskmail.matching import KnowledgeServices, build_knowledge
from deskmail.pipeline import Pipeline, Stage
from deskmail.suggest import SuggestStage
from deskmail.ticket_mail import TicketMailer
from deskmail.worker import Worker
from knowledge.embeddings import SentenceTransformerEncoder


@dataclass(frozen=True)
class ProcessServices:
    """The costly shared parts of a process: one encoder (the model is loaded on first use)
    and the knowledge base's embedding store and matcher service."""

    encoder: SentenceTransformerEncoder
    knowledge: KnowledgeServices
    # The classifier embeds through the knowledge base's store: a ticket's vector is made once,
    # by the classify stage, and the suggest stage finds it stored.
    classification: ClassificationService | None = None


def build_services(app: App) -> ProcessServices:
    """The process's shared services; nothing is loaded until first used."""
    settings = app.settings.knowledge
    encoder = build_encoder(app.sessions, settings.model_path, settings.model_key)
    knowledge = build_knowledge(app, encoder)
    return ProcessServices(encoder, knowledge, ClassificationService(app, knowledge.store))


def build_pipeline(app: App, services: ProcessServices | None = None) -> Pipeline:
    """The pipeline with every stage this process runs."""
    services = services or build_services(app)
    classification = services.classification or ClassificationService(app, services.knowledge.store)
    mailer = TicketMailer.build(app)
    stages: list[Stage] = [
        # First: a follow-up that starts a new ticket (closed, or past the reopen window) is
        # classified, searched and acknowledged like any new ticket.
        LifecycleStage(app, mailer),
        *([ClassifyStage(classification)] if app.settings.classifier.enabled else []),
        # After classify: the suggest stage reads the ticket's category if it has one.
        SuggestStage(services.knowledge.matching),
        AcknowledgeStage(app, mailer),
    ]
    return Pipeline(app, extra_stages=stages)


def build_worker(
    app: App, name: str | None = None, services: ProcessServices | None = None
) -> Worker:
    """A worker over this process's pipeline (pass `services` to share them between the
    worker threads of one process)."""
    return Worker(app, build_pipeline(app, services), name=name)
