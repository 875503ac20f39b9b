"""Importing historical tickets as training examples (`deskmail.training_data.import_csv`, the
use case behind `deskmail tickets import`) on both databases: labels resolved against the tree,
re-imports deduplicated by text hash, gzip read, filters and dry runs, and rows that cannot be
used reported with their line numbers. No model needed: an import embeds nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

from sqlalchemy import func, select

from classifier import CsvMapping
from deskmail.app import App
from deskmail.classification import text_digest
from deskmail.training_data import import_csv, load_examples
from models import Event, LabelSource, TrainingExample
from tests.deskmail import classifier_support as support

MAPPING = CsvMapping(
    text_columns=("Subject", "Body"),
    category_column="Category",
    subcategory_column="Subcategory",
    urgency_column="Priority",
)


def _count(app: App) -> int:
    with app.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(TrainingExample)) or 0)


def test_an_export_becomes_training_examples_once(app: App, tmp_path: Path) -> None:
    rows = support.synthetic_rows(per_class=12)
    plain = support.write_csv(tmp_path / "export.csv", rows)
    report = import_csv(app, plain, MAPPING, actor="admin@example.org")
    assert (report.rows, report.imported, report.skipped, report.partial) == (48, 48, 0, 0)
    with app.read_sessions() as session:
        stored = session.scalars(select(TrainingExample).order_by(TrainingExample.id)).all()
        events = session.scalars(select(Event).where(Event.kind == "examples_imported")).all()
        examples = load_examples(session)
    first = stored[0]
    assert first.source == LabelSource.IMPORT
    assert first.created_by == "admin@example.org"
    assert first.origin == "export.csv"
    assert first.text_sha256 == text_digest(first.text)
    assert {e.subcategory for e in stored} == set(support.PHRASES)
    assert all(e.subcategory.startswith(f"{e.category}/") for e in stored if e.subcategory)
    assert {e.urgency for e in stored} == {"high", "low"}
    assert len(examples) == 48
    assert [event.data["imported"] for event in events] == [48]

    # The same rows again, compressed this time: nothing new.
    packed = tmp_path / "export.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    again = import_csv(app, packed, MAPPING, actor="admin@example.org")
    assert (again.imported, again.duplicates) == (0, 48)
    assert _count(app) == 48


def test_filters_dry_runs_and_problem_rows(app: App, tmp_path: Path) -> None:
    rows = [
        {"Text": "vpn tunnel drops", "Type": "incident", "Cat": "network", "Sub": "vpn"},
        {"Text": "printer toner empty", "Type": "request", "Cat": "hardware", "Sub": ""},
        {"Text": "garden hose", "Type": "incident", "Cat": "gardening", "Sub": ""},
        {"Text": "", "Type": "incident", "Cat": "network", "Sub": ""},
        {"Text": "vpn again", "Type": "incident", "Cat": "network", "Sub": "hardware/printer"},
    ]
    export = support.write_csv(tmp_path / "mixed.csv", rows)
    mapping = CsvMapping(
        text_columns=("Text",),
        category_column="Cat",
        subcategory_column="Sub",
        where={"Type": "incident"},
    )
    dry = import_csv(app, export, mapping, actor="cli", dry_run=True)
    assert (dry.rows, dry.filtered, dry.imported, dry.skipped, dry.partial) == (5, 1, 2, 2, 1)
    assert _count(app) == 0
    report = import_csv(app, export, mapping, actor="cli")
    assert report.imported == 2
    problems = {row.line: row for row in report.problem_rows}
    assert set(problems) == {4, 5, 6}
    assert not problems[4].imported
    assert any("gardening" in p for p in problems[4].problems)
    # A subcategory under another category: the row keeps its category, not the subcategory.
    assert problems[6].imported
    with app.read_sessions() as session:
        stored = {
            (e.text, e.category, e.subcategory) for e in session.scalars(select(TrainingExample))
        }
    assert stored == {
        ("vpn tunnel drops", "network", "network/vpn"),
        ("vpn again", "network", None),
    }
