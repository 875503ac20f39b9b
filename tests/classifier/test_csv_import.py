"""Historical tickets from CSV exports: mapping, gzip, value translation, bad rows."""

import gzip
import io
from pathlib import Path

import pytest

from classifier.csv_import import CsvMapping, iter_csv_rows, read_labelled_csv
from classifier.errors import CsvImportError
from classifier.labels import Impact, Urgency
from classifier.tree import CategoryTree

EXPORT = (
    "id;Subject;Body;Cat;Sub;Prio;Type\n"
    "1;VPN broken;cannot connect from home;Network and remote access;VPN;1 - High;incident\n"
    "2;Toner;printer needs toner;hardware;;3 - Low;request\n"
    "3;;;accounts;;;incident\n"
    "4;Weird;something;Facilities;;2 - Medium;incident\n"
    '5;"Multi\nline";"body with ; separator";email;accounts/password;;incident\n'
)


def _mapping(**extra: object) -> CsvMapping:
    options: dict[str, object] = {
        "text_columns": ("Subject", "Body"),
        "category_column": "Cat",
        "subcategory_column": "Sub",
        "urgency_column": "Prio",
        "urgency_values": {"1 - High": "high", "2 - Medium": "medium", "3 - Low": "low"},
    }
    options.update(extra)
    return CsvMapping(**options)  # type: ignore[arg-type]


def test_rows_map_to_tree_keys_and_levels(default_tree: CategoryTree) -> None:
    rows = list(iter_csv_rows(io.BytesIO(EXPORT.encode()), _mapping(), default_tree))
    assert [row.line for row in rows] == [2, 3, 4, 5, 7]
    first = rows[0].example
    assert first is not None
    assert (first.category, first.subcategory) == ("network", "network/vpn")
    assert first.urgency is Urgency.HIGH
    assert first.text == "VPN broken\ncannot connect from home"
    assert rows[1].example is not None
    assert rows[1].example.urgency is Urgency.LOW
    assert rows[2].example is None
    assert rows[2].problems == ("no text",)
    unknown = rows[3]
    assert unknown.example is not None
    assert unknown.example.category is None
    assert "unknown category 'Facilities'" in unknown.problems
    crossed = rows[4]
    assert crossed.example is not None
    assert crossed.example.category == "email"
    assert crossed.example.subcategory is None
    assert any("not under" in problem for problem in crossed.problems)


def test_gzip_file_and_where_filter(tmp_path: Path, default_tree: CategoryTree) -> None:
    path = tmp_path / "tickets.csv.gz"
    path.write_bytes(gzip.compress(EXPORT.encode("utf-8-sig")))
    examples = list(read_labelled_csv(path, _mapping(where={"Type": "request"}), default_tree))
    assert [e.text for e in examples] == ["Toner\nprinter needs toner"]


def test_without_a_tree_values_are_taken_as_they_are() -> None:
    data = "text,group,impact\nprinter,GRP_1,whole company\nvpn,GRP_2,Team\n"
    mapping = CsvMapping(
        text_columns=("text",),
        category_column="group",
        impact_column="impact",
        impact_values={"whole company": "organisation"},
    )
    examples = list(read_labelled_csv(io.BytesIO(data.encode()), mapping))
    assert [(e.category, e.impact) for e in examples] == [
        ("GRP_1", Impact.ORGANISATION),
        ("GRP_2", Impact.TEAM),
    ]


def test_missing_column_is_an_error() -> None:
    with pytest.raises(CsvImportError, match="Nope"):
        list(read_labelled_csv(io.BytesIO(EXPORT.encode()), _mapping(category_column="Nope")))


def test_unknown_level_is_reported_not_fatal() -> None:
    data = "t,u\nhello,whenever\n"
    rows = list(
        iter_csv_rows(
            io.BytesIO(data.encode()), CsvMapping(text_columns=("t",), urgency_column="u")
        )
    )
    assert rows[0].example is not None
    assert rows[0].example.urgency is None
    assert rows[0].problems == ("unknown urgency 'whenever'",)


def test_bad_encoding_name_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CsvImportError):
        list(read_labelled_csv(tmp_path / "absent.csv", CsvMapping(text_columns=("t",))))
    with pytest.raises(CsvImportError):
        list(
            read_labelled_csv(
                io.BytesIO(b"t\nx\n"), CsvMapping(text_columns=("t",), encoding="no-such")
            )
        )
