"""Attachments in the MIME parsing stage: safe file names, uuencode blocks and TNEF.

An attachment is stored by the SHA-256 of its bytes; the name the sender gave is metadata
shown to agents and offered on download, never a path on our disk. So names are decoded,
cut to their last path component, cleaned of control and bidi-override characters and
capped in length. Two legacy wrappings are unpacked into ordinary attachments: uuencoded
blocks inside text bodies (old clients, Lotus Notes) and Outlook's TNEF `winmail.dat`
(application/ms-tnef, via tnefparse); a TNEF that does not decode stays a plain attachment.
"""

import binascii
import mimetypes
import re
import unicodedata
from dataclasses import dataclass

import tnefparse
from striprtf.striprtf import rtf_to_text

from intake.charsets import decode_bytes
from intake.mime_text import clean_body, clean_filename_text

# Most file systems (and the Content-Disposition of our downloads) take 255 bytes per name.
MAX_FILENAME_BYTES = 255

# Preferred extensions where mimetypes would pick an odd one (".jpe", ".ksh", ".bat").
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "application/octet-stream": ".bin",
    "application/ms-tnef": ".dat",
    "application/vnd.ms-tnef": ".dat",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
}

# uuencode (POSIX uuencode(1)): "begin <mode> <name>", lines, "end".
_UU_BEGIN = re.compile(rb"^begin[ \t]+([0-7]{3,4})[ \t]+([^\r\n]+?)[ \t]*\r?$", re.MULTILINE)
_UU_END = re.compile(rb"^end[ \t]*\r?$", re.MULTILINE)
_MAX_UU_BLOCKS = 100


def extension_for(content_type: str) -> str:
    """A file extension for a MIME type (".bin" when nothing fits)."""
    return _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"


def content_type_for(filename: str) -> str:
    """The MIME type a file name suggests, for files unpacked from uuencode or TNEF."""
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def _cap_bytes(name: str, limit: int) -> str:
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode("utf-8")) > 16 or not stem:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return cut.rstrip() + suffix


def sanitize_filename(name: str | None, fallback: str) -> str:
    """A display-safe file name: last path component, no controls, at most 255 UTF-8 bytes.

    `fallback` (already safe) is used when nothing usable is left. The result never contains
    "/", "\\", NUL or a line break, never starts with a dot and is never "." or "..".
    """
    if name:
        cleaned = unicodedata.normalize("NFC", clean_filename_text(name))
        # Both separators: names come from Windows ("C:\\x\\y.exe") and Unix senders alike.
        cleaned = re.split(r"[\\/]", cleaned)[-1]
        if re.match(r"^[A-Za-z]:", cleaned):
            cleaned = cleaned[2:]
        cleaned = cleaned.strip().lstrip(".").strip()
        cleaned = _cap_bytes(cleaned, MAX_FILENAME_BYTES)
        if cleaned:
            return cleaned
    return fallback


_FILE_LIKE = re.compile(r"^[^\\/]+\.[A-Za-z0-9]{1,5}$")


def fallback_filename(content_type: str, *, content_id: str | None, description: str | None) -> str:
    """A name for a part that has none.

    Outlook names inline images only in the Content-ID ("image001.png@01D2...") and some
    mailers put the name in Content-Description; otherwise the type gives a plain stem
    ("image.png", "video.mov", "message.eml", "attachment.pdf").
    """
    local = (content_id or "").split("@")[0]
    if _FILE_LIKE.match(local):
        return sanitize_filename(local, "attachment.bin")
    maintype = content_type.split("/", maxsplit=1)[0]
    if description:
        stem = description
    elif maintype in ("image", "audio", "video", "message"):
        stem = maintype
    else:
        stem = "attachment"
    if stem.lower().endswith(extension_for(content_type)):
        return sanitize_filename(stem, "attachment.bin")
    return sanitize_filename(stem + extension_for(content_type), "attachment.bin")


@dataclass(frozen=True)
class UnpackedFile:
    """A file found inside a text body (uuencode) or a TNEF stream."""

    filename: str
    data: bytes


