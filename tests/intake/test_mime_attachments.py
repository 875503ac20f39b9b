"""Attachments in the MIME parsing stage: names, uuencode, TNEF and attached messages."""

import base64
import binascii
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake.attachments import (
    extract_uuencoded,
    fallback_filename,
    sanitize_filename,
    unpack_tnef,
)
from intake.limits import MailLimits
from intake.mime import parse_mail
from intake.parsed import ParsedAttachment, ParsedMail

TNEF_EXAMPLES = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "mail" / "tnef" / "examples"
)
RECEIVED = datetime(2025, 3, 1, tzinfo=UTC)


def parse(raw: bytes) -> ParsedMail:
    return parse_mail(raw, received_at=RECEIVED, limits=MailLimits())


def uuencode(name: str, data: bytes) -> bytes:
    lines = [binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)]
    return f"begin 644 {name}\n".encode() + b"".join(lines) + b"`\nend\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("D:evil.exe", "evil.exe"),
        ("  spaced  name .txt ", "spaced  name .txt"),
        ("Tax Invoice  INX4183.PDF", "Tax Invoice  INX4183.PDF"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("line\r\nbreak.txt", "line break.txt"),
        ("...", "fallback.bin"),
        ("", "fallback.bin"),
        (None, "fallback.bin"),
        ("Cafe\u0301.txt", "Café.txt"),
    ],
)
def test_sanitize_filename(name: str | None, expected: str) -> None:
    assert sanitize_filename(name, "fallback.bin") == expected


def test_sanitize_filename_caps_bytes_and_keeps_extension() -> None:
    name = sanitize_filename("Картинка" * 40 + ".png", "f")
    assert name.endswith(".png")
    assert len(name.encode()) <= 255
    name.encode("utf-8")  # no split character


def test_fallback_names() -> None:
    assert fallback_filename("image/png", content_id="image001.png@01D2", description=None) == (
        "image001.png"
    )
    assert fallback_filename("image/jpeg", content_id="abc@home", description=None) == "image.jpg"
    assert fallback_filename("video/quicktime", content_id=None, description=None) == "video.mov"
    assert (
        fallback_filename("message/delivery-status", content_id=None, description="Report")
        == "Report.txt"
    )
    assert fallback_filename("application/x-nothing", content_id=None, description=None) == (
        "attachment.bin"
    )


def test_uuencoded_blocks_are_cut_out_of_text() -> None:
    body = b"Hello,\n\n" + uuencode("notes.txt", b"Hello Zammad\n" * 10) + b"\nBye\n"
    remaining, files = extract_uuencoded(body)
    assert [f.filename for f in files] == ["notes.txt"]
    assert files[0].data == b"Hello Zammad\n" * 10
    assert b"begin" not in remaining
    assert b"Bye" in remaining


def test_uuencoded_attachment_in_a_mail_body() -> None:
    raw = b"From: a@example.com\nSubject: uu\n\nSee the file.\n\n" + uuencode(
        "../a.bin", b"\x00\x01"
    )
    parsed = parse(raw)
    assert parsed.text == "See the file."
    (attachment,) = parsed.attachments
    assert (attachment.filename, attachment.data, attachment.origin) == (
        "a.bin",
        b"\x00\x01",
        "uuencode",
    )


def test_x_uuencode_transfer_encoding_without_begin_line() -> None:
    encoded = binascii.b2a_uu(b"Hello Zammad")
    raw = (
        b'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nbody\n"
        b"--b\nContent-Type: application/msword\n"
        b'Content-Disposition: attachment; filename="c.txt"\n'
        b"Content-Transfer-Encoding: x-uuencode\n\n" + encoded + b"`\n--b--\n"
    )
    (attachment,) = parse(raw).attachments
    assert (attachment.filename, attachment.data) == ("c.txt", b"Hello Zammad")


