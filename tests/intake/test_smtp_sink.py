"""The SMTP sink test fixture (tests/servers/smtp.py) that later tests use as the relay."""

from __future__ import annotations

import smtplib

import pytest

from tests.servers.smtp import SmtpSink

RAW = b"From: desk@example.org\r\nTo: alice@example.com\r\nSubject: Ticket #1\r\n\r\nHello\r\n"


def test_the_sink_keeps_what_it_receives(smtp_sink: SmtpSink) -> None:
    assert smtp_sink.url == f"smtp://127.0.0.1:{smtp_sink.port}"
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        smtp.sendmail("desk@example.org", ["alice@example.com", "bob@example.com"], RAW)
    (mail,) = smtp_sink.wait_for(1)
    assert mail.mail_from == "desk@example.org"
    assert mail.rcpt_to == ("alice@example.com", "bob@example.com")
    assert mail.data == RAW
    assert mail.message()["Subject"] == "Ticket #1"
    smtp_sink.clear()
    assert smtp_sink.messages == []


def test_the_sink_answers_planned_failures(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("RCPT", "450 4.2.0 Mailbox busy")
    smtp_sink.fail_next("DATA", "554 5.6.0 Rejected")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail("desk@example.org", ["alice@example.com"], RAW)
        assert refused.value.recipients["alice@example.com"][0] == 450
        smtp.rset()
        with pytest.raises(smtplib.SMTPDataError) as rejected:
            smtp.sendmail("desk@example.org", ["alice@example.com"], RAW)
        assert rejected.value.smtp_code == 554
        smtp.sendmail("desk@example.org", ["alice@example.com"], RAW)
    assert len(smtp_sink.wait_for(1)) == 1
