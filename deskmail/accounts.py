"""Accounts of agents, knowledge editors and admins: passwords, roles and API tokens.

The use cases behind `deskmail users ...` and the admin pages of the web UI. Passwords are
hashed with Argon2id (argon2-cffi, RFC 9106); API tokens are 256-bit random strings of which
only the SHA-256 is stored (docs/decisions/0103). Roles nest: an editor can do everything an
agent can, an admin everything (docs/decisions/0101). Every change writes an audit `Event`
without a ticket; no event ever holds a password or a token.

The functions take the caller's `Session` and never commit: the CLI or the web route owns the
transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models import Event, Person, Role, UserAccount, utcnow
from models.errors import DeskmailError
from models.web import ApiToken, WebSession

ROLE_ORDER: tuple[Role, ...] = (Role.AGENT, Role.EDITOR, Role.ADMIN)
MIN_PASSWORD_CHARS = 10
# Argon2 hashes long input fine, but a megabyte "password" is only a way to burn CPU.
MAX_PASSWORD_CHARS = 1024
MAX_EMAIL_CHARS = 320
TOKEN_PREFIX = "dmt_"
TOKEN_BYTES = 32
TOKEN_SHOWN_CHARS = 10
# Writing `last_used_at` on every API call would turn every read into a write.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


class AccountError(DeskmailError):
    """An account use case was refused; the message says why (safe to show)."""


class UnknownUserError(AccountError):
    """No account has this e-mail address (or id)."""


class UserExistsError(AccountError):
    """An account with this e-mail address exists already."""


class LastAdminError(AccountError):
    """The change would leave no active admin, and nobody could undo it."""


@dataclass(frozen=True)
class PasswordParams:
    """Argon2id cost; the default is RFC 9106's second recommended (64 MiB) profile."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4

    def hasher(self) -> PasswordHasher:
        """A hasher with these parameters (cheap to build; holds no state)."""
        return PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism
        )


@dataclass(frozen=True)
class NewToken:
    """A token just created: `secret` is shown once and never stored."""

    token: ApiToken
    secret: str


def role_at_least(role: Role | str, required: Role | str) -> bool:
    """True when `role` includes `required` (agent < editor < admin)."""
    try:
        return ROLE_ORDER.index(Role(role)) >= ROLE_ORDER.index(Role(required))
    except ValueError:
        return False


def normalise_email(email: str) -> str:
    """The address as stored: trimmed and lower-cased; refuses what is not an address."""
    cleaned = email.strip().lower()
    local, at, domain = cleaned.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(cleaned) > MAX_EMAIL_CHARS
        or any(c.isspace() or ord(c) < 32 or c in '<>"(),;' for c in cleaned)
    ):
        raise AccountError(f"not an e-mail address: {email[:100]!r}")
    return cleaned


def _clean_line(value: str, *, limit: int, what: str) -> str:
    cleaned = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise AccountError(f"the {what} must be one line of text")
    if len(cleaned) > limit:
        raise AccountError(f"the {what} is longer than {limit} characters")
    return cleaned


def check_password(password: str) -> None:
    """Refuse passwords too short to resist guessing or too long to hash sensibly."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"a password may have at most {MAX_PASSWORD_CHARS} characters")
    if "\x00" in password:
        raise AccountError("a password may not contain NUL characters")


def hash_password(password: str, params: PasswordParams = PasswordParams()) -> str:
    """The Argon2id hash of a password that passed `check_password`."""
    check_password(password)
    return params.hasher().hash(password)


def _audit(session: Session, kind: str, actor: str, **data: object) -> None:
    session.add(Event(ticket_id=None, kind=kind, actor=actor, data=dict(data)))


# Users ------------------------------------------------------------------------------------


def find_user(session: Session, email: str) -> UserAccount | None:
    """The account of this address, active or not."""
    try:
        address = normalise_email(email)
    except AccountError:
        return None
    return session.execute(
        select(UserAccount)
        .join(Person, UserAccount.person_id == Person.id)
        .where(Person.email == address)
    ).scalar_one_or_none()


def get_user(session: Session, user_id: int) -> UserAccount:
    """The account with this id."""
    user = session.get(UserAccount, user_id)
    if user is None:
        raise UnknownUserError(f"no account #{user_id}")
    return user


def list_users(session: Session) -> list[UserAccount]:
    """Every account, by e-mail address."""
    return list(
        session.execute(
            select(UserAccount)
            .join(Person, UserAccount.person_id == Person.id)
            .order_by(Person.email)
        ).scalars()
    )


def create_user(
    session: Session,
    email: str,
    *,
    role: Role | str,
    password: str,
    name: str = "",
    group: str = "",
    actor: str = "system",
    params: PasswordParams = PasswordParams(),
) -> UserAccount:
    """A new account for a (new or known) person."""
    address = normalise_email(email)
    role = Role(role)
    name = _clean_line(name, limit=200, what="name")
    group = _clean_line(group, limit=100, what="group")
    password_hash = hash_password(password, params)
    person = session.execute(select(Person).where(Person.email == address)).scalar_one_or_none()
    if person is None:
        person = Person(email=address, name=name)
        session.add(person)
        session.flush()
    else:
        exists = session.execute(
            select(UserAccount.id).where(UserAccount.person_id == person.id)
        ).first()
        if exists is not None:
            raise UserExistsError(f"{address} has an account already")
        if name:
            person.name = name
    user = UserAccount(
        person_id=person.id, role=role, password_hash=password_hash, active=True, group=group
    )
    session.add(user)
    session.flush()
    _audit(session, "user_created", actor, user=address, role=str(role), group=group)
    return user


def _active_admins(session: Session) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(UserAccount)
            .where(UserAccount.role == Role.ADMIN, UserAccount.active.is_(True))
        ).scalar_one()
    )


def update_user(
    session: Session,
    user_id: int,
    *,
    actor: str,
    role: Role | str | None = None,
    active: bool | None = None,
    group: str | None = None,
    name: str | None = None,
) -> UserAccount:
    """Change an account's role, group, name or whether it may sign in.

    The last active admin cannot be demoted or deactivated: nobody could undo it.
    Deactivating ends the account's sessions at once.
    """
    user = get_user(session, user_id)
    # Everything is checked before anything changes: a refusal leaves the account as it was.
    new_role = Role(role) if role is not None else Role(user.role)
    new_active = user.active if active is None else active
    new_group = user.group if group is None else _clean_line(group, limit=100, what="group")
    new_name = user.person.name if name is None else _clean_line(name, limit=200, what="name")
    if (
        user.active
        and user.role == Role.ADMIN
        and not (new_active and new_role == Role.ADMIN)
        and _active_admins(session) <= 1
    ):
        raise LastAdminError("this is the last active admin account; appoint another admin first")
    changes: dict[str, object] = {}
    if new_role != user.role:
        changes["role"] = [str(user.role), str(new_role)]
        user.role = new_role
    if new_active != user.active:
        changes["active"] = [user.active, new_active]
        user.active = new_active
    if new_group != user.group:
        changes["group"] = [user.group, new_group]
        user.group = new_group
    if new_name != user.person.name:
        changes["name"] = [user.person.name, new_name]
        user.person.name = new_name
    if not changes:
        return user
    if not user.active:
        end_sessions(session, user.id)
    _audit(session, "user_updated", actor, user=user.person.email, changes=changes)
    return user


def set_password(
    session: Session,
    user_id: int,
    password: str,
    *,
    actor: str,
    params: PasswordParams = PasswordParams(),
) -> None:
    """Replace an account's password and end all of its sessions (a reset locks thieves out)."""
    user = get_user(session, user_id)
    user.password_hash = hash_password(password, params)
    end_sessions(session, user.id)
    _audit(session, "password_changed", actor, user=user.person.email)


