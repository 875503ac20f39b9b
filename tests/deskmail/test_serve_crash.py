"""The crash test of SMTP intake, small: 300 mails to `deskmail smtp`, killed 3 times.

bench/crash_test.py runs the full stream (5,000 mails, 10 kills); see its docstring.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.crash_test import CrashConfig, run_crash_test


@pytest.mark.slow
def test_no_mail_is_lost_or_stored_twice_when_smtp_intake_is_killed(tmp_path: Path) -> None:
    config = CrashConfig(mails=300, kills=3, clients=4, seed=7)
    result = run_crash_test(config, tmp_path)
    assert result.kills == 3
    assert result.acknowledged == result.stored == 300
    assert result.lost == result.duplicates == result.foreign_rows == 0
    assert result.never_acknowledged == result.refused_5xx == 0
    assert result.integrity == "ok"
    assert result.last_exit_status == 0
    assert result.tickets == 300
    assert result.not_processed == 0
