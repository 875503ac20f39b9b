"""Historical tickets from a CSV export, as labelled examples for training.

`deskmail tickets import FILE.csv --text-columns ... --category-column ...` reads through here.
Any help desk tool exports CSV, with its own column names and label values: the mapping says
which columns hold the text and each label, and optionally how to translate values (an old
category name to a key of the tree, "1 - High" to an urgency level). Rows are read one by one
(a large export never sits in memory whole); gzip-compressed files are recognised by their
magic bytes. Nothing in a row can make the import fail: a row that cannot be used is reported
with its line number and the reasons.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from classifier.errors import CsvImportError
from classifier.labels import Impact, LabelledExample, Urgency, parse_impact, parse_urgency
from classifier.tree import CategoryTree

# Limits against hostile or broken files: one cell, and the joined ticket text.
MAX_FIELD_CHARS = 1_000_000
MAX_TEXT_CHARS = 100_000
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class CsvMapping:
    """Which columns hold what, and how label values translate.

    `*_values` map a column's raw value (compared after stripping, case-insensitively) to a
    tree key or a level name; values not in a map are tried as they are (tree key or name,
    level name or a common synonym). `where` keeps only rows whose column equals the value.
    """

    text_columns: tuple[str, ...]
    category_column: str | None = None
    subcategory_column: str | None = None
    impact_column: str | None = None
    urgency_column: str | None = None
    category_values: Mapping[str, str] = field(default_factory=dict)
    subcategory_values: Mapping[str, str] = field(default_factory=dict)
    impact_values: Mapping[str, str] = field(default_factory=dict)
    urgency_values: Mapping[str, str] = field(default_factory=dict)
    where: Mapping[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    encoding: str = "utf-8-sig"
    text_separator: str = "\n"

    def columns(self) -> list[str]:
        """Every column the mapping needs."""
        named = [
            self.category_column,
            self.subcategory_column,
            self.impact_column,
            self.urgency_column,
        ]
        return [*self.text_columns, *(c for c in named if c), *self.where]


@dataclass(frozen=True, slots=True)
class ImportedRow:
    """One data row: its line number, the example (None if unusable) and any problems."""

    line: int
    example: LabelledExample | None
    problems: tuple[str, ...] = ()


def _open(source: Path | IO[bytes], encoding: str) -> IO[str]:
    codecs.lookup(encoding)  # LookupError for an unknown encoding name, before any I/O
    if isinstance(source, Path):
        with source.open("rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        # gzip.open owns (and closes) its file; GzipFile(fileobj=...) would leave it open.
        # The caller's `with` closes the wrapper, which closes these.
        opened = gzip.open(source, "rb") if compressed else source.open("rb")  # noqa: SIM115
        return io.TextIOWrapper(opened, encoding=encoding, errors="replace", newline="")
    raw = source
    if raw.seekable():
        head = raw.read(2)
        raw.seek(0)
    else:
        # A pipe: the delimiter sniffing needs to rewind, so it is read whole.
        raw = io.BytesIO(raw.read())
        head = raw.getvalue()[:2]
    if head == _GZIP_MAGIC:
        raw = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")


def _folded(values: Mapping[str, str]) -> dict[str, str]:
    return {key.strip().casefold(): value for key, value in values.items()}


class _Resolver:
    def __init__(self, mapping: CsvMapping, tree: CategoryTree | None) -> None:
        self.tree = tree
        self.categories = _folded(mapping.category_values)
        self.subcategories = _folded(mapping.subcategory_values)
        self.impacts = _folded(mapping.impact_values)
        self.urgencies = _folded(mapping.urgency_values)

    def node(self, raw: str, table: dict[str, str], what: str, problems: list[str]) -> str | None:
        value = raw.strip()
        if not value:
            return None
        value = table.get(value.casefold(), value)
        if self.tree is None:
            return value
        key = self.tree.resolve(value)
        if key is None:
            problems.append(f"unknown {what} {value[:80]!r}")
        return key

    def impact(self, raw: str, problems: list[str]) -> Impact | None:
        if not raw.strip():
            return None
        found = parse_impact(self.impacts.get(raw.strip().casefold(), raw))
        if found is None:
            problems.append(f"unknown impact {raw.strip()[:40]!r}")
        return found

    def urgency(self, raw: str, problems: list[str]) -> Urgency | None:
        if not raw.strip():
            return None
        found = parse_urgency(self.urgencies.get(raw.strip().casefold(), raw))
        if found is None:
            problems.append(f"unknown urgency {raw.strip()[:40]!r}")
        return found


def iter_csv_rows(
    source: Path | IO[bytes],
    mapping: CsvMapping,
    tree: CategoryTree | None = None,
) -> Iterator[ImportedRow]:
    """Every data row of the file, with its example or the reasons it has none.

    With a tree, category and subcategory values are resolved to tree keys (by key or name,
    any case) and values that do not resolve are reported and left out; without one they are
    taken as they are. A subcategory implies its parent category. Raises `CsvImportError`
    when the file cannot be read at all or lacks a mapped column.
    """
    if not mapping.text_columns:
        raise CsvImportError("at least one text column is needed")
    csv.field_size_limit(MAX_FIELD_CHARS)
    resolver = _Resolver(mapping, tree)
    try:
        handle = _open(source, mapping.encoding)
    except (OSError, LookupError) as error:
        raise CsvImportError(f"cannot open the CSV file: {error}") from error
    with handle:
        try:
            sample = handle.read(64 * 1024)
            handle.seek(0)
            delimiter = mapping.delimiter or _sniff(sample)
            reader = csv.DictReader(handle, delimiter=delimiter)
            header = reader.fieldnames or []
        except (csv.Error, OSError, EOFError) as error:
            raise CsvImportError(f"cannot read the CSV file: {error}") from error
        missing = [column for column in mapping.columns() if column not in header]
        if missing:
            raise CsvImportError(
                f"column(s) not in the file: {', '.join(missing)} (it has: {', '.join(header)})"
            )
        try:
            for row in reader:
                yield _row(reader.line_num, row, mapping, resolver)
        except (csv.Error, OSError, EOFError) as error:
            raise CsvImportError(f"line {reader.line_num}: {error}") from error


def _sniff(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _cell(row: Mapping[str, str | None], column: str | None) -> str:
    if column is None:
        return ""
    value = row.get(column)
    return value if isinstance(value, str) else ""


def _row(
    line: int, row: Mapping[str, str | None], mapping: CsvMapping, resolver: _Resolver
) -> ImportedRow:
    for column, wanted in mapping.where.items():
        if _cell(row, column).strip() != wanted:
            return ImportedRow(line, None, ("filtered out",))
    problems: list[str] = []
    parts = [_cell(row, column).strip() for column in mapping.text_columns]
    text = mapping.text_separator.join(part for part in parts if part)[:MAX_TEXT_CHARS]
    if not text:
        return ImportedRow(line, None, ("no text",))
    category = resolver.node(
        _cell(row, mapping.category_column), resolver.categories, "category", problems
    )
    subcategory = resolver.node(
        _cell(row, mapping.subcategory_column), resolver.subcategories, "subcategory", problems
    )
    tree = resolver.tree
    if tree is not None and subcategory is not None:
        parent = tree.get(subcategory).parent
        if parent is None:
            problems.append(f"{subcategory!r} is a category, not a subcategory")
            subcategory = None
        elif category is None:
            category = parent
        elif parent != category:
            problems.append(f"subcategory {subcategory!r} is not under {category!r}")
            subcategory = None
    if tree is not None and category is not None and not tree.is_category(category):
        problems.append(f"{category!r} is a subcategory, not a category")
        category = None
    example = LabelledExample(
        text=text,
        category=category,
        subcategory=subcategory,
        impact=resolver.impact(_cell(row, mapping.impact_column), problems),
        urgency=resolver.urgency(_cell(row, mapping.urgency_column), problems),
    )
    return ImportedRow(line, example, tuple(problems))


def read_labelled_csv(
    source: Path | IO[bytes],
    mapping: CsvMapping,
    tree: CategoryTree | None = None,
) -> Iterator[LabelledExample]:
    """The usable examples of a CSV file (see `iter_csv_rows` for the rows left out)."""
    for row in iter_csv_rows(source, mapping, tree):
        if row.example is not None:
            yield row.example
