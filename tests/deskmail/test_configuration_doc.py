"""docs/configuration.md's example `deskmail.toml` loads, and says what it claims."""

from __future__ import annotations

import os
import re
from datetime import date, time
from pathlib import Path

import pytest

from deskmail.settings import SettingsError, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _example_toml() -> str:
    blocks: list[str] = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1, "the page should hold exactly one TOML example"
    return blocks[0]


def test_the_documented_example_is_valid_and_read_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("DESKMAIL_"):
            monkeypatch.delenv(name)
    config = tmp_path / "deskmail.toml"
    config.write_text(_example_toml(), encoding="utf-8")

    settings = load_settings(config_file=config)

    assert settings.addresses == ["help@example.org", "it@example.org"]
    assert settings.imap_accounts[0].after_fetch == "move"
    assert settings.imap_accounts[0].password.get_secret_value() == "change me"
    assert settings.process.sla["P1"].first_response == "30m"
    assert settings.process.sla["P1"].around_the_clock
    assert settings.process.calendar.start == time(8, 0)
    assert date(2026, 12, 24) in settings.process.calendar.extra_holidays
    assert settings.process.category_groups["network"] == "network-team"
    assert settings.classifier.target_precision == 0.9
    assert settings.web.cookie_secure == "always"


def test_an_invalid_setting_is_refused_with_its_name(tmp_path: Path) -> None:
    config = tmp_path / "deskmail.toml"
    config.write_text(_example_toml().replace('first_response = "30m"', 'first_response = "soon"'))
    with pytest.raises(SettingsError, match="first_response"):
        load_settings(config_file=config)
