"""Wiring: builds the pipeline and the worker of a process from its application object.

The pipeline's later stages (classify, suggest, acknowledge) need services that are costly to
build (the classifier, the matcher); they are created here, once per process.
"""

from __future__ import annotations

from deskmail.app import App
from deskmail.pipeline import Pipeline
from deskmail.worker import Worker


def build_pipeline(app: App) -> Pipeline:
    """The pipeline with every stage this process runs."""
    return Pipeline(app)


def build_worker(app: App, name: str | None = None) -> Worker:
    """A worker over this process's pipeline."""
    return Worker(app, build_pipeline(app), name=name)
