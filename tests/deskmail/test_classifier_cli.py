"""`deskmail tickets import`, `deskmail classifier train|evaluate|versions|rollback` and
`deskmail tickets classify` through `deskmail.cli` (click's runner, in process, sharing the
test session's model), on a small synthetic export written by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from deskmail.app import App
from deskmail.cli import cli
from deskmail.inject import inject_bytes
from models import Event, TrainingExample
from tests.conftest import HELPDESK
from tests.deskmail import classifier_support as support
from tests.deskmail import kb_support
from tests.deskmail.kb_support import mail

pytestmark = pytest.mark.model

SECRET = "test-secret-key-not-for-production"
IMPORT = (
    "tickets",
    "import",
    "--text-columns",
    "Subject,Body",
    "--category-column",
    "Category",
    "--subcategory-column",
    "Subcategory",
    "--priority-column",
    "Priority",
)


class Deskmail:
    """Runs `deskmail --data DIR ...` against one database."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.runner = CliRunner()
        self.env = {
            "DESKMAIL_DATABASE_URL": app.settings.resolved_database_url,
            "DESKMAIL_ADDRESSES": HELPDESK,
            "DESKMAIL_SECRET_KEY": SECRET,
            "DESKMAIL_CLASSIFIER__RELOAD_CHECK_SECONDS": "0",
        }

    def run(self, *args: str) -> Result:
        return self.runner.invoke(
            cli, ["--data", str(self.app.settings.data_dir), *args], env=self.env
        )

    def __call__(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def deskmail(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deskmail]:
    # The commands build the process's services; hand them the session's model instead of
    # loading another copy.
    monkeypatch.setattr(
        "deskmail.matching.build_knowledge", lambda app, *_a, **_k: kb_support.knowledge(app)
    )
    app = support.open_app(tmp_path / "data", sqlite_url)
    yield Deskmail(app)
    app.close()


def test_import_train_evaluate_versions_rollback(deskmail: Deskmail, tmp_path: Path) -> None:
    export = support.write_csv(tmp_path / "history.csv", support.synthetic_rows())
    report = deskmail.json(*IMPORT, str(export))
    assert (report["rows"], report["imported"], report["skipped"]) == (160, 160, 0)
    assert report["categories"] == {"network": 40, "hardware": 40, "accounts": 40, "email": 40}
    # Importing the same export again adds nothing.
    again = deskmail.json(*IMPORT, str(export))
    assert (again["imported"], again["duplicates"]) == (0, 160)

    assert deskmail.json("classifier", "versions") == []
    trained = deskmail.json("classifier", "train")
    assert trained["promoted"] is True, trained["reasons"]
    assert trained["examples"] == 160
    assert trained["training"] + trained["heldout"] == 160
    assert trained["compared_with"].startswith("zeroshot-")
    category = trained["candidate"]["targets"]["category"]
    assert category["accuracy"] > 0.8
    assert {row["label"] for row in category["per_class"]} == {
        "network",
        "hardware",
        "accounts",
        "email",
    }

    evaluated = deskmail.json("classifier", "evaluate")
    assert evaluated["version"] == trained["version"]
    assert evaluated["heldout"] == trained["heldout"]
    figures = evaluated["targets"]["category"]
    assert set(figures) >= {"accuracy", "macro_f1", "coverage_at_target", "per_class"}
    assert all(set(row) >= {"precision", "recall"} for row in figures["per_class"])
    table = deskmail("classifier", "evaluate").stdout
    for heading in ("accuracy", "macro-F1", "coverage", "precision", "recall"):
        assert heading in table

    versions = deskmail.json("classifier", "versions")
    assert [(v["version"], v["status"]) for v in versions] == [(trained["version"], "active")]
    assert versions[0]["heldout"]["category.accuracy"] == pytest.approx(category["accuracy"])
    assert trained["version"] in deskmail("classifier", "versions").stdout

    back = deskmail.json("classifier", "rollback")
    assert back == {"previous": trained["version"], "current": None}
    assert deskmail.json("classifier", "versions")[0]["status"] == "retired"
    refused = deskmail.run("classifier", "rollback")
    assert refused.exit_code == 1
    assert "nothing to roll back" in refused.stderr
    restored = deskmail.json("classifier", "rollback", "--to", trained["version"])
    assert restored == {"previous": None, "current": trained["version"]}


def test_train_without_examples_says_so(deskmail: Deskmail) -> None:
    result = deskmail.run("classifier", "train")
    assert result.exit_code == 1
    assert "error" in result.stderr


def test_import_reports_bad_rows_and_maps_values(deskmail: Deskmail, tmp_path: Path) -> None:
    rows = [
        {"Text": "vpn tunnel drops", "Cat": "Netzwerk", "Urg": "3"},
        {"Text": "printer jam", "Cat": "Hardware", "Urg": "1"},
        {"Text": "", "Cat": "Hardware", "Urg": "1"},
        {"Text": "garden hose", "Cat": "Gardening", "Urg": "9"},
    ]
    export = support.write_csv(tmp_path / "odd.csv", rows)
    report = deskmail.json(
        "tickets",
        "import",
        str(export),
        "--text-columns",
        "Text",
        "--category-column",
        "Cat",
        "--urgency-column",
        "Urg",
        "--category-value",
        "Netzwerk=network",
        "--urgency-value",
        "1=critical",
        "--urgency-value",
        "3=low",
    )
    assert (report["rows"], report["imported"], report["skipped"]) == (4, 2, 2)
    lines = {row["line"] for row in report["problem_rows"]}
    assert lines == {4, 5}
    with deskmail.app.read_sessions() as session:
        stored = {
            (e.category, e.urgency, e.origin, e.created_by)
            for e in session.scalars(select(TrainingExample))
        }
    assert stored == {
        ("network", "low", "odd.csv", "cli"),
        ("hardware", "critical", "odd.csv", "cli"),
    }
    missing = deskmail.run("tickets", "import", str(export), "--text-columns", "Body")
    assert missing.exit_code == 1
    assert "Body" in missing.stderr


def test_import_can_add_the_exports_own_categories(deskmail: Deskmail, tmp_path: Path) -> None:
    rows = [
        {"Text": f"ticket {n}", "Group": group}
        for n, group in enumerate(["Service Desk L1", "SAP Finance", "Service Desk L1"])
    ]
    export = support.write_csv(tmp_path / "groups.csv", rows)
    args = (
        "tickets",
        "import",
        str(export),
        "--text-columns",
        "Text",
        "--category-column",
        "Group",
    )
    report = deskmail.json(*args, "--create-categories")
    assert report["created_categories"] == ["service-desk-l1", "sap-finance"]
    assert report["imported"] == 3
    listed = {row["key"]: row for row in deskmail.json("categories", "list")}
    assert listed["sap-finance"]["name"] == "SAP Finance"


def test_tickets_classify_records_the_correction(deskmail: Deskmail) -> None:
    app = deskmail.app
    number = inject_bytes(
        app, support.worker(app), mail("lunch", "Are we still on for lunch on Friday?")
    ).ticket
    assert number is not None
    view = deskmail.json(
        "tickets",
        "classify",
        str(number),
        "--category",
        "hardware",
        "--subcategory",
        "printer",
        "--impact",
        "team",
        "--urgency",
        "high",
        "--by",
        "agent@example.org",
    )
    assert view["category"] == "hardware"
    assert view["subcategory"] == "hardware/printer"
    assert view["priority"] == app.settings.classifier.priority_matrix["team"]["high"]
    assert view["source"] == "agent"
    assert view["corrected_by"] == "agent@example.org"
    shown = deskmail.json("tickets", "show", str(number))
    assert (shown["category"], shown["subcategory"]) == ("hardware", "hardware/printer")
    with app.read_sessions() as session:
        example = session.scalars(select(TrainingExample)).one()
        event = session.scalars(select(Event).where(Event.kind == "reclassified")).one()
    assert (example.category, example.subcategory, example.impact, example.urgency) == (
        "hardware",
        "hardware/printer",
        "team",
        "high",
    )
    assert example.created_by == "agent@example.org"
    assert event.actor == "agent@example.org"
    refused = deskmail.run("tickets", "classify", str(number), "--urgency", "whenever")
    assert refused.exit_code == 1
    assert "urgency" in refused.stderr


def test_a_priority_column_is_read_as_the_urgency(deskmail: Deskmail, tmp_path: Path) -> None:
    rows = [
        {"Text": "whole site offline", "Prio": "P1"},
        {"Text": "new mouse please", "Prio": "p4"},
        {"Text": "monitor flickers", "Prio": "Sev-9"},
    ]
    export = support.write_csv(tmp_path / "prio.csv", rows)
    args = ("tickets", "import", str(export), "--text-columns", "Text")
    report = deskmail.json(*args, "--priority-column", "Prio")
    assert (report["imported"], report["skipped"]) == (2, 1)
    with deskmail.app.read_sessions() as session:
        urgencies = {e.text: e.urgency for e in session.scalars(select(TrainingExample))}
    assert urgencies == {"whole site offline": "critical", "new mouse please": "low"}
    both = deskmail.run(*args, "--priority-column", "Prio", "--urgency-column", "Prio")
    assert both.exit_code == 2
