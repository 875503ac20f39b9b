"""The MIME parsing stage end to end: `load_message`, `extract` and `parse_mail`."""

from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from email.policy import compat32

from intake.limits import MailLimits
from intake.mime import extract, load_message, parse_mail
from intake.parsed import MailAddress, ParsedMail

RECEIVED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = MailLimits()


def parse(raw: bytes) -> ParsedMail:
    return parse_mail(raw, received_at=RECEIVED, limits=LIMITS)


HEAD = (
    b"From: =?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Example.COM>\n"
    b"To: Help Desk <help@example.com>, other@example.com\n"
    b'Cc: "Smith, Ann" <ann@example.com>\n'
    b"Reply-To: <replies@example.com>\n"
    b"Sender: <list@example.com>\n"
    b"Subject: =?utf-8?Q?Drucker_druckt_nicht?=\n  =?utf-8?Q?_mehr?=\n"
    b"Date: Fri, 28 Feb 2025 09:30:00 +0100\n"
    b"Message-ID: <abc-123@mail.example.com>\n"
    b"In-Reply-To: <prev@example.com>\n"
    b"References: <root@example.com> <prev@example.com>\n"
    b"MIME-Version: 1.0\n"
)


def test_load_message_gives_a_plain_compat32_message() -> None:
    message = load_message(HEAD + b"\nbody\n", LIMITS)
    assert type(message) is Message
    assert message.policy is compat32
    assert message["Subject"] is not None


def test_headers_addresses_ids_and_date() -> None:
    parsed = parse(HEAD + b"\nHello\n")
    assert parsed.subject == "Drucker druckt nicht mehr"
    assert parsed.from_ == MailAddress("Juergen@example.com", "Jürgen Müller")
    assert parsed.to == (
        MailAddress("help@example.com", "Help Desk"),
        MailAddress("other@example.com"),
    )
    assert parsed.cc == (MailAddress("ann@example.com", "Smith, Ann"),)
    assert parsed.reply_to == (MailAddress("replies@example.com"),)
    assert parsed.sender == MailAddress("list@example.com")
    assert parsed.message_id == "abc-123@mail.example.com"
    assert parsed.in_reply_to == ("prev@example.com",)
    assert parsed.references == ("root@example.com", "prev@example.com")
    assert parsed.date == datetime(2025, 2, 28, 8, 30, tzinfo=UTC)
    assert parsed.date_from_header
    assert parsed.header("subject") == "Drucker druckt nicht mehr"
    assert parsed.header_all("To") == ("Help Desk <help@example.com>, other@example.com",)
    assert parsed.text == "Hello"
    assert parsed.text_source == "text/plain"
    assert parsed.html_sanitized is None


def test_extract_of_a_loaded_message_equals_parse_mail() -> None:
    raw = HEAD + b"\nHello\n"
    loaded = load_message(raw, LIMITS)
    assert extract(loaded, received_at=RECEIVED, limits=LIMITS) == parse(raw)


def test_missing_or_garbage_date_falls_back_to_the_receive_time() -> None:
    for date_line in (b"", b"Date: someday\n", b"Date: Mon, 1 Jan 2035 10:00:00 +0000\n"):
        parsed = parse(b"From: a@example.com\n" + date_line + b"\nx\n")
        assert parsed.date == RECEIVED
        assert not parsed.date_from_header
    naive = parse_mail(b"\nx\n", received_at=datetime(2025, 1, 1), limits=LIMITS)
    assert naive.date == datetime(2025, 1, 1, tzinfo=UTC)


def test_receive_time_in_another_zone_is_given_in_utc() -> None:
    cet = datetime(2025, 3, 1, 13, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=1)))
    assert parse_mail(b"\nx\n", received_at=cet, limits=LIMITS).date == RECEIVED + timedelta(
        hours=1
    )


def multipart(subtype: str, *parts: bytes, params: bytes = b"") -> bytes:
    boundary = b"b-" + subtype.encode()
    body = b"".join(b"--" + boundary + b"\n" + part + b"\n" for part in parts)
    return (
        b"Content-Type: multipart/"
        + subtype.encode()
        + b'; boundary="'
        + boundary
        + b'"'
        + params
        + b"\n\n"
        + body
        + b"--"
        + boundary
        + b"--\n"
    )