def verify_password(
    session: Session, email: str, password: str, params: PasswordParams = PasswordParams()
) -> UserAccount | None:
    """The active account when the password is right, else None.

    Unknown addresses and inactive accounts cost one hash too, so response times do not tell
    which addresses have accounts. A hash made with weaker parameters than `params` is
    replaced on the way (the caller commits).
    """
    hasher = params.hasher()
    user = find_user(session, email)
    if user is None or not user.active or not user.password_hash:
        hasher.hash(password[:MAX_PASSWORD_CHARS] or "-")
        return None
    try:
        hasher.verify(user.password_hash, password[:MAX_PASSWORD_CHARS])
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def end_sessions(session: Session, user_id: int) -> int:
    """Sign an account out everywhere; returns how many sessions ended."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


# API tokens -------------------------------------------------------------------------------


def token_digest(secret: str) -> str:
    """What is stored of a token: its SHA-256 (the token has 256 random bits, see 0103)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_token(
    session: Session,
    user_id: int,
    *,
    name: str,
    actor: str,
    expires_at: datetime | None = None,
) -> NewToken:
    """A new Bearer token acting as the account `user_id`."""
    user = get_user(session, user_id)
    if not user.active:
        raise AccountError("the account is deactivated")
    label = _clean_line(name, limit=100, what="token name") or "token"
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(
        user_id=user.id,
        name=label,
        token_sha256=token_digest(secret),
        prefix=secret[:TOKEN_SHOWN_CHARS],
        created_by=actor,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    _audit(
        session,
        "api_token_created",
        actor,
        user=user.person.email,
        token=token.id,
        name=label,
        prefix=token.prefix,
    )
    return NewToken(token=token, secret=secret)


def list_api_tokens(session: Session, user_id: int | None = None) -> list[ApiToken]:
    """Tokens (revoked ones too), newest first."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.execute(query).scalars())


def revoke_api_token(session: Session, token_id: int, *, actor: str) -> ApiToken:
    """Make a token unusable from now on."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise AccountError(f"no API token #{token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        owner = get_user(session, token.user_id)
        _audit(
            session,
            "api_token_revoked",
            actor,
            user=owner.person.email,
            token=token.id,
            prefix=token.prefix,
        )
    return token


@dataclass(frozen=True)
class TokenOwner:
    """The account a valid token acts as; `stale` says `last_used_at` wants updating."""

    user: UserAccount
    token_id: int
    stale: bool


def verify_api_token(
    session: Session, secret: str, *, now: datetime | None = None
) -> TokenOwner | None:
    """The active account of a valid, unexpired, unrevoked token, else None (reads only)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    now = now or utcnow()
    token = session.execute(
        select(ApiToken).where(ApiToken.token_sha256 == token_digest(secret))
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    user = session.get(UserAccount, token.user_id)
    if user is None or not user.active:
        return None
    stale = token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL
    return TokenOwner(user=user, token_id=token.id, stale=stale)


def touch_api_token(session: Session, token_id: int, *, now: datetime | None = None) -> None:
    """Record that a token was used (at most once per `TOKEN_TOUCH_INTERVAL`)."""
    token = session.get(ApiToken, token_id)
    if token is not None:
        token.last_used_at = now or utcnow()


def users_by_role(users: Sequence[UserAccount], role: Role) -> list[UserAccount]:
    """The accounts that have at least `role` (e.g. who may be assigned tickets)."""
    return [u for u in users if u.active and role_at_least(u.role, role)]
