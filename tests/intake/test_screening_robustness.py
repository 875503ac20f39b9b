"""Screening must return a verdict for any input: property tests over hostile mail."""

from __future__ import annotations

import email
from email.policy import compat32

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.screening import ScreeningConfig, ScreenKind, screen

CONFIG = ScreeningConfig(
    own_addresses=frozenset({"helpdesk@deskmail.example.org"}),
    message_id_domain="deskmail.example.org",
)

# Pieces that steer a mail into every detector: DSN structure, bounce phrases, auto headers.
HEADER_LINES = [
    "From: MAILER-DAEMON@mx.example.net",
    "From: <>",
    "From: Anna <anna@example.com>",
    "From: helpdesk@deskmail.example.org",
    "Return-Path: <>",
    "Subject: Undelivered Mail Returned to Sender",
    "Subject: Automatic reply: =?utf-8?B?w6TDtsO8?=",
    "Subject: =?unknown-8bit?Q?=FF=FE?=",
    "Auto-Submitted: auto-replied",
    "Precedence: bulk",
    "List-Id: <x.lists.example.com>",
    "X-Failed-Recipients: bob@example.net",
    "X-Loop: helpdesk@deskmail.example.org",
    "Message-ID: <a@deskmail.example.org>",
    "In-Reply-To: <",
    "Content-Type: multipart/report; report-type=delivery-status; boundary=B",
    "Content-Type: multipart/report; report-type=disposition-notification; boundary=B",
    "Content-Type: multipart/mixed; boundary=B",
    "Content-Type: text/html; charset=x-unknown",
    "Content-Transfer-Encoding: base64",
]
BODY_PIECES = [
    "--B\nContent-Type: message/delivery-status\n\n",
    "--B\nContent-Type: message/rfc822\n\n",
    "--B\nContent-Type: text/rfc822-headers\n\n",
    "--B\nContent-Type: message/feedback-report\n\n",
    "--B--\n",
    "Final-Recipient: rfc822; bob@example.net\n",
    "Original-Recipient: rfc822;|/usr/bin/procmail #x@y\n",
    "Action: failed\n",
    "Action: delayed\n",
    "Status: 5.1.1\n",
    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>... User unknown\n",
    "This is the qmail-send program at example.net.\n",
    "<bob@example.net>:\n",
    "Remote host said: 550 5.1.1 unknown\n",
    "--- Below this line is a copy of the message.\n",
    "Message-ID: <orig@deskmail.example.org>\n",
    "THIS IS A WARNING MESSAGE ONLY\n",
    '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{}]}}\n',
    "<script>",
    "\n",
    "(((((",
    "@@@@",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.sampled_from(HEADER_LINES), max_size=8),
    body=st.lists(st.one_of(st.sampled_from(BODY_PIECES), st.text(max_size=40)), max_size=30),
)
def test_screening_returns_a_verdict_for_any_mail(headers: list[str], body: list[str]) -> None:
    raw = ("\n".join(headers) + "\n\n" + "".join(body)).encode("utf-8", "surrogateescape")
    verdict = screen(email.message_from_bytes(raw, policy=compat32), CONFIG)
    assert isinstance(verdict.kind, ScreenKind)
    assert verdict.reason
    assert "\n" not in verdict.reason
    # The safety net in screen() must not be what answered: detectors handle bad input.
    assert not verdict.reason.startswith("screening failed"), verdict.reason
    if verdict.kind is ScreenKind.BOUNCE:
        assert verdict.bounce is not None
        assert all(r == r.lower() for r in verdict.bounce.recipients)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=3000))
def test_screening_survives_arbitrary_bytes(raw: bytes) -> None:
    verdict = screen(email.message_from_bytes(raw, policy=compat32), CONFIG)
    assert isinstance(verdict.kind, ScreenKind)
    assert not verdict.reason.startswith("screening failed"), verdict.reason