def _uu_line(line: bytes) -> bytes:
    try:
        return binascii.a2b_uu(line)
    except binascii.Error:
        # Some encoders pad lines with garbage; the length byte says how much is data.
        if not line:
            return b""
        count = (((line[0] - 32) & 63) * 4 + 5) // 3
        try:
            return binascii.a2b_uu(line[:count])
        except binascii.Error:
            return b""


def decode_uu_lines(lines: list[bytes]) -> bytes:
    """The bytes of a uuencoded block's body lines (between "begin" and "end")."""
    out = bytearray()
    for line in lines:
        stripped = line.rstrip(b"\r\n")
        if stripped in (b"`", b""):
            continue
        out += _uu_line(stripped)
    return bytes(out)


def extract_uuencoded(data: bytes) -> tuple[bytes, list[UnpackedFile]]:
    """Cut uuencoded blocks out of a text body: (the remaining text, the files found)."""
    files: list[UnpackedFile] = []
    kept = bytearray()
    position = 0
    while len(files) < _MAX_UU_BLOCKS:
        begin = _UU_BEGIN.search(data, position)
        if begin is None:
            break
        end = _UU_END.search(data, begin.end())
        if end is None:
            break
        body = data[begin.end() : end.start()].split(b"\n")
        raw_name = decode_bytes(begin.group(2), None).text
        name = sanitize_filename(raw_name, f"attachment-{len(files) + 1}.bin")
        files.append(UnpackedFile(name, decode_uu_lines(body)))
        kept += data[position : begin.start()]
        position = end.end()
    kept += data[position:]
    return bytes(kept), files


def decode_uu_payload(data: bytes) -> UnpackedFile | None:
    """A whole part in Content-Transfer-Encoding x-uuencode: its file, or None.

    Some mailers leave out the "begin"/"end" lines and send only the encoded lines; the
    name then comes from the MIME headers (`filename` is empty here).
    """
    _, files = extract_uuencoded(data)
    if files:
        return files[0]
    decoded = decode_uu_lines(data.split(b"\n"))
    return UnpackedFile("", decoded) if decoded else None


@dataclass(frozen=True)
class TnefContents:
    """What a TNEF stream carries: its files and its message body, if any."""

    files: tuple[UnpackedFile, ...]
    text: str | None
    html: str | None


def _tnef_str(value: object, codepage: str | None) -> str:
    if isinstance(value, bytes):
        return decode_bytes(value.rstrip(b"\x00"), codepage).text
    return str(value or "")


def _tnef_body(tnef: tnefparse.TNEF, max_bytes: int) -> tuple[str | None, str | None]:
    codepage = tnef.codepage
    html = _tnef_str(tnef.htmlbody, codepage) if tnef.htmlbody else None
    text = _tnef_str(tnef.body, codepage) if tnef.body else None
    if text is None and html is None:
        rtf = tnef.rtfbody
        if isinstance(rtf, bytes) and rtf.startswith(b"{\\rtf"):
            # Only what compressed_rtf could decompress; RTF is 8-bit text with \'xx escapes.
            rtf_text = rtf[:max_bytes].decode("cp1252", "replace")
            text = str(rtf_to_text(rtf_text, errors="replace"))  # type: ignore[no-untyped-call]
    return (clean_body(text).strip() or None if text else None), (html or None)


def unpack_tnef(data: bytes, *, max_body_bytes: int) -> TnefContents | None:
    """The files and body of a TNEF stream, or None when it is not valid TNEF."""
    try:
        tnef = tnefparse.TNEF(data, do_checksum=False)
        files: list[UnpackedFile] = []
        for number, attachment in enumerate(tnef.attachments, start=1):
            raw_name = attachment.long_filename() or attachment.name
            name = sanitize_filename(_tnef_str(raw_name, tnef.codepage), f"attachment-{number}.dat")
            payload = attachment.data if isinstance(attachment.data, bytes) else b""
            files.append(UnpackedFile(name, payload))
        text, html = _tnef_body(tnef, max_body_bytes)
    except Exception:
        return None
    return TnefContents(tuple(files), text, html)
