"""Charset handling of the MIME parsing stage: bytes of a body or header to `str`, always.

Mail declares its charset, and often gets it wrong: "us-ascii" over 8-bit text, "iso-8859-1"
over Windows-1252 quotes or over UTF-8, "gb2312" over GBK characters, labels Python does not
know ("utf8", "cp-1251", "x-unknown"), or none at all. The rules here follow the WHATWG
Encoding Standard's label table (which browsers and mail clients converge on) and then fall
back: valid UTF-8 wins over a single-byte label, a declared charset that fails is replaced by
detection (charset-normalizer), and the last resort decodes with replacement characters so a
body is never dropped. See docs/decisions/0012.
"""

import codecs
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from charset_normalizer import from_bytes

# Labels mapped to the codec that is their superset in practice (WHATWG Encoding Standard:
# "iso-8859-1" and "us-ascii" mean windows-1252, "gb2312" means GBK, which GB18030 extends,
# "ks_c_5601-1987" means windows-949, "shift_jis" means windows-31j, "big5" means Big5-HKSCS).
_SUPERSETS: dict[str, str] = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "cp819": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "tis620": "cp874",
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "chinese": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "korean": "cp949",
    "windows-949": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-8-e": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "iso-8859-6-e": "iso8859-6",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
}

# Labels that say "we don't know": treated as undeclared.
_UNKNOWN = frozenset(
    {"", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "none", "charset", "us"}
    | {"x-user-defined", "undefined", "binary"}
)

_PREFIXES = ("x-", "iso-", "cs")

# "windows-1250", "cp-1251", "win-1252", "x-cp1250": Windows code pages however spelled.
_WINDOWS_CODEPAGE = re.compile(r"(?:cp|windows|win|x-cp|ms)[-_ ]?(\d{3,4})")

# 7-bit charsets whose ASCII-only bytes still need their own codec (escape sequences, base64).
_SEVEN_BIT_STATEFUL = ("iso2022", "utf_7", "utf-7", "hz", "utf_16", "utf-16", "utf_32", "utf-32")

# An ISO-2022-JP escape (RFC 1468) in undeclared text: JIS X 0208 or JIS X 0201 Roman.
_ISO2022_JP_ESCAPE = re.compile(rb"\x1b\$[@B]|\x1b\(J")

# Mostly right but a few broken sequences (a truncated or spliced body): keep the charset and
# mark the bad bytes instead of letting detection guess another charset for all of it. Text of
# another charset read as UTF-8 or as a multi-byte set yields almost no valid characters, so
# at least as many good as broken characters means the label is right for most of the text.
_MIN_GOOD_PER_BAD = 1

# Detection reads at most this much; the winning codec then decodes the whole body.
_DETECT_BYTES = 256 * 1024

# Charsets detection may choose, in order of preference when scores tie: those of undeclared
# mail in practice. Rare single-byte sets (Thai, Hebrew, HP Roman-8, ...) are left out because
# they decode any bytes and win ties on short texts with nonsense.
_DETECT_CANDIDATES = (
    "utf_8",
    "cp1252",
    "cp1250",
    "cp1251",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1257",
    "gb18030",
    "big5hkscs",
    "cp932",
    "euc_jp",
    "cp949",
)
_COHERENCE_TIE = 0.02
_PLAUSIBLE_LETTERS = 0.5


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the codec that produced it, and whether that was the declared charset."""

    text: str
    codec: str
    as_declared: bool
    replaced: bool = False


def _label(label: str | None) -> str:
    if label is None:
        return ""
    return label.strip().strip("\"'").strip().lower()


@functools.lru_cache(maxsize=512)
def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label (superset where one is customary), or None."""
    name = _label(label)
    if name in _UNKNOWN:
        return None
    if name in _SUPERSETS:
        return _SUPERSETS[name]
    match = _WINDOWS_CODEPAGE.fullmatch(name)
    if match:
        name = f"cp{match.group(1)}"
    # Vendor prefixes on a known name: "x-gbk", "iso-gb2312", "csISOLatin1" and the like.
    for variant in (name, *(name[len(p) :] for p in _PREFIXES if name.startswith(p))):
        if variant in _SUPERSETS:
            return _SUPERSETS[variant]
        try:
            codec = codecs.lookup(variant).name
            # Rejects bytes-to-bytes codecs ("base64", "zlib", "rot13") lookup() also finds.
            b"x".decode(codec, "replace")
        except (LookupError, ValueError, TypeError):
            continue
        return _SUPERSETS.get(codec, codec)
    return None


@functools.lru_cache(maxsize=128)
def is_single_byte(codec: str) -> bool:
    """Whether every byte decodes to exactly one character (true of Latin/Cyrillic/... sets)."""
    if codec.replace("_", "-").startswith(("utf", "iso2022")):
        return False
    return len(bytes(range(256)).decode(codec, "replace")) == 256


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError):
        return None


def _mostly(data: bytes, codec: str) -> str | None:
    """Decode with replacement if only a small share of the non-ASCII text is broken."""
    try:
        text = data.decode(codec, "replace")
    except (LookupError, ValueError):
        return None
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    if good and good >= _MIN_GOOD_PER_BAD * bad:
        return text
    return None


def _lowercase_share(text: str) -> float:
    cased = [ch for ch in text if ch.isupper() or ch.islower()]
    return sum(ch.islower() for ch in cased) / len(cased) if cased else 0.0


