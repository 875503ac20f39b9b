"""Hostile mail against the MIME parsing stage: every input ends as a safe parse or quarantine.

Each case states its expected outcome: a `MailQuarantined` with a given reason, or a parse
whose result is safe to store and show (no line breaks in header values, no control
characters, file names that are only names). Nothing else may ever be raised.
"""

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.errors import MailQuarantined, QuarantineReason
from intake.limits import MIB, MailLimits
from intake.mime import load_message, parse_mail
from intake.parsed import ParsedMail

RECEIVED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = MailLimits()


def parse(raw: bytes, limits: MailLimits = LIMITS) -> ParsedMail:
    parsed = parse_mail(raw, received_at=RECEIVED, limits=limits)
    assert_safe(parsed)
    return parsed


def quarantine_reason(raw: bytes, limits: MailLimits = LIMITS) -> QuarantineReason:
    with pytest.raises(MailQuarantined) as caught:
        parse_mail(raw, received_at=RECEIVED, limits=limits)
    assert caught.value.text
    return caught.value.reason


def assert_single_line(value: str) -> None:
    assert not any(ch in value for ch in "\r\n\x00\x0b\x0c\x85\u2028\u2029"), repr(value)
    assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) < 0xA0 for ch in value), repr(value)


def assert_safe(parsed: ParsedMail) -> None:
    assert_single_line(parsed.subject)
    for name, value in parsed.headers:
        assert_single_line(name)
        assert_single_line(value)
    people = [parsed.from_, parsed.sender, *parsed.to, *parsed.cc, *parsed.reply_to]
    for address in people:
        if address is not None:
            assert_single_line(address.email)
            assert_single_line(address.name)
    for ident in (parsed.message_id or "", *parsed.references, *parsed.in_reply_to):
        assert_single_line(ident)
        assert " " not in ident
    for attachment in parsed.attachments:
        name = attachment.filename
        assert_single_line(name)
        assert name
        assert "/" not in name
        assert "\\" not in name
        assert not name.startswith(".")
        assert len(name.encode("utf-8")) <= 255
        assert not any(
            ch in name for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        )
        if attachment.content_id is not None:
            assert_single_line(attachment.content_id)
    assert "\x00" not in parsed.text
    assert "\r" not in parsed.text
    if parsed.html_sanitized:
        lowered = parsed.html_sanitized.lower()
        assert "<script" not in lowered
        assert "javascript:" not in lowered
        assert " onerror" not in lowered
        assert " onload" not in lowered
    assert parsed.date.tzinfo is not None


def simple(headers: str = "", body: bytes = b"Hello\n") -> bytes:
    base = "From: Alice <alice@example.com>\nTo: help@example.com\nSubject: Test\n"
    return (base + headers).encode() + b"\n" + body


def with_file(filename_header: str, data: bytes = b"payload") -> bytes:
    content_type = (
        ""
        if filename_header.startswith("Content-Type")
        else ("Content-Type: application/octet-stream\n")
    )
    return (
        b"From: a@example.com\nTo: help@example.com\nSubject: file\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nSee attached.\n"
        b"--b\n"
        + content_type.encode()
        + filename_header.encode("utf-8")
        + b"\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(data)
        + b"--b--\n"
    )


# -- size and count limits ------------------------------------------------------------------


def test_over_size_mail_is_quarantined_before_parsing() -> None:
    raw = simple(body=b"x" * (LIMITS.max_total_bytes + 1))
    assert quarantine_reason(raw) == QuarantineReason.TOO_LARGE


def test_size_limit_is_configurable() -> None:
    limits = MailLimits(max_total_bytes=1000)
    assert quarantine_reason(simple(body=b"y" * 2000), limits) == QuarantineReason.TOO_LARGE
    assert parse(simple(body=b"y" * 500), limits).text == "y" * 500


def test_header_field_flood_is_quarantined() -> None:
    raw = simple(headers="X-Flood: a\n" * (LIMITS.max_header_fields + 10))
    assert quarantine_reason(raw) == QuarantineReason.HEADER_TOO_LARGE


