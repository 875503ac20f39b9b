"""Account use cases: users, roles, passwords (Argon2id) and API tokens, with audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deskmail.accounts import (
    AccountError,
    PasswordParams,
    UserExistsError,
    create_api_token,
    create_user,
    find_user,
    revoke_api_token,
    role_at_least,
    set_password,
    touch_api_token,
    update_user,
    verify_api_token,
    verify_password,
)
from deskmail.app import App
from deskmail.db import transaction
from models import Event, Person, Role, UserAccount, utcnow
from models.web import ApiToken
from tests.web.helpers import FAST_PASSWORDS, PASSWORD


def _events(app: App) -> list[Event]:
    with app.read_sessions() as db:
        return list(db.execute(select(Event).order_by(Event.id)).scalars())


def test_roles_nest() -> None:
    assert role_at_least(Role.ADMIN, Role.AGENT)
    assert role_at_least(Role.ADMIN, Role.EDITOR)
    assert role_at_least(Role.EDITOR, Role.AGENT)
    assert role_at_least(Role.AGENT, Role.AGENT)
    assert not role_at_least(Role.AGENT, Role.EDITOR)
    assert not role_at_least(Role.EDITOR, Role.ADMIN)
    assert not role_at_least("superuser", Role.AGENT)


def test_create_and_verify(app: App) -> None:
    with transaction(app.sessions) as db:
        user = create_user(
            db,
            " Agnes@Example.ORG ",
            role=Role.AGENT,
            password=PASSWORD,
            name="Agnes",
            group="Service desk",
            actor="admin@example.org",
            params=FAST_PASSWORDS,
        )
        assert user.person.email == "agnes@example.org"
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
    with transaction(app.sessions) as db:
        assert verify_password(db, "AGNES@example.org", PASSWORD, FAST_PASSWORDS) is not None
        assert verify_password(db, "agnes@example.org", PASSWORD + "x", FAST_PASSWORDS) is None
        assert verify_password(db, "nobody@example.org", PASSWORD, FAST_PASSWORDS) is None
        assert verify_password(db, "not an address", PASSWORD, FAST_PASSWORDS) is None
    (event,) = _events(app)
    assert event.kind == "user_created"
    assert event.actor == "admin@example.org"
    assert PASSWORD not in str(event.data)


def test_an_existing_requester_gets_an_account(app: App) -> None:
    with transaction(app.sessions) as db:
        db.add(Person(email="bob@example.org", name="Bob"))
    with transaction(app.sessions) as db:
        user = create_user(
            db, "bob@example.org", role="editor", password=PASSWORD, params=FAST_PASSWORDS
        )
        assert user.person.name == "Bob"
    with transaction(app.sessions) as db, pytest.raises(UserExistsError):
        create_user(db, "BOB@example.org", role="agent", password=PASSWORD, params=FAST_PASSWORDS)


@pytest.mark.parametrize(
    ("email", "password", "name"),
    [
        ("no-at-sign", PASSWORD, ""),
        ("a b@example.org", PASSWORD, ""),
        ("x@example.org", "short", ""),
        ("x@example.org", "x" * 1025, ""),
        ("x@example.org", "nul\x00 in the password", ""),
        ("x@example.org", PASSWORD, "two\nlines"),
        ("<x@example.org>", PASSWORD, ""),
    ],
)
def test_refused_accounts(sqlite_app: App, email: str, password: str, name: str) -> None:
    with transaction(sqlite_app.sessions) as db, pytest.raises(AccountError):
        create_user(db, email, role="agent", password=password, name=name, params=FAST_PASSWORDS)


def test_weak_hashes_are_upgraded_at_login(sqlite_app: App) -> None:
    weak = PasswordParams(time_cost=1, memory_kib=1024, parallelism=1)
    strong = PasswordParams(time_cost=2, memory_kib=2048, parallelism=1)
    with transaction(sqlite_app.sessions) as db:
        create_user(db, "a@example.org", role="agent", password=PASSWORD, params=weak)
    with transaction(sqlite_app.sessions) as db:
        assert verify_password(db, "a@example.org", PASSWORD, strong) is not None
    with sqlite_app.read_sessions() as db:
        user = find_user(db, "a@example.org")
        assert user is not None
        assert "m=2048,t=2" in user.password_hash


def test_last_admin_cannot_be_demoted_or_deactivated(app: App) -> None:
    with transaction(app.sessions) as db:
        admin = create_user(
            db, "root@example.org", role="admin", password=PASSWORD, params=FAST_PASSWORDS
        )
        admin_id = admin.id
    for change in ({"role": Role.AGENT}, {"active": False}):
        with (
            transaction(app.sessions) as db,
            pytest.raises(AccountError, match="last active admin"),
        ):
            update_user(db, admin_id, actor="root@example.org", **change)
    with transaction(app.sessions) as db:
        create_user(db, "two@example.org", role="admin", password=PASSWORD, params=FAST_PASSWORDS)
    with transaction(app.sessions) as db:
        update_user(db, admin_id, actor="two@example.org", role=Role.EDITOR, group="KB")
    with app.read_sessions() as db:
        user = db.get(UserAccount, admin_id)
        assert user is not None
        assert user.role == Role.EDITOR
        assert user.group == "KB"
    changed = [e for e in _events(app) if e.kind == "user_updated"]
    assert changed[-1].data["changes"]["role"] == ["admin", "editor"]


def test_set_password_replaces_the_hash(sqlite_app: App) -> None:
    with transaction(sqlite_app.sessions) as db:
        user_id = create_user(
            db, "a@example.org", role="agent", password=PASSWORD, params=FAST_PASSWORDS
        ).id
    with transaction(sqlite_app.sessions) as db:
        set_password(db, user_id, "a whole new password", actor="admin", params=FAST_PASSWORDS)
    with transaction(sqlite_app.sessions) as db:
        assert verify_password(db, "a@example.org", PASSWORD, FAST_PASSWORDS) is None
        assert verify_password(db, "a@example.org", "a whole new password", FAST_PASSWORDS)
    assert [e.kind for e in _events(sqlite_app)][-1] == "password_changed"


def test_api_tokens(app: App) -> None:
    with transaction(app.sessions) as db:
        user_id = create_user(
            db, "bot@example.org", role="agent", password=PASSWORD, params=FAST_PASSWORDS
        ).id
        created = create_api_token(db, user_id, name="monitoring", actor="admin@example.org")
        secret, token_id = created.secret, created.token.id
    assert secret.startswith("dmt_")
    assert len(secret) > 40
    with app.read_sessions() as db:
        stored = db.get(ApiToken, token_id)
        assert stored is not None
        assert secret not in (stored.token_sha256, stored.prefix)
        assert stored.prefix == secret[:10]
        owner = verify_api_token(db, secret)
        assert owner is not None
        assert owner.user.id == user_id
        assert owner.stale
        assert verify_api_token(db, secret[:-1] + "x") is None
        assert verify_api_token(db, "not a token") is None
    with transaction(app.sessions) as db:
        touch_api_token(db, token_id)
    with app.read_sessions() as db:
        owner = verify_api_token(db, secret)
        assert owner is not None
        assert not owner.stale
        # Expired tokens stop working.
        later = utcnow() + timedelta(days=400)
        assert verify_api_token(db, secret, now=later) is not None
    with transaction(app.sessions) as db:
        expiring = create_api_token(
            db, user_id, name="short", actor="admin", expires_at=utcnow() + timedelta(days=1)
        ).secret
    with app.read_sessions() as db:
        assert verify_api_token(db, expiring) is not None
        assert verify_api_token(db, expiring, now=utcnow() + timedelta(days=2)) is None
    with transaction(app.sessions) as db:
        revoke_api_token(db, token_id, actor="admin@example.org")
    with app.read_sessions() as db:
        assert verify_api_token(db, secret) is None
    with transaction(app.sessions) as db:
        update_user(db, user_id, active=False, actor="admin")
    with app.read_sessions() as db:
        assert verify_api_token(db, expiring) is None
    kinds = [e.kind for e in _events(app)]
    assert kinds.count("api_token_created") == 2
    assert "api_token_revoked" in kinds
    assert all(secret not in str(e.data) for e in _events(app))
