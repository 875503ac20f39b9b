"""Helpers of the web tests: a help desk with its web app, accounts, logins and tickets.

`Desk` bundles the application, its web app and a test client; tickets come in through the
real pipeline (`deskmail.inject.inject_bytes` with the intake stages), as mail would.
Passwords are hashed with cheap Argon2 parameters so the tests stay fast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from starlette.testclient import TestClient

from deskmail.accounts import PasswordParams, create_api_token, create_user
from deskmail.app import App
from deskmail.db import transaction
from deskmail.inject import inject_bytes
from deskmail.pipeline import Pipeline
from deskmail.web.app import DeskmailWeb, create_app
from deskmail.web.config import WebConfig, web_config
from deskmail.worker import Worker
from models import Role
from tests.conftest import HELPDESK

FAST_PASSWORDS = PasswordParams(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def fast_config(app: App, **changes: object) -> WebConfig:
    """The web configuration of `app` with cheap password hashing."""
    return replace(web_config(app.settings), passwords=FAST_PASSWORDS, **changes)  # type: ignore[arg-type]


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def mail(
    *,
    subject: str = "Printer on floor 3 is offline",
    body: str = "Hello,\n\nthe printer does not print since this morning.\n\nThanks, Alice",
    sender: str = "alice@example.com",
    sender_name: str = "Alice Example",
    html: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    inline_images: Sequence[tuple[str, str, bytes]] = (),
    cc: str | None = None,
) -> bytes:
    """A mail to the help desk; attachments are (file name, content type, bytes)."""
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender))
    message["To"] = HELPDESK
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
        html_part = message.get_payload()[-1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        for cid, content_type, data in inline_images:
            maintype, subtype = content_type.split("/")
            html_part.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{cid}>")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)


@dataclass
class Desk:
    """A help desk, its web app and a browser-like client."""

    app: App
    web: DeskmailWeb
    client: TestClient
    worker: Worker = field(init=False)

    def __post_init__(self) -> None:
        # The intake stages only: tickets appear exactly as mail makes them, without models.
        self.worker = Worker(self.app, Pipeline(self.app))

    @classmethod
    def open(cls, app: App, **config: object) -> Desk:
        web = create_app(app, fast_config(app, **config))
        return cls(app=app, web=web, client=TestClient(web, base_url="http://testserver"))

    def fresh_client(self, **kwargs: object) -> TestClient:
        """Another browser (no cookies)."""
        options: dict[str, object] = {"base_url": "http://testserver", **kwargs}
        return TestClient(self.web, **options)  # type: ignore[arg-type]

    def add_user(
        self, email: str, role: Role | str = Role.AGENT, *, name: str = "", password: str = PASSWORD
    ) -> int:
        with transaction(self.app.sessions) as db:
            user = create_user(
                db, email, role=role, password=password, name=name, params=FAST_PASSWORDS
            )
            return user.id

    def token_for(self, user_id: int, name: str = "test") -> str:
        with transaction(self.app.sessions) as db:
            return create_api_token(db, user_id, name=name, actor="test").secret

    def login(self, email: str, password: str = PASSWORD, client: TestClient | None = None) -> str:
        """Sign in through the form; returns the session's CSRF token."""
        browser = client or self.client
        page = browser.get("/login")
        response = browser.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return csrf_of(browser.get("/account").text)

    def ticket(self, raw: bytes | None = None, **kwargs: object) -> int:
        """A ticket from a mail through the intake pipeline; returns its number."""
        result = inject_bytes(self.app, self.worker, raw if raw is not None else mail(**kwargs))  # type: ignore[arg-type]
        assert result.ticket is not None, result.reason
        return result.ticket