def test_header_bytes_flood_is_quarantined() -> None:
    raw = simple(headers=("X-Big: " + "b" * 990 + "\n") * 300)
    assert quarantine_reason(raw) == QuarantineReason.HEADER_TOO_LARGE


def test_huge_single_header_line_over_the_limit_is_quarantined() -> None:
    raw = simple(headers="X-Long: " + "z" * (LIMITS.max_header_bytes + 1) + "\n")
    assert quarantine_reason(raw) == QuarantineReason.HEADER_TOO_LARGE


def test_long_subject_under_the_limit_parses_and_is_capped() -> None:
    raw = b"From: a@example.com\nSubject: " + b"s" * 100_000 + b"\n\nbody\n"
    parsed = parse(raw)
    assert parsed.subject == "s" * LIMITS.max_header_value_chars
    assert parsed.text == "body"


def test_folded_header_flood_counts_bytes_not_fields() -> None:
    raw = simple(headers="X-Folded: a\n" + " continued line\n" * 20_000)
    assert quarantine_reason(raw) == QuarantineReason.HEADER_TOO_LARGE


def test_address_flood_in_one_header_is_quarantined() -> None:
    to = ", ".join(f"user{n}@example.com" for n in range(LIMITS.max_addresses_per_header + 1))
    assert quarantine_reason(simple(headers=f"Cc: {to}\n")) == QuarantineReason.TOO_MANY_ADDRESSES


def test_address_flood_across_headers_is_quarantined() -> None:
    def field(name: str, start: int) -> str:
        return f"{name}: " + ", ".join(f"u{n}@example.com" for n in range(start, start + 400))

    headers = "\n".join([field("Cc", 0), field("Bcc", 400), field("Resent-To", 800)]) + "\n"
    assert quarantine_reason(simple(headers=headers)) == QuarantineReason.TOO_MANY_ADDRESSES


def test_many_addresses_below_the_limits_parse() -> None:
    cc = ", ".join(f"User {n} <user{n}@example.com>" for n in range(200))
    parsed = parse(simple(headers=f"Cc: {cc}\n"))
    assert len(parsed.cc) == 200
    assert parsed.cc[199].email == "user199@example.com"