PLAIN = b"Content-Type: text/plain; charset=utf-8\n\nPlain version\n"
HTML = b"Content-Type: text/html; charset=utf-8\n\n<p>HTML <b>version</b></p><script>x()</script>\n"


def test_alternative_prefers_text_plain_and_keeps_sanitised_html() -> None:
    parsed = parse(b"From: a@example.com\n" + multipart("alternative", PLAIN, HTML))
    assert parsed.text == "Plain version"
    assert parsed.text_source == "text/plain"
    assert parsed.html_sanitized == "<p>HTML <b>version</b></p>"


def test_empty_plain_alternative_uses_the_html() -> None:
    empty = b"Content-Type: text/plain\n\n \n"
    parsed = parse(b"From: a@example.com\n" + multipart("alternative", empty, HTML))
    assert parsed.text == "HTML version"
    assert parsed.text_source == "text/html"


def test_html_only_mail_is_converted() -> None:
    raw = (
        b"From: a@example.com\nContent-Type: text/html; charset=iso-8859-1\n\n"
        b"<div>Gr\xfc\xdfe<br>Anna</div>\n"
    )
    parsed = parse(raw)
    assert parsed.text == "Grüße\nAnna"
    assert parsed.text_source == "text/html"
    assert parsed.html_sanitized == "<div>Grüße<br>Anna</div>"


def test_related_images_referenced_by_cid_are_inline() -> None:
    html = b'Content-Type: text/html\n\n<p>Look: <img src="cid:shot@x"></p>\n'
    image = (
        b"Content-Type: image/png\nContent-ID: <shot@x>\nContent-Transfer-Encoding: base64\n\n"
        b"iVBORw0KGgo=\n"
    )
    unused = b'Content-Type: image/gif; name="logo.gif"\nContent-ID: <logo@x>\n\nGIF89a\n'
    related = multipart("related", html, image, unused)
    parsed = parse(b"From: a@example.com\n" + multipart("alternative", PLAIN, related))
    assert parsed.text == "Plain version"
    assert parsed.html_sanitized == '<p>Look: <img src="cid:shot@x"></p>'
    shot, logo = parsed.attachments
    assert (shot.filename, shot.content_id, shot.inline, shot.section) == (
        "image.png",
        "shot@x",
        True,
        "2.2",
    )
    assert (logo.filename, logo.inline) == ("logo.gif", False)


def test_interleaved_text_and_files_form_one_body() -> None:
    text = b"Content-Type: text/plain\n\n"
    pdf = b'Content-Type: application/pdf\nContent-Disposition: inline; filename="a.pdf"\n\n%PDF\n'
    raw = b"From: a@example.com\n" + multipart(
        "mixed",
        text + b"First",
        pdf,
        text + b"Second",
        b'Content-Type: text/plain; name="notes.txt"\n\nfile\n',
    )
    parsed = parse(raw)
    assert parsed.text == "First\nSecond"
    assert [a.filename for a in parsed.attachments] == ["a.pdf", "notes.txt"]


def test_signed_mail_body_and_signature() -> None:
    signature = b'Content-Type: application/pkcs7-signature; name="smime.p7s"\n\nSIG\n'
    parsed = parse(b"From: a@example.com\n" + multipart("signed", PLAIN, signature))
    assert parsed.text == "Plain version"
    assert [a.filename for a in parsed.attachments] == ["smime.p7s"]


def test_encrypted_mail_has_no_readable_body() -> None:
    control = b"Content-Type: application/pgp-encrypted\n\nVersion: 1\n"
    data = b'Content-Type: application/octet-stream; name="encrypted.asc"\n\n-----BEGIN PGP\n'
    parsed = parse(b"From: a@example.com\n" + multipart("encrypted", control, data))
    assert parsed.text == ""
    assert [a.filename for a in parsed.attachments] == ["attachment.asc", "encrypted.asc"]


def test_report_keeps_the_human_part_as_text() -> None:
    human = b"Content-Type: text/plain\n\nYour message could not be delivered.\n"
    status = (
        b"Content-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx\n\nAction: failed\nStatus: 5.1.1\n"
    )
    headers = b"Content-Type: text/rfc822-headers\n\nSubject: original\n"
    raw = b"From: MAILER-DAEMON\n" + multipart(
        "report", human, status, headers, params=b"; report-type=delivery-status"
    )
    parsed = parse(raw)
    assert parsed.text == "Your message could not be delivered."
    names = [(a.filename, a.content_type) for a in parsed.attachments]
    assert names == [
        ("message.txt", "message/delivery-status"),
        ("attachment.txt", "text/rfc822-headers"),
    ]
    assert b"Status: 5.1.1" in parsed.attachments[0].data
    assert parsed.from_ == MailAddress("MAILER-DAEMON")


