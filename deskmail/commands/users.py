"""`deskmail users ...`: accounts of agents, editors and admins, and their API tokens.

The first admin of a new installation is made here (`deskmail users add EMAIL --role admin`);
after that the web UI's Accounts page does the same. Passwords come from a hidden prompt or,
for scripts, from standard input (`--password-stdin`), never from the command line (where
`ps` and shell history would show them).
"""

from __future__ import annotations

import sys

import click
from rich.table import Table

from deskmail.commands.base import (
    CliState,
    console,
    err_console,
    opened_app,
    pass_state,
    print_json,
)

ROLES = ("agent", "editor", "admin")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.group()
def users() -> None:
    """Accounts of agents, knowledge editors and admins."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option("--name", default="", help="Display name.")
@click.option("--group", default="", help="Assignment group.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_state
def users_add(
    state: CliState, *, email: str, role: str, name: str, group: str, password_stdin: bool
) -> None:
    """Create an account."""
    from deskmail.accounts import AccountError, create_user  # noqa: PLC0415
    from deskmail.db import transaction  # noqa: PLC0415
    from deskmail.web.config import web_config  # noqa: PLC0415

    password = _read_password(password_stdin)
    with opened_app(state) as app:
        params = web_config(app.settings).passwords
        try:
            with transaction(app.sessions) as db:
                user = create_user(
                    db,
                    email,
                    role=role,
                    password=password,
                    name=name,
                    group=group,
                    actor="cli",
                    params=params,
                )
                address = user.person.email
        except AccountError as exc:
            err_console.print(f"[red]not created:[/] {exc}", highlight=False)
            sys.exit(1)
    console.print(f"account {address} ({role}) created", highlight=False)


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def users_list(state: CliState, as_json: bool) -> None:
    """List the accounts."""
    from deskmail.accounts import list_users  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as db:
        accounts = list_users(db)
        rows: list[dict[str, object]] = [
            {
                "email": u.person.email,
                "name": u.person.name,
                "role": str(u.role),
                "group": u.group,
                "active": u.active,
                "last_login": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in accounts
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("email", "name", "role", "group", "active", "last login")
    for u in accounts:
        table.add_row(
            u.person.email,
            u.person.name,
            str(u.role),
            u.group,
            "yes" if u.active else "no",
            u.last_login_at.isoformat()[:16] if u.last_login_at else "never",
        )
    console.print(table)


@users.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@pass_state
def users_token(state: CliState, email: str, name: str) -> None:
    """Create an API token for EMAIL's account and print it (it is shown only once)."""
    from deskmail.accounts import AccountError, create_api_token, find_user  # noqa: PLC0415
    from deskmail.db import transaction  # noqa: PLC0415

    with opened_app(state) as app:
        try:
            with transaction(app.sessions) as db:
                user = find_user(db, email)
                if user is None:
                    raise AccountError(f"no account for {email!r}")
                secret = create_api_token(db, user.id, name=name, actor="cli").secret
        except AccountError as exc:
            err_console.print(f"[red]no token:[/] {exc}", highlight=False)
            sys.exit(1)
    click.echo(secret)


@users.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_state
def users_password(state: CliState, email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL's account (its sessions end)."""
    from deskmail.accounts import AccountError, find_user, set_password  # noqa: PLC0415
    from deskmail.db import transaction  # noqa: PLC0415
    from deskmail.web.config import web_config  # noqa: PLC0415

    password = _read_password(password_stdin)
    with opened_app(state) as app:
        params = web_config(app.settings).passwords
        try:
            with transaction(app.sessions) as db:
                user = find_user(db, email)
                if user is None:
                    raise AccountError(f"no account for {email!r}")
                set_password(db, user.id, password, actor="cli", params=params)
        except AccountError as exc:
            err_console.print(f"[red]not changed:[/] {exc}", highlight=False)
            sys.exit(1)
    console.print("password changed", highlight=False)
