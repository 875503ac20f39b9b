"""The MIME message: headers that thread, say "automatic", stop loops, and cannot be injected."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from responder.compose import Conversation, Identity, Recipient, compose
from responder.errors import AddressError
from responder.headers import clean_message_id, mailbox_address, new_message_id, references
from responder.mails import AutoSubmitted
from responder.rendering import RenderedMail
from responder.thread_index import conversation_guid, filetime, parse_thread_index, thread_index

IDENTITY = Identity("IT Help Desk", "help@example.org", "example.org")
WHEN = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
TOKEN = "t12-abcdefghijklmnopqrstuvwxyz"


def rendered(subject: str = "Re: [#12] VPN", text: str = "Hello\n") -> RenderedMail:
    return RenderedMail("acknowledgement", subject, text, f"<p>{text}</p>\n")


def build(
    *,
    subject: str = "Re: [#12] VPN",
    text: str = "Hello\n",
    auto: AutoSubmitted = AutoSubmitted.AUTO_REPLIED,
    conversation: Conversation | None = None,
    sender_name: str = "IT Help Desk",
    to: Recipient | None = None,
    cc: tuple[Recipient, ...] = (),
) -> tuple[bytes, EmailMessage]:
    message = compose(
        rendered(subject, text),
        identity=IDENTITY,
        sender_name=sender_name,
        to=to or Recipient("carol@example.com", "Carol Jones"),
        cc=cc,
        reply_to=f"help+{TOKEN}@example.org",
        message_id=new_message_id("example.org", TOKEN),
        conversation=conversation,
        auto_submitted=auto,
        date=WHEN,
    )
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def conversation(**changes: object) -> Conversation:
    values: dict[str, object] = {
        "ticket_number": 12,
        "topic": "VPN",
        "started_at": WHEN - timedelta(hours=1),
        "in_reply_to": "abc@client.example.com",
        "references": ("abc@client.example.com",),
    }
    values.update(changes)
    return Conversation(**values)  # type: ignore[arg-type]


def test_headers_of_an_automatic_reply() -> None:
    raw, message = build(conversation=conversation())
    assert message["From"] == "IT Help Desk <help@example.org>"
    assert message["To"] == "Carol Jones <carol@example.com>"
    assert message["Reply-To"] == f"help+{TOKEN}@example.org"
    assert message["Subject"] == "Re: [#12] VPN"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Precedence"] == "bulk"
    assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert message["X-Loop"] == "help@example.org"
    assert message["In-Reply-To"] == "<abc@client.example.com>"
    assert message["References"] == "<abc@client.example.com>"
    assert message["Thread-Topic"] == "VPN"
    assert message["Date"] == "Tue, 14 May 2024 09:30:00 +0000"
    assert message["List-Unsubscribe"] is None
    local = message["Message-ID"].strip("<>").partition("@")[0]
    assert local.startswith(f"{TOKEN}.")
    assert len(local) > len(TOKEN) + 16
    assert message["Message-ID"].endswith("@example.org>")
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content_charset() == "utf-8"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert all(byte < 128 for byte in raw)  # 7-bit: no relay needs 8BITMIME


def test_person_sent_mail_has_no_auto_headers() -> None:
    _, message = build(auto=AutoSubmitted.NO, sender_name="Alice Smith (IT Help Desk)")
    assert message["Auto-Submitted"] is None
    assert message["Precedence"] is None
    assert message["From"] == '"Alice Smith (IT Help Desk)" <help@example.org>'
    assert message["X-Loop"] == "help@example.org"
    _, generated = build(auto=AutoSubmitted.AUTO_GENERATED)
    assert generated["Auto-Submitted"] == "auto-generated"
    assert generated["Precedence"] is None  # an urgent notification is not bulk
    assert generated["X-Auto-Response-Suppress"] == "OOF, AutoReply"


def test_encoded_crlf_and_bcc_in_a_subject_inject_no_header() -> None:
    # What intake decodes from "=?utf-8?q?Hi=0D=0ABcc:_victim@example.com?=", and worse.
    hostile = "Hi\r\nBcc: victim@example.com\r\n\r\nbody\nX-Evil: 1\u2028Cc: x@example.com"
    raw, message = build(subject=hostile, sender_name="Eve\r\nBcc: victim@example.com")
    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert message["Cc"] is None
    assert b"\r\nBcc:" not in raw
    assert b"\nBcc:" not in raw
    assert "Bcc: victim@example.com" in message["Subject"]  # kept, as harmless text
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    names = [
        line.split(b":", 1)[0] for line in header_block.split(b"\r\n") if line[:1] not in b" \t"
    ]
    assert names.count(b"Subject") == 1
    assert b"Bcc" not in names


def test_non_ascii_subject_and_names_are_encoded() -> None:
    raw, message = build(
        subject="Re: [#12] Grüße – Drucker 打印机", to=Recipient("carol@example.com", "Zoë Çelik")
    )
    assert message["Subject"] == "Re: [#12] Grüße – Drucker 打印机"
    assert message["To"] == "Zoë Çelik <carol@example.com>"
    assert b"[#12]" in raw  # the tag stays readable even to tools that do not decode RFC 2047


def test_long_body_lines_are_encoded_within_limits() -> None:
    raw, message = build(text="é" + "x" * 5000 + "\n")
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert all(len(line) <= 78 for line in body.split(b"\r\n"))  # RFC 2045 §6.7: 76 + "="
    text = next(iter(message.iter_parts()))
    assert text["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert text.get_content().replace("\r\n", "\n") == "é" + "x" * 5000 + "\n"


def test_references_are_capped_keeping_root_and_newest() -> None:
    ids = tuple(f"m{i}@client.example.com" for i in range(60))
    _, message = build(conversation=conversation(references=ids, in_reply_to=ids[-1]))
    kept = message["References"].split()
    assert len(kept) == 20
    assert kept[0] == "<m0@client.example.com>"
    assert kept[-1] == "<m59@client.example.com>"
    assert message["In-Reply-To"] == "<m59@client.example.com>"


def test_long_ids_are_folded_between_ids_never_encoded() -> None:
    long_id = "a" * 200 + "@client.example.com"
    ids = tuple(f"{i}{long_id}" for i in range(5))
    raw, message = build(conversation=conversation(references=ids, in_reply_to=ids[-1]))
    assert b"=?" not in raw.split(b"\r\n\r\n", 1)[0].replace(b"=?utf-8?", b"")  # no encoded ids
    assert message["In-Reply-To"] == f"<{ids[-1]}>"
    assert [r.strip("<>") for r in message["References"].split()] == list(ids)


def test_unusable_ids_from_mail_are_dropped() -> None:
    assert clean_message_id("<ok@example.com>") == "ok@example.com"
    assert clean_message_id("bad id@example.com") is None
    assert clean_message_id("evil@example.com>\r\nBcc: x@y") is None
    assert clean_message_id("x" * 300 + "@example.com") is None
    assert references(["<a@x>", "bad", "<a@x>", "b@x"], 20) == ["a@x", "b@x"]


def test_reply_tokens_must_be_token_shaped() -> None:
    assert new_message_id("example.org", TOKEN).startswith(f"{TOKEN}.")
    assert "." not in new_message_id("example.org").partition("@")[0]
    for bad in ("t1.x", "t1 x", "t1\r\nBcc: x", "", "a@b"):
        with pytest.raises(AddressError):
            new_message_id("example.org", bad)


def test_addresses_are_checked() -> None:
    assert mailbox_address(" carol@example.com ") == "carol@example.com"
    assert mailbox_address("carol@bücher.example") == "carol@xn--bcher-kva.example"
    for bad in (
        "carol",
        "@example.com",
        "a b@example.com",
        "a@b@",
        "jürgen@example.com",
        "carol@example.com\r\nBcc: x@y",
        "x@-bad-.com",
        "a..b@example.com",
    ):
        with pytest.raises(AddressError):
            mailbox_address(bad)


def test_thread_index_has_a_stable_root_and_one_child_per_reply() -> None:
    started = WHEN - timedelta(days=1)
    first = parse_thread_index(thread_index("example.org", 12, started, [WHEN]))
    second = parse_thread_index(
        thread_index("example.org", 12, started, [WHEN, WHEN + timedelta(hours=3)])
    )
    other_ticket = parse_thread_index(thread_index("example.org", 13, started, [WHEN]))
    assert first.guid == second.guid == conversation_guid("example.org", 12)
    assert other_ticket.guid != first.guid
    assert first.header_ticks == second.header_ticks == filetime(started) >> 24 << 24
    assert len(first.child_ticks) == 1
    assert len(second.child_ticks) == 2
    assert first.child_ticks[0] == second.child_ticks[0]  # earlier levels do not change
    # Each child holds its time difference to the header, truncated to 2**18 ticks (26 ms).
    for ticks, moment in zip(second.child_ticks, [WHEN, WHEN + timedelta(hours=3)], strict=True):
        expected = filetime(moment) - second.header_ticks
        assert 0 <= expected - ticks < (1 << 18) + (1 << 24)


def test_thread_index_uses_the_long_delta_code_after_two_years() -> None:
    started = WHEN - timedelta(days=800)
    parsed = parse_thread_index(thread_index("example.org", 12, started, [WHEN]))
    expected = filetime(WHEN) - parsed.header_ticks
    assert 0 <= expected - parsed.child_ticks[0] < (1 << 23) + (1 << 24)


def test_thread_index_header_on_the_mail() -> None:
    _, message = build(conversation=conversation(earlier_replies=(WHEN - timedelta(minutes=5),)))
    parsed = parse_thread_index(message["Thread-Index"])
    assert parsed.guid == conversation_guid("example.org", 12)
    assert len(parsed.child_ticks) == 2