def detect_codec(data: bytes) -> str | None:
    """charset-normalizer's guess among the charsets undeclared mail really uses.

    Short texts leave several candidates with the same scores (KOI8-R and Windows-1251,
    Windows-1252 and -1250); among those, text that reads as mostly lower-case letters wins
    (the wrong Cyrillic table swaps the cases), then the order of `_DETECT_CANDIDATES`.
    """
    sample = data[:_DETECT_BYTES]
    matches = list(from_bytes(sample, cp_isolation=list(_DETECT_CANDIDATES)))
    if not matches:
        return None
    best = matches[0]
    tied = [
        m
        for m in matches
        if m.chaos <= best.chaos and m.coherence >= best.coherence - _COHERENCE_TIE
    ]

    def preferred(match: Any) -> tuple[int, str]:
        # Charsets that give the very same text are grouped under one match.
        names = [n for n in match.could_be_from_charset if n in _DETECT_CANDIDATES]
        return min((_DETECT_CANDIDATES.index(n), n) for n in names or [match.encoding])

    def rank(match: Any) -> tuple[float, int]:
        return (-round(_lowercase_share(str(match)), 2), preferred(match)[0])

    chosen = min(tied, key=rank)
    if is_single_byte(preferred(chosen)[1]) and _letter_share(str(chosen)) < _PLAUSIBLE_LETTERS:
        # Little 8-bit text in much ASCII: scores say little, but CJK text read as a Latin
        # table is a run of symbols ("»ú·¿»·"), while read right it is all ideographs.
        for match in sorted(matches, key=lambda m: preferred(m)[0]):
            text = str(match)
            if not is_single_byte(preferred(match)[1]) and _is_cjk_text(sample, text):
                return codec_for(preferred(match)[1])
    return codec_for(preferred(chosen)[1])


def _letter_share(text: str) -> float:
    """Share of letters among the non-ASCII characters (1.0 when there are none)."""
    chars = [ch for ch in text if ord(ch) > 0x7F]
    return sum(ch.isalpha() for ch in chars) / len(chars) if chars else 1.0


def _is_cjk_text(data: bytes, text: str) -> bool:
    """Every non-ASCII character is a letter made of two 8-bit bytes (a CJK double-byte)."""
    high = sum(1 for byte in data if byte > 0x7F)
    chars = [ch for ch in text if ord(ch) > 0x7F]
    return bool(chars) and high == 2 * len(chars) and all(ch.isalpha() for ch in chars)


def _strict_decoded(data: bytes, codec: str, *, declared: bool) -> Decoded | None:
    text = _strict(data, codec)
    return None if text is None else Decoded(text, codec, as_declared=declared)


def _mostly_decoded(data: bytes, codec: str, *, declared: bool) -> Decoded | None:
    text = _mostly(data, codec)
    return None if text is None else Decoded(text, codec, as_declared=declared, replaced=True)


def _attempts(data: bytes, codec: str | None, hint: str | None) -> Iterator[Decoded | None]:
    """Readings of non-ASCII bytes, best first; computed lazily, the first success wins."""
    multi_byte = codec is not None and not is_single_byte(codec)
    if codec is not None and multi_byte:
        yield _strict_decoded(data, codec, declared=True)
    # Valid UTF-8 with non-ASCII bytes is almost never text of a single-byte charset: real
    # Latin or Cyrillic text breaks UTF-8's lead/continuation byte pattern within a few words.
    yield _strict_decoded(data, "utf-8", declared=codec == "utf-8")
    if codec is not None and not multi_byte and codec != "utf-8":
        yield _strict_decoded(data, codec, declared=True)
    if codec is not None:
        yield _mostly_decoded(data, codec, declared=True)
        hinted = None
    else:
        yield _mostly_decoded(data, "utf-8", declared=False)
        hinted = codec_for(hint)
    if hinted is not None:
        yield _strict_decoded(data, hinted, declared=False)
    detected = detect_codec(data)
    if detected is not None:
        yield _strict_decoded(data, detected, declared=False)
        yield _mostly_decoded(data, detected, declared=False)


def decode_bytes(data: bytes, declared: str | None, *, hint: str | None = None) -> Decoded:
    """Decode mail bytes; never raises, never returns less text than the bytes carry.

    `declared` is the label the mail gives for these bytes; `hint` is a charset to try when
    nothing is declared (for 8-bit header text: the charset the body declares).
    """
    codec = codec_for(declared)
    if data.isascii():
        return _decode_ascii(data, codec)
    for decoded in _attempts(data, codec, hint):
        if decoded is not None:
            return decoded
    # Last resort: Windows-1252 maps almost every byte; the five it leaves undefined become
    # U+FFFD. The body stays readable for Latin text and is never dropped.
    return Decoded(data.decode("cp1252", "replace"), "cp1252", as_declared=False, replaced=True)


def _decode_ascii(data: bytes, codec: str | None) -> Decoded:
    if codec is not None and codec.replace("-", "_").startswith(_SEVEN_BIT_STATEFUL):
        text = _strict(data, codec)
        if text is not None:
            return Decoded(text, codec, as_declared=True)
    elif codec is None and _ISO2022_JP_ESCAPE.search(data):
        text = _strict(data, "iso2022_jp_ext")
        if text is not None:
            return Decoded(text, "iso2022_jp_ext", as_declared=False)
    return Decoded(data.decode("ascii"), "ascii", as_declared=codec is not None)