def nested_multipart(depth: int) -> bytes:
    head = b"From: a@example.com\nSubject: deep\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (n, n) for n in range(depth)
    )
    closing = b"".join(b"\n--b%d--\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\n\ninnermost\n" + closing


def nested_messages(depth: int) -> bytes:
    head = b"From: a@example.com\nSubject: deep\n"
    chain = b"".join(
        b"Content-Type: message/rfc822\n\nSubject: level %d\n" % n for n in range(depth)
    )
    return head + chain + b"Content-Type: text/plain\n\ninnermost\n"


@pytest.mark.parametrize("depth", [LIMITS.max_mime_depth + 1, 300, 1000])
def test_deep_multipart_nesting_is_quarantined(depth: int) -> None:
    assert quarantine_reason(nested_multipart(depth)) == QuarantineReason.MIME_TOO_DEEP


@pytest.mark.parametrize("depth", [LIMITS.max_mime_depth + 1, 1000])
def test_deep_message_rfc822_nesting_is_quarantined(depth: int) -> None:
    assert quarantine_reason(nested_messages(depth)) == QuarantineReason.MIME_TOO_DEEP


def test_nesting_within_the_limit_parses() -> None:
    parsed = parse(nested_multipart(20))
    assert parsed.text == "innermost"


def test_hundred_thousand_parts_are_quarantined_quickly() -> None:
    raw = (
        b'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n'
        + b"--b\nContent-Type: text/plain\n\nx\n" * 100_000
        + b"--b--\n"
    )
    started = datetime.now(UTC)
    assert quarantine_reason(raw) == QuarantineReason.TOO_MANY_PARTS
    assert (datetime.now(UTC) - started).total_seconds() < 5


def test_parse_time_budget_quarantines() -> None:
    limits = MailLimits(parse_time_budget_seconds=1e-9)
    assert quarantine_reason(simple(body=b"a" * 200_000), limits) == QuarantineReason.PARSE_TIMEOUT


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        MailLimits(max_parts=0)


# -- broken structure -----------------------------------------------------------------------


def test_wrong_boundary_keeps_the_content_as_text() -> None:
    raw = (
        b'From: a@example.com\nContent-Type: multipart/mixed; boundary="declared"\n\n'
        b"--other\nContent-Type: text/plain\n\nThe real text.\n--other--\n"
    )
    parsed = parse(raw)
    assert "The real text." in parsed.text


def test_missing_boundary_parameter_keeps_the_content() -> None:
    raw = b"From: a@example.com\nContent-Type: multipart/mixed\n\nJust text after all.\n"
    parsed = parse(raw)
    assert parsed.text == "Just text after all."
    assert "NoBoundaryInMultipartDefect" in parsed.defects


def test_missing_close_boundary_keeps_all_parts() -> None:
    raw = (
        b'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nfirst\n"
        b'--b\nContent-Type: application/pdf; name="doc.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
    )
    parsed = parse(raw)
    assert parsed.text == "first"
    assert [a.filename for a in parsed.attachments] == ["doc.pdf"]
    assert parsed.attachments[0].data == b"%PDF-1.4\n"


def test_boundary_that_never_ends_a_line() -> None:
    raw = b'From: a@example.com\nContent-Type: multipart/alternative; boundary=""\n\n--\n\n--\n'
    parse(raw)


def test_invalid_base64_is_decoded_as_far_as_possible() -> None:
    raw = simple(headers="Content-Transfer-Encoding: base64\n", body=b"SGVsbG8g!!d29y*bGQ=\n===\n")
    parsed = parse(raw)
    assert parsed.text == "Hello world"
    assert "invalid_base64" in parsed.defects


def test_base64_with_stray_spaces_in_the_encoding_name() -> None:
    raw = simple(headers="Content-Transfer-Encoding: Base64 ; x=y\n", body=b"SGVsbG8=\n")
    assert parse(raw).text == "Hello"


def test_invalid_quoted_printable_keeps_the_bytes() -> None:
    raw = simple(
        headers=(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n"
        ),
        body=b"Gr=C3=BC=C3=9Fe =ZZ and =\n soft =E2=82=AC=\n",
    )
    parsed = parse(raw)
    assert parsed.text.startswith("Grüße =ZZ and  soft €")


def test_nul_bytes_are_removed_from_headers_and_body() -> None:
    raw = b"From: a\x00b <ab@example.com>\nSubject: hi\x00there\nX-Nul: \x00\x00\n\nbo\x00dy\x00\n"
    parsed = parse(raw)
    assert parsed.text == "body"
    assert parsed.subject == "hithere"
    assert parsed.from_ is not None
    assert parsed.from_.name == "ab"


def test_binary_garbage_parses_safely() -> None:
    garbage = bytes(range(256)) * 64
    parse(garbage)
    parse(b"\n\n" + garbage)


def test_empty_input_parses_to_an_empty_mail() -> None:
    parsed = parse(b"")
    assert parsed.text == ""
    assert parsed.from_ is None
    assert not parsed.date_from_header


# -- names and header injection -------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Content-Disposition: attachment; filename="../../etc/passwd"', "passwd"),
        ('Content-Disposition: attachment; filename="C:\\\\x\\\\y.exe"', "y.exe"),
        ("Content-Disposition: attachment; filename*=utf-8''..%2F..%2Froot%2F.ssh", "ssh"),
        ('Content-Disposition: attachment; filename="=?utf-8?Q?a=0D=0Ab.txt?="', "a b.txt"),
        ('Content-Disposition: attachment; filename="=?utf-8?Q?=2E=2E=2Fx?="', "x"),
        ("Content-Disposition: attachment; filename*=utf-8''evil%E2%80%AEgpj.exe", "evilgpj.exe"),
        ('Content-Disposition: attachment; filename=".htaccess"', "htaccess"),
        ('Content-Disposition: attachment; filename=".."', "attachment.bin"),
        ('Content-Disposition: attachment; filename="a\tb\x01c.pdf"', "a bc.pdf"),
        ('Content-Type: application/octet-stream; name="/etc/shadow"', "shadow"),
    ],
)
def test_path_like_and_control_file_names_become_plain_names(header: str, expected: str) -> None:
    parsed = parse(with_file(header))
    (attachment,) = parsed.attachments
    assert attachment.filename == expected
    assert attachment.data == b"payload"