def test_format_flowed_is_unwrapped() -> None:
    raw = (
        b"From: a@example.com\nContent-Type: text/plain; charset=utf-8; format=flowed\n\n"
        b"This paragraph was \nwrapped by the client.\n\n> quoted and \n> wrapped\n-- \nsig\n"
    )
    parsed = parse(raw)
    assert parsed.text == (
        "This paragraph was wrapped by the client.\n\n> quoted and wrapped\n-- \nsig"
    )


def test_text_is_never_empty_when_the_mail_has_a_body() -> None:
    for raw in (
        b"\nbody only, no headers\n",
        b"Content-Type: text/html\n\n<title>only a title</title>\n",
        b"Content-Type: text/plain; charset=x-unknown\n\n\xe4\xf6\xfc\n",
        b"Content-Type: multipart/mixed\n\nno boundary\n",
        b"Content-Type: text\n\nno subtype\n",
    ):
        assert parse(raw).text, raw


def test_mangled_header_block_is_mended() -> None:
    raw = (
        b"---- Original email message ----\n"
        b"Received: from a by b\nwith ESMTP; Thu, 2 Aug 2018 16:58:16 +0200\n"
        b"Subject: Contact\nFrom: x@example.cz\n\nThe body.\n"
    )
    parsed = parse(raw)
    assert parsed.subject == "Contact"
    assert parsed.from_ == MailAddress("x@example.cz")
    assert parsed.text == "The body."
    assert "StrayHeaderLinesDefect" in parsed.defects
    assert parsed.header("Received") == "from a by b with ESMTP; Thu, 2 Aug 2018 16:58:16 +0200"


def test_body_without_separating_blank_line_is_not_taken_for_header() -> None:
    parsed = parse(b"From: a@example.com\nSubject: s\nno separating line here\n")
    assert parsed.subject == "s"
    assert parsed.text == "no separating line here"


def test_eight_bit_headers_use_the_declared_charset() -> None:
    raw = (
        b'From: "\xce\xe4\xc0\xbc\xb3\xc9" <w@example.com>\nSubject: \xd5\xfb\xcc\xe5\n'
        b"Content-Type: text/plain; charset=gb2312\n\n\xc4\xe3\xba\xc3\n"
    )
    parsed = parse(raw)
    assert parsed.subject == "整体"
    assert parsed.from_ == MailAddress("w@example.com", "武兰成")
    assert parsed.text == "你好"


def test_named_inline_text_is_the_body_when_there_is_no_other() -> None:
    named = b'Content-Type: text/plain; name="message.txt"\nContent-Disposition: inline\n\nHi\n'
    image = b'Content-Type: image/gif; name="a.gif"\n\nGIF89a\n'
    parsed = parse(b"From: a@example.com\n" + multipart("mixed", named, image))
    assert parsed.text == "Hi"
    assert [a.filename for a in parsed.attachments] == ["message.txt", "a.gif"]
    with_body = parse(b"From: a@example.com\n" + multipart("mixed", PLAIN, named))
    assert with_body.text == "Plain version"


def test_alternative_inside_alternative() -> None:
    inner = multipart("alternative", PLAIN, HTML).replace(b"b-alternative", b"inner")
    parsed = parse(b"From: a@example.com\n" + multipart("alternative", inner))
    assert parsed.text == "Plain version"
    assert parsed.html_sanitized == "<p>HTML <b>version</b></p>"


def test_files_of_an_attached_message_keep_their_names() -> None:
    inner = (
        b"Subject: inner\n"
        + multipart("mixed", PLAIN, b'Content-Type: text/plain; name="log.txt"\n\nlog line\n')
    ).replace(b"b-mixed", b"inner-boundary")
    raw = b"From: a@example.com\n" + multipart(
        "mixed", b"Content-Type: text/plain\n\nouter", b"Content-Type: message/rfc822\n\n" + inner
    )
    parsed = parse(raw)
    assert parsed.text == "outer"
    assert [(a.filename, a.section) for a in parsed.attachments] == [
        ("inner.eml", "2"),
        ("log.txt", "2.2"),
    ]
