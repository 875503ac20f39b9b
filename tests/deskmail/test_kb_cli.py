"""`deskmail kb ...` through click's runner (in process, sharing the test session's model) and
once as a real subprocess that sees what this process published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from deskmail.app import App
from deskmail.cli import cli
from deskmail.knowledge_transfer import starter_documents
from knowledge.kb_io import read_path, write_markdown
from tests.conftest import HELPDESK
from tests.deskmail import kb_support
from tests.deskmail.kb_support import SMALL_KB, copy_database, starter_template

pytestmark = pytest.mark.model

SECRET = "test-secret-key-not-for-production"
DESKMAIL = Path(sys.executable).with_name("deskmail")


class Kb:
    """Runs `deskmail --data DIR kb ...` against one database."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.runner = CliRunner()
        self.env = {
            "DESKMAIL_DATABASE_URL": app.settings.resolved_database_url,
            "DESKMAIL_ADDRESSES": HELPDESK,
            "DESKMAIL_SECRET_KEY": SECRET,
        }

    def __call__(self, *args: str) -> Result:
        result = self.runner.invoke(
            cli, ["--data", str(self.app.settings.data_dir), "kb", *args], env=self.env
        )
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def kb(sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> Kb:
    # The commands build the process's services; hand them the session's model instead of
    # loading another copy.
    monkeypatch.setattr(
        "deskmail.matching.build_knowledge", lambda app, *_a, **_k: kb_support.knowledge(app)
    )
    return Kb(sqlite_app)


def _write_small_kb(folder: Path) -> Path:
    folder.mkdir()
    for doc in kb_support.small_kb():
        (folder / f"{doc.slug}.md").write_text(write_markdown(doc), encoding="utf-8")
    return folder


def test_import_list_show_search_and_export(kb: Kb, tmp_path: Path) -> None:
    source = _write_small_kb(tmp_path / "articles")
    report = kb.json("import", str(source))
    assert sorted(report["created"]) == sorted(SMALL_KB)
    assert sorted(report["published"]) == sorted(SMALL_KB)

    listed = kb.json("list")
    assert {row["slug"] for row in listed} == set(SMALL_KB)
    assert all(row["status"] == "published" and row["current_version"] == 1 for row in listed)
    assert {row["stats"]["solve_rate"] for row in listed} == {None}

    shown = kb.json("show", "printer-paper-jam")
    assert shown["current"]["title"] == kb_support.starter_by_slug()["printer-paper-jam"].title
    assert shown["passages"]

    found = kb.json("search", "paper is stuck in the printer tray", "--k", "3")
    assert [r["rank"] for r in found["results"]] == [1, 2, 3]
    assert found["results"][0]["slug"] == "printer-paper-jam"
    assert found["results"][0]["passage"]
    public = kb.json(
        "search", "unlock a locked account after verifying identity", "--audience", "public"
    )
    assert all(r["audience"] == "public" for r in public["results"])
    text = kb("search", "paper is stuck in the printer tray", "--category", "hardware/printer")
    assert "printer-paper-jam" in text.stdout
    assert "does anything fit" in text.stdout

    kb("export", str(tmp_path / "out"))
    kb("export", "--format", "jsonl", str(tmp_path / "out.jsonl"))
    assert sorted(read_path(tmp_path / "out"), key=lambda d: d.slug) == sorted(
        kb_support.small_kb(), key=lambda d: d.slug
    )
    assert len(read_path(tmp_path / "out.jsonl")) == len(SMALL_KB)
    again = kb.json("import", str(tmp_path / "out.jsonl"))
    assert sorted(again["unchanged"]) == sorted(SMALL_KB)


def test_publish_archive_restore_diff_and_reindex(kb: Kb, tmp_path: Path) -> None:
    source = _write_small_kb(tmp_path / "articles")
    kb("import", str(source))
    edited = kb_support.starter_by_slug()["mailbox-full"]
    folder = tmp_path / "edit"
    folder.mkdir()
    (folder / "mailbox-full.md").write_text(
        write_markdown(replace(edited, title="Mailbox full: archive old mail")),
        encoding="utf-8",
    )
    kb("import", str(folder / "mailbox-full.md"))
    diff = kb("diff", "mailbox-full", "1", "2").stdout
    assert "+title: Mailbox full: archive old mail" in diff
    assert "restored as version 3" in kb("restore", "mailbox-full", "1").stdout
    shown = kb.json("show", "mailbox-full")
    assert shown["current"]["title"] == edited.title
    assert [v["number"] for v in shown["versions"]] == [1, 2, 3]

    kb("archive", "printer-paper-jam")
    found = kb.json("search", "paper jam in tray 2", "--k", "8")
    assert "printer-paper-jam" not in {r["slug"] for r in found["results"]}
    assert "version 1 published" in kb("publish", "printer-paper-jam").stdout

    out = kb("reindex").stdout
    assert f"{len(SMALL_KB)} articles" in out
    found = kb.json("search", "paper jam in tray 2")
    assert found["results"][0]["slug"] == "printer-paper-jam"


def test_import_reports_a_bad_file_and_writes_nothing(kb: Kb, tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: Broken\ncategory: no/such\n---\n\nJust text.\n")
    result = kb.runner.invoke(
        cli, ["--data", str(kb.app.settings.data_dir), "kb", "import", str(bad)], env=kb.env
    )
    assert result.exit_code != 0
    assert "no/such" in str(result.exception)
    assert kb.json("list") == []


def test_another_process_searches_what_this_one_published(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """`deskmail kb search` in a subprocess (its own model and matcher) over a database that
    this process filled: the published starter knowledge base is found there."""
    template = starter_template(sqlite_template, tmp_path.parent / "starter-template")
    url = copy_database(template, tmp_path / "db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKMAIL_")}
    env.update(
        DESKMAIL_DATABASE_URL=url,
        DESKMAIL_ADDRESSES=HELPDESK,
        DESKMAIL_SECRET_KEY=SECRET,
        HF_HUB_OFFLINE="1",
    )
    finished = subprocess.run(
        [
            str(DESKMAIL),
            "--data",
            str(tmp_path / "data"),
            "kb",
            "search",
            "my password expired and Windows asks me to change it",
            "--k",
            "3",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    data = json.loads(finished.stdout)
    assert data["results"][0]["slug"] == "password-expired"
    assert data["knowledge_version"] == len(starter_documents())