def test_overlong_file_name_is_capped_and_keeps_its_extension() -> None:
    header = 'Content-Disposition: attachment; filename="' + "Ä" * 400 + '.pdf"'
    (attachment,) = parse(with_file(header)).attachments
    assert attachment.filename.endswith(".pdf")
    assert len(attachment.filename.encode("utf-8")) <= 255


def test_encoded_word_with_crlf_cannot_inject_a_header() -> None:
    raw = (
        b"From: =?utf-8?Q?Eve=0D=0ABcc:_victim@example.com?= <eve@example.com>\n"
        b"To: help@example.com\n"
        b"Subject: =?utf-8?Q?Hello=0D=0ABcc:_victim@example.com=0D=0A=0D=0Abody?=\n"
        b"Reply-To: =?utf-8?B?DQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?= <r@example.com>\n\n"
        b"text\n"
    )
    parsed = parse(raw)
    assert parsed.subject == "Hello Bcc: victim@example.com body"
    assert parsed.from_ is not None
    assert parsed.from_.email == "eve@example.com"
    assert parsed.from_.name == "Eve Bcc: victim@example.com"
    assert [a.email for a in parsed.reply_to] == ["r@example.com"]
    assert parsed.header("Bcc") is None


def test_unicode_line_separators_in_headers_become_spaces() -> None:
    subject = "=?utf-8?B?" + base64.b64encode("a\u2028b\u0085c".encode()).decode() + "?="
    parsed = parse(
        simple(headers=f"X-Subject-Copy: {subject}\n").replace(
            b"Subject: Test", b"Subject: " + subject.encode()
        )
    )
    assert parsed.subject == "a b c"


def test_message_ids_with_injection_are_dropped() -> None:
    raw = simple(headers="Message-ID: <a b@example.com>\nReferences: <ok@example.com> <x\x00y@z>\n")
    parsed = parse(raw)
    assert parsed.message_id is None
    assert parsed.references == ("ok@example.com", "xy@z")


def test_load_message_raises_only_quarantine() -> None:
    with pytest.raises(MailQuarantined):
        load_message(b"a" * (2 * MIB), MailLimits(max_total_bytes=MIB))


# -- anything at all ------------------------------------------------------------------------

_PIECES = [
    b"From: a@example.com\n",
    b"Subject: =?utf-8?B?w6Q=?=\n",
    b'Content-Type: multipart/mixed; boundary="b"\n',
    b"Content-Type: message/rfc822\n",
    b"Content-Type: text/html; charset=x-unknown\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b'Content-Disposition: attachment; filename="../x"\n',
    b"\n",
    b"--b\n",
    b"--b--\n",
    b"<script>alert(1)</script><img src=x onerror=alert(1)>\n",
    b"begin 644 a.txt\n#86)C\n`\nend\n",
    b"=?gb2312?B?xOO6ww==?=\n",
    b"\xff\xfe\x00\x80\xc3\n",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES) | st.binary(max_size=40), max_size=30))
def test_any_mail_parses_safely_or_is_quarantined(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    try:
        parsed = parse_mail(raw, received_at=RECEIVED, limits=LIMITS)
    except MailQuarantined:
        return
    assert_safe(parsed)
