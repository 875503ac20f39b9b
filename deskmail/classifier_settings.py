"""Settings of the classifier and the classify stage (`Settings.classifier`).

Read once with the rest of the settings (environment `DESKMAIL_CLASSIFIER__*` or the
`[classifier]` table of the TOML file) and turned into the `classifier` package's own config
values by `deskmail.classification`; the domain package never sees this object. Level and
priority names are checked here without importing the classifier, so that reading the
settings stays instant (`deskmail --help`).

The priority matrix is written as rows, one per impact, in the TOML file:

    [classifier.priority_matrix]
    individual = { low = "P4", medium = "P4", high = "P3", critical = "P2" }
    team = { low = "P4", medium = "P3", high = "P2", critical = "P2" }
    site = { low = "P3", medium = "P3", high = "P2", critical = "P1" }
    organisation = { low = "P3", medium = "P2", high = "P1", critical = "P1" }
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

ImpactName = Literal["individual", "team", "site", "organisation"]
UrgencyName = Literal["low", "medium", "high", "critical"]
PriorityName = Literal["P1", "P2", "P3", "P4"]

IMPACTS: tuple[ImpactName, ...] = ("individual", "team", "site", "organisation")
URGENCIES: tuple[UrgencyName, ...] = ("low", "medium", "high", "critical")


def default_priority_matrix() -> dict[str, dict[str, str]]:
    """ITIL's usual shape (docs/decisions/0044): rises with impact and with urgency."""
    rows: dict[str, tuple[str, str, str, str]] = {
        "individual": ("P4", "P4", "P3", "P2"),
        "team": ("P4", "P3", "P2", "P2"),
        "site": ("P3", "P3", "P2", "P1"),
        "organisation": ("P3", "P2", "P1", "P1"),
    }
    return {impact: dict(zip(URGENCIES, row, strict=True)) for impact, row in rows.items()}


def _default_vip_roles() -> list[str]:
    return ["vip", "executive", "director", "board", "ceo", "cfo", "cio", "cto", "coo", "president"]


class ZeroShotSettings(BaseModel):
    """The cold-start model that classifies from the category descriptions (decision 0045)."""

    # Softmax temperature over cosine similarities (related topics differ by hundredths).
    temperature: float = Field(default=0.05, gt=0.0, le=10.0)
    # Below this best similarity to any category, the text is not an IT request: triage.
    min_similarity: float = Field(default=0.15, ge=-1.0, le=1.0)
    # Below this probability of the chosen category: triage.
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class ClassifierSettings(BaseModel):
    """How tickets are classified and prioritised, and how models are trained and promoted."""

    # Classify new tickets in the pipeline (off: tickets keep no category until an agent sets it).
    enabled: bool = True
    # The precision the abstention thresholds are chosen for: below a label's threshold the
    # ticket goes to triage instead of getting a guess (decision 0042).
    target_precision: float = Field(default=0.9, gt=0.0, lt=1.0)
    # The share of labelled examples never trained on, on which a retrain is compared with the
    # model in use (decision 0043); the side of each example is fixed by a hash of its text.
    heldout_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    # A retrain may be this much worse than the model in use and still count as "not worse".
    accuracy_tolerance: float = Field(default=0.005, ge=0.0, le=1.0)
    macro_f1_tolerance: float = Field(default=0.01, ge=0.0, le=1.0)
    coverage_tolerance: float = Field(default=0.02, ge=0.0, le=1.0)
    # Fewer held-out examples than this and no retrain is promoted: too few to tell.
    min_heldout: int = Field(default=20, ge=1)
    # Fewer labelled examples of a target than this and the model learns no head for it.
    min_examples: int = Field(default=10, ge=2)
    # All randomness of training comes from this seed: the same examples give the same model.
    seed: int = 0
    folds: int = Field(default=5, ge=2, le=20)
    # Processes fitting the folds of a training at once (0: one per CPU). The model is the
    # same whatever the number; fewer leave more of the machine to intake while training.
    training_jobs: int = Field(default=0, ge=0, le=64)
    # Train on the sentence embeddings too (better, and the suggest stage reuses the ticket's
    # vector); off trains on words only (faster to train, no encoder needed by the model).
    use_embeddings: bool = True
    zero_shot: ZeroShotSettings = Field(default_factory=ZeroShotSettings)

    # Priority: impact x urgency -> P1..P4 (rows: impact; columns: urgency).
    priority_matrix: dict[str, dict[str, str]] = Field(default_factory=default_priority_matrix)
    # Levels when the model has none (no training yet) or abstained and no phrase says more.
    default_impact: ImpactName = "individual"
    default_urgency: UrgencyName = "medium"
    # A requester whose `vip` flag is set, or whose role is one of these (any case), gets
    # urgency raised by `vip_urgency_steps`, at most to `vip_max_urgency`.
    vip_roles: list[str] = Field(default_factory=_default_vip_roles)
    vip_urgency_steps: int = Field(default=1, ge=0, le=3)
    vip_max_urgency: UrgencyName = "high"
    # A ticket of the same category as an open major incident is another report of it: its
    # urgency is at least this (and its impact at least the incident's).
    major_incident_min_urgency: UrgencyName = "high"

    # A classifying process checks the active model and the category tree at most this often
    # (a promotion, rollback or tree edit anywhere is seen within this time; 0: every ticket).
    reload_check_seconds: float = Field(default=1.0, ge=0.0)
    # On first start (no category at all), the tree to seed: the packaged default when unset.
    categories_file: Path | None = None
    seed_default_categories: bool = True

    @field_validator("priority_matrix")
    @classmethod
    def _matrix_complete(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        cleaned: dict[str, dict[str, str]] = {}
        for impact, row in value.items():
            key = impact.strip().lower()
            if key not in IMPACTS:
                raise ValueError(f"priority matrix: unknown impact {impact!r}")
            cells: dict[str, str] = {}
            for urgency, priority in row.items():
                level = urgency.strip().lower()
                if level not in URGENCIES:
                    raise ValueError(f"priority matrix: unknown urgency {urgency!r}")
                name = str(priority).strip().upper()
                if name not in ("P1", "P2", "P3", "P4"):
                    raise ValueError(f"priority matrix: {name!r} is not P1..P4")
                cells[level] = name
            cleaned[key] = cells
        missing = [f"{i}/{u}" for i in IMPACTS for u in URGENCIES if u not in cleaned.get(i, {})]
        if missing:
            raise ValueError(f"priority matrix lacks {', '.join(missing)}")
        return cleaned

    @field_validator("vip_roles")
    @classmethod
    def _roles_folded(cls, value: list[str]) -> list[str]:
        return [role.strip().casefold() for role in value if role.strip()]