def tnef_mail(stream: bytes, body: bytes = b"") -> bytes:
    text_part = b"--b\nContent-Type: text/plain\n\n" + body + b"\n" if body else b""
    return (
        b'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n'
        + text_part
        + b'--b\nContent-Type: application/ms-tnef; name="winmail.dat"\n'
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(stream) + b"--b--\n"
    )


@pytest.mark.skipif(not TNEF_EXAMPLES.is_dir(), reason="shared TNEF samples not present")
def test_tnef_is_unpacked() -> None:
    stream = (TNEF_EXAMPLES / "two-files.tnef").read_bytes()
    contents = unpack_tnef(stream, max_body_bytes=1 << 20)
    assert contents is not None
    assert [f.filename for f in contents.files] == ["AUTHORS", "README"]
    parsed = parse(tnef_mail(stream, body=b"Outlook body"))
    assert parsed.text == "Outlook body"
    assert [(a.filename, a.origin) for a in parsed.attachments] == [
        ("AUTHORS", "tnef"),
        ("README", "tnef"),
    ]


@pytest.mark.skipif(not TNEF_EXAMPLES.is_dir(), reason="shared TNEF samples not present")
def test_tnef_body_is_the_text_when_the_mail_has_none() -> None:
    parsed = parse(tnef_mail((TNEF_EXAMPLES / "triples.tnef").read_bytes()))
    assert parsed.text == "Sample description"
    assert parsed.text_source == "application/ms-tnef"


def test_broken_tnef_stays_a_plain_attachment() -> None:
    stream = b"\x78\x9f\x3e\x22" + b"\xff" * 40  # the signature, then garbage
    assert unpack_tnef(b"not tnef at all", max_body_bytes=100) is None
    parsed = parse(tnef_mail(b"not tnef at all", body=b"text"))
    (attachment,) = parsed.attachments
    assert (attachment.filename, attachment.data) == ("winmail.dat", b"not tnef at all")
    assert "invalid_tnef" in parsed.defects
    parse(tnef_mail(stream))


def forwarded(inner: bytes, disposition: bytes = b"") -> bytes:
    return (
        b'From: a@example.com\nSubject: Fwd\nContent-Type: multipart/mixed; boundary="outer"\n\n'
        b"--outer\nContent-Type: text/plain\n\nPlease look at this.\n"
        b"--outer\nContent-Type: message/rfc822\n" + disposition + b"\n" + inner + b"\n--outer--\n"
    )


INNER = (
    b"From: Bob <bob@example.com>\nSubject: =?utf-8?Q?Printer_kaputt_=E2=9C=94?=\n"
    b'Content-Type: multipart/mixed; boundary="inner"\n\n'
    b"--inner\nContent-Type: text/plain\n\nThe printer is broken.\n"
    b'--inner\nContent-Type: image/png; name="shot.png"\nContent-Transfer-Encoding: base64\n\n'
    b"iVBORw0KGgo=\n--inner--\n"
)


def test_attached_message_is_kept_whole_and_its_files_extracted() -> None:
    parsed = parse(forwarded(INNER))
    assert parsed.text == "Please look at this."
    message, image = parsed.attachments
    assert (message.filename, message.content_type, message.origin) == (
        "Printer kaputt ✔.eml",
        "message/rfc822",
        "message",
    )
    assert message.section == "2"
    assert (image.filename, image.section, image.data) == ("shot.png", "2.2", b"\x89PNG\r\n\x1a\n")
    again = parse(message.data)
    assert again.subject == "Printer kaputt ✔"
    assert again.text == "The printer is broken."


def test_attached_message_keeps_its_own_file_name() -> None:
    parsed = parse(forwarded(INNER, b'Content-Disposition: attachment; filename="orig.eml"\n'))
    assert parsed.attachments[0].filename == "orig.eml"


def test_attachment_properties() -> None:
    attachment = ParsedAttachment("a.txt", "text/plain", b"abc")
    assert attachment.size == 3
    assert attachment.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
