"""`deskmail users ...` and `deskmail web`, and the web server as a service of `deskmail serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from deskmail.accounts import verify_api_token, verify_password
from deskmail.app import App
from deskmail.commands.base import CliState
from deskmail.commands.users import users
from deskmail.serve import ServiceError
from deskmail.web_service import WebService
from tests.conftest import REPO, make_settings
from tests.web.helpers import fast_config

SECRET = "test-secret-key-not-for-production"


def _run(sqlite_url: str, data: Path, args: list[str], stdin: str = "") -> tuple[int, str]:
    runner = CliRunner()
    env = {"DESKMAIL_DATABASE_URL": sqlite_url, "DESKMAIL_SECRET_KEY": SECRET}
    result = runner.invoke(users, args, input=stdin, obj=CliState(None, data), env=env)
    return result.exit_code, result.output


def test_users_commands(sqlite_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = _run(
        sqlite_url,
        data,
        ["add", "Root@Example.org", "--role", "admin", "--name", "Root", "--password-stdin"],
        stdin="a long admin password\n",
    )
    assert code == 0, out
    assert "root@example.org (admin) created" in out
    code, out = _run(
        sqlite_url,
        data,
        ["add", "root@example.org", "--role", "agent", "--password-stdin"],
        "another long one\n",
    )
    assert code == 1
    assert "has an account already" in out
    code, out = _run(
        sqlite_url, data, ["add", "x@example.org", "--role", "agent", "--password-stdin"], "short\n"
    )
    assert code == 1
    assert "at least 10 characters" in out
    # The prompt asks twice and hides the input.
    code, out = _run(
        sqlite_url,
        data,
        ["add", "sam@example.org", "--role", "agent"],
        "sam's password!\nsam's password!\n",
    )
    assert code == 0, out
    code, out = _run(sqlite_url, data, ["list", "--json"])
    listed = json.loads(out)
    assert [(u["email"], u["role"]) for u in listed] == [
        ("root@example.org", "admin"),
        ("sam@example.org", "agent"),
    ]
    code, out = _run(sqlite_url, data, ["token", "sam@example.org", "--name", "nagios"])
    assert code == 0
    secret = out.strip()
    assert secret.startswith("dmt_")
    code, out = _run(sqlite_url, data, ["token", "nobody@example.org"])
    assert code == 1
    code, out = _run(
        sqlite_url,
        data,
        ["password", "sam@example.org", "--password-stdin"],
        "a brand new password\n",
    )
    assert code == 0, out
    code, out = _run(sqlite_url, data, ["list"])
    assert "sam@example.org" in out
    assert "never" in out
    app = App.open(make_settings(data, sqlite_url))
    try:
        with app.sessions() as db:
            owner = verify_api_token(db, secret)
            assert owner is not None
            assert owner.user.person.email == "sam@example.org"
            assert verify_password(db, "sam@example.org", "a brand new password") is not None
    finally:
        app.close()


def test_web_service_starts_serves_and_stops(sqlite_app: App) -> None:
    service = WebService(sqlite_app, listen="127.0.0.1:0", config=fast_config(sqlite_app))
    line = service.start()
    assert line.startswith("web UI on http://127.0.0.1:")
    assert service.failure() is None
    response = httpx.get(service.url + "/login")
    assert response.status_code == 200
    assert "server" not in response.headers
    started = time.monotonic()
    service.stop(5.0)
    assert time.monotonic() - started < 5.0
    assert service.failure() is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(service.url + "/login")


def test_web_service_reports_a_busy_port(sqlite_app: App) -> None:
    blocker = socket.create_server(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    try:
        with pytest.raises(ServiceError, match="cannot listen"):
            WebService(sqlite_app, listen=f"127.0.0.1:{port}").start()
    finally:
        blocker.close()


def test_deskmail_web_command(sqlite_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DESKMAIL_DATABASE_URL": sqlite_url,
        "DESKMAIL_SECRET_KEY": SECRET,
        "PYTHONPATH": str(REPO),
    }
    # `deskmail web` as the CLI will register it (the group gets the command here).
    program = (
        "from deskmail.cli import cli; from deskmail.commands.web import web; "
        "cli.add_command(web); cli()"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            program,
            "--data",
            str(tmp_path / "data"),
            "web",
            "--listen",
            "127.0.0.1:0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("web: web UI on "):
                url = line.split(" on ", 1)[1].strip()
            if line.strip() == "ready":
                break
        assert url, process.stderr.read() if process.stderr else ""
        assert httpx.get(url + "/login").status_code == 200
        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=30)
        assert "stopped" in out
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
