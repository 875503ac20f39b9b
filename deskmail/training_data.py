"""The classifier's labelled examples: agents' corrections and imported historical tickets.

Both live in the `training_example` table. Corrections are written by
`deskmail.classification.correct_classification`; historical tickets come from a help desk
tool's CSV export (`deskmail tickets import FILE.csv ...`), read by `classifier.iter_csv_rows`
with the operator's column mapping. Imported rows become training examples only, never tickets
in the queue: they are closed history, and nobody should be asked to work on them
(docs/decisions/0130). A re-import of the same export adds nothing twice; rows that cannot be
used are reported with their line numbers and reasons, and never stop the import.

`load_examples` is what training reads: every import example, and for each ticket the agents'
corrections merged in order (a later correction of the urgency keeps an earlier category).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from classifier import (
    CategoryTree,
    CsvImportError,
    CsvMapping,
    Impact,
    ImportedRow,
    LabelledExample,
    Urgency,
    iter_csv_rows,
)
from deskmail.app import App
from deskmail.categories import category_tree, create_category, ensure_categories
from deskmail.classification import text_digest
from models import Event, LabelSource, TrainingExample, utcnow

# Rows written per transaction: short transactions keep the pipeline's workers moving.
IMPORT_BATCH = 1000
# Problem rows listed in a report (all are counted).
MAX_REPORTED_ROWS = 200
# Parameters per IN (...) lookup (SQLite's limit on bound parameters).
_LOOKUP_CHUNK = 500

_IMPACTS = {level.value: level for level in Impact}
_URGENCIES = {level.value: level for level in Urgency}


def _example(row: TrainingExample) -> LabelledExample:
    return LabelledExample(
        text=row.text,
        category=row.category,
        subcategory=row.subcategory,
        impact=_IMPACTS.get(row.impact or ""),
        urgency=_URGENCIES.get(row.urgency or ""),
    )


def _has_label(example: LabelledExample) -> bool:
    return any(
        value is not None
        for value in (example.category, example.subcategory, example.impact, example.urgency)
    )


def load_examples(session: Session) -> list[LabelledExample]:
    """Every usable example, oldest first; one per corrected ticket (corrections merged)."""
    examples: list[LabelledExample] = []
    by_ticket: dict[int, int] = {}
    rows = session.execute(select(TrainingExample).order_by(TrainingExample.id)).scalars()
    for row in rows:
        example = _example(row)
        if not example.text.strip():
            continue
        if row.ticket_id is None or row.source != LabelSource.AGENT:
            if _has_label(example):
                examples.append(example)
            continue
        position = by_ticket.get(row.ticket_id)
        if position is None:
            by_ticket[row.ticket_id] = len(examples)
            examples.append(example)
            continue
        earlier = examples[position]
        # A new category makes the earlier subcategory meaningless unless it comes too.
        category_changed = example.category is not None and example.category != earlier.category
        examples[position] = LabelledExample(
            text=example.text,
            category=example.category or earlier.category,
            subcategory=example.subcategory or (None if category_changed else earlier.subcategory),
            impact=example.impact or earlier.impact,
            urgency=example.urgency or earlier.urgency,
        )
    return [example for example in examples if _has_label(example)]


def example_counts(session: Session) -> dict[str, int]:
    """How many examples each source has (corrections counted per row)."""
    counts: Counter[str] = Counter(
        str(source) for source in session.execute(select(TrainingExample.source)).scalars()
    )
    return dict(counts)


def seeded_tree(app: App, session: Session) -> CategoryTree:
    """The active tree, after seeding the default one on a new installation (as the classify
    stage would): an import into an empty tree would lose every category label."""
    settings = app.settings.classifier
    if settings.seed_default_categories:
        ensure_categories(session, settings.categories_file)
        session.flush()
    return category_tree(session)


# --- CSV import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """A row left out, or imported without some of its labels, and why."""

    line: int
    problems: tuple[str, ...]
    imported: bool


@dataclass
class ImportReport:
    """What an import did: counts, and the rows that had problems (with line numbers)."""

    file: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    filtered: int = 0
    skipped: int = 0
    partial: int = 0
    problem_rows: list[RowProblem] = field(default_factory=list)
    problem_counts: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    def note(self, line: int, problems: Iterable[str], *, imported: bool) -> None:
        found = tuple(problems)
        for problem in found:
            # Counted by kind ("unknown category"), the value left out, so counts group.
            self.problem_counts[problem.split(" '", 1)[0].split(' "', 1)[0]] += 1
        if len(self.problem_rows) < MAX_REPORTED_ROWS:
            self.problem_rows.append(RowProblem(line, found, imported))

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "filtered": self.filtered,
            "skipped": self.skipped,
            "partial": self.partial,
            "dry_run": self.dry_run,
            "categories": dict(self.labels.most_common()),
            "problems": dict(self.problem_counts.most_common()),
            "problem_rows": [
                {"line": p.line, "problems": list(p.problems), "imported": p.imported}
                for p in self.problem_rows
            ],
        }


def _batches(rows: Iterator[ImportedRow], size: int) -> Iterator[list[ImportedRow]]:
    batch: list[ImportedRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _key(example: LabelledExample) -> tuple[str, ...]:
    return (
        text_digest(example.text),
        example.category or "",
        example.subcategory or "",
        str(example.impact or ""),
        str(example.urgency or ""),
    )


def _known(session: Session, digests: set[str]) -> set[tuple[str, ...]]:
    """The (digest, labels) of imported examples that exist already among `digests`."""
    found: set[tuple[str, ...]] = set()
    ordered = sorted(digests)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        for row in session.execute(
            select(
                TrainingExample.text_sha256,
                TrainingExample.category,
                TrainingExample.subcategory,
                TrainingExample.impact,
                TrainingExample.urgency,
            ).where(
                TrainingExample.source == LabelSource.IMPORT,
                TrainingExample.text_sha256.in_(chunk),
            )
        ):
            found.add(tuple(value or "" for value in row))
    return found


def import_csv(
    app: App,
    source: Path,
    mapping: CsvMapping,
    *,
    actor: str,
    dry_run: bool = False,
    batch_size: int = IMPORT_BATCH,
) -> ImportReport:
    """Import historical tickets from a CSV export as training examples (see module doc).

    Labels are resolved against the active category tree (keys or names, any case); a row
    whose category is unknown keeps its other labels if it has any, and is reported. Raises
    `classifier.CsvImportError` when the file cannot be read or lacks a mapped column.
    """
    report = ImportReport(file=source.name, dry_run=dry_run)
    with app.sessions() as session, session.begin():
        tree = seeded_tree(app, session)
    seen: set[tuple[str, ...]] = set()
    for batch in _batches(iter_csv_rows(source, mapping, tree), batch_size):
        usable: list[tuple[ImportedRow, LabelledExample]] = []
        for row in batch:
            report.rows += 1
            example = row.example
            if example is None:
                if row.problems == ("filtered out",):
                    report.filtered += 1
                else:
                    report.skipped += 1
                    report.note(row.line, row.problems, imported=False)
                continue
            if not _has_label(example):
                report.skipped += 1
                report.note(row.line, (*row.problems, "no label"), imported=False)
                continue
            if row.problems:
                report.partial += 1
                report.note(row.line, row.problems, imported=True)
            usable.append((row, example))
        with app.sessions() as session, session.begin():
            known = _known(session, {text_digest(e.text) for _row, e in usable})
            values: list[dict[str, Any]] = []
            for _row, example in usable:
                key = _key(example)
                if key in known or key in seen:
                    report.duplicates += 1
                    continue
                seen.add(key)
                report.imported += 1
                report.labels[example.category or "(none)"] += 1
                values.append(
                    {
                        "text": example.text,
                        "category": example.category,
                        "subcategory": example.subcategory,
                        "impact": str(example.impact) if example.impact else None,
                        "urgency": str(example.urgency) if example.urgency else None,
                        "source": LabelSource.IMPORT,
                        "created_by": actor[:320],
                        "text_sha256": key[0],
                        "origin": source.name[:300],
                        "created_at": utcnow(),
                    }
                )
            if values and not dry_run:
                session.execute(insert(TrainingExample), values)
    if not dry_run and report.imported:
        with app.sessions() as session, session.begin():
            session.add(
                Event(
                    ticket_id=None,
                    kind="examples_imported",
                    actor=actor,
                    data={
                        "file": report.file,
                        "imported": report.imported,
                        "duplicates": report.duplicates,
                        "skipped": report.skipped,
                    },
                )
            )
    return report


# --- categories of an export ----------------------------------------------------------------

# Values of an export's category column that become categories at most (a column of free text
# mapped by mistake must not flood the tree).
MAX_NEW_CATEGORIES = 200
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def category_key_of(value: str) -> str:
    """A tree key for a category value of an export ("Hardware Issues" -> "hardware-issues")."""
    return _NOT_KEY.sub("-", value.strip().casefold()).strip("-")[:100]


def create_missing_categories(
    app: App, source: Path, mapping: CsvMapping, *, actor: str
) -> list[str]:
    """Add the export's category values that the tree lacks, as top-level categories.

    For a help desk whose history uses its own categories: the value becomes the name (so the
    import resolves it), a key is derived from it, and the description says where it came
    from (an admin should describe it for the zero-shot model). Subcategory values are not
    created: an export rarely says which category a subcategory value belongs under. Reads
    the file once more, without the tree; returns the keys created.
    """
    if mapping.category_column is None:
        return []
    values: list[str] = []
    seen: set[str] = set()
    lookup = {key.strip().casefold(): value for key, value in mapping.category_values.items()}
    raw_mapping = CsvMapping(
        text_columns=mapping.text_columns,
        category_column=mapping.category_column,
        where=mapping.where,
        delimiter=mapping.delimiter,
        encoding=mapping.encoding,
    )
    for row in iter_csv_rows(source, raw_mapping, None):
        if row.example is None or row.example.category is None:
            continue
        value = lookup.get(row.example.category.strip().casefold(), row.example.category).strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            values.append(value)
    created: list[str] = []
    with app.sessions() as session, session.begin():
        seeded_tree(app, session)
        tree = category_tree(session, include_inactive=True)
        for value in values:
            if tree.resolve(value) is not None:
                continue
            key = category_key_of(value)
            if not key or key in tree or key in created:
                continue
            if len(created) >= MAX_NEW_CATEGORIES:
                raise CsvImportError(
                    f"the category column has more than {MAX_NEW_CATEGORIES} new values: "
                    "is it the right column?"
                )
            create_category(
                session,
                key,
                name=value[:200],
                description=f"Imported from {source.name[:200]}",
                actor=actor,
            )
            created.append(key)
    return created
