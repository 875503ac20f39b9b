"""`deskmail categories ...` through `deskmail.cli`: the default tree is seeded on first use,
categories are added, edited and removed (kept, no longer offered), the tree round-trips
through its TOML file, and the classifier's tree follows every change. No model needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select

from deskmail.app import App
from deskmail.categories import category_tree
from deskmail.cli import cli
from models import Category, Event
from tests.conftest import HELPDESK

SECRET = "test-secret-key-not-for-production"


class Categories:
    """Runs `deskmail --data DIR categories ...` against one database."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.runner = CliRunner()
        self.env = {
            "DESKMAIL_DATABASE_URL": app.settings.resolved_database_url,
            "DESKMAIL_ADDRESSES": HELPDESK,
            "DESKMAIL_SECRET_KEY": SECRET,
        }

    def run(self, *args: str) -> Result:
        return self.runner.invoke(
            cli, ["--data", str(self.app.settings.data_dir), "categories", *args], env=self.env
        )

    def __call__(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


def test_list_seeds_the_default_tree_once(sqlite_app: App) -> None:
    categories = Categories(sqlite_app)
    listed = categories.json("list")
    keys = [row["key"] for row in listed]
    assert {"accounts", "network", "hardware", "email"} <= set(keys)
    assert "network/vpn" in keys
    assert all(row["description"] for row in listed)
    vpn = next(row for row in listed if row["key"] == "network/vpn")
    assert vpn["parent"] == "network"
    # Children follow their parent in the listing.
    assert keys.index("network/vpn") == keys.index("network") + 1
    assert categories.json("list") == listed
    table = categories("list").stdout
    assert "network/vpn" in table


def test_add_edit_remove_and_restore(sqlite_app: App) -> None:
    categories = Categories(sqlite_app)
    categories("list")
    added = categories.json(
        "add", "facilities", "--name", "Facilities", "--description", "Desks, keys, heating."
    )
    assert added == {
        "key": "facilities",
        "name": "Facilities",
        "description": "Desks, keys, heating.",
    }
    categories("add", "facilities/keys", "--name", "Keys and badges")
    duplicate = categories.run("add", "facilities", "--name", "Again")
    assert duplicate.exit_code == 1
    assert "exists already" in duplicate.stderr
    orphan = categories.run("add", "nowhere/sub", "--name", "Orphan")
    assert orphan.exit_code == 1

    edited = categories.json("edit", "facilities", "--description", "Desks, keys, heat, light.")
    assert edited["description"] == "Desks, keys, heat, light."
    with sqlite_app.read_sessions() as session:
        tree = category_tree(session)
    assert tree.is_subcategory_of("facilities/keys", "facilities")
    assert tree.get("facilities").description == "Desks, keys, heat, light."

    assert categories.json("remove", "facilities") == {"key": "facilities", "active": False}
    active = {row["key"] for row in categories.json("list")}
    assert "facilities" not in active
    assert "facilities/keys" not in active
    every = {row["key"]: row["active"] for row in categories.json("list", "--all")}
    assert every["facilities"] is False
    with sqlite_app.read_sessions() as session:
        tree = category_tree(session)
        kinds = session.scalars(select(Event.kind).where(Event.actor == "cli")).all()
    assert "facilities" not in tree
    assert "facilities/keys" not in tree
    assert {"category_created", "category_updated"} <= set(kinds)

    categories("edit", "facilities", "--active")
    assert "facilities/keys" in {row["key"] for row in categories.json("list")}
    missing = categories.run("edit", "no-such", "--name", "X")
    assert missing.exit_code == 1


def test_export_and_import_round_trip(sqlite_app: App, tmp_path: Path) -> None:
    categories = Categories(sqlite_app)
    categories("list")
    exported = categories("export").stdout
    path = tmp_path / "tree.toml"
    path.write_text(
        exported + '\n[[category]]\nkey = "facilities"\nname = "Facilities"\n'
        'description = "Desks and keys."\n',
        encoding="utf-8",
    )
    report = categories.json("import", str(path))
    assert report["created"] == ["facilities"]
    # The exported tree read back is the same tree: nothing else changes.
    assert not report["updated"]
    assert "network/vpn" in report["unchanged"]
    with sqlite_app.read_sessions() as session:
        assert session.scalars(select(Category).where(Category.key == "facilities")).one()
    bad = tmp_path / "bad.toml"
    bad.write_text('[[category]]\nkey = "x"\n[[category]]\nkey = "x"\nname="X"', encoding="utf-8")
    refused = categories.run("import", str(bad))
    assert refused.exit_code == 1
