"""Charset decoding of the MIME parsing stage: labels, mislabels, undeclared text."""

import codecs
import encodings.aliases

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.charsets import codec_for, decode_bytes, is_single_byte


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        ('"utf-8"', "utf-8"),
        ("latin-1", "cp1252"),
        ("ISO-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("iso-8859-15", "iso8859-15"),
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("iso-gb2312", "gb18030"),
        ("ks_c_5601-1987", "cp949"),
        ("shift_jis", "cp932"),
        ("big5", "big5hkscs"),
        ("iso-2022-jp", "iso2022_jp_ext"),
        ("cp-1251", "cp1251"),
        ("windows-1258", "cp1258"),
        ("win-1250", "cp1250"),
        ("iso-8859-8-i", "iso8859-8"),
        ("x-mac-roman", "mac-roman"),
        ("utf-7", "utf-7"),
    ],
)
def test_labels_map_to_the_codec_mail_means(label: str, codec: str) -> None:
    assert codec_for(label) == codec


@pytest.mark.parametrize(
    "label", [None, "", "x-unknown", "unknown-8bit", "dingbat", "base64", "rot13", "zlib"]
)
def test_unknown_and_non_text_labels_mean_undeclared(label: str | None) -> None:
    assert codec_for(label) is None


def test_single_byte_detection() -> None:
    assert is_single_byte("cp1252")
    assert is_single_byte("koi8-r")
    assert not is_single_byte("gb18030")
    assert not is_single_byte("utf-8")
    assert not is_single_byte("iso2022_jp_ext")


def test_declared_us_ascii_with_utf8_bytes() -> None:
    decoded = decode_bytes("Grüße aus Köln".encode(), "us-ascii")
    assert decoded.text == "Grüße aus Köln"
    assert decoded.codec == "utf-8"


def test_declared_latin1_with_windows_quotes() -> None:
    decoded = decode_bytes("“quoted” – 5 €".encode("cp1252"), "iso-8859-1")
    assert decoded.text == "“quoted” – 5 €"


def test_declared_latin1_but_utf8() -> None:
    assert decode_bytes("Prénom: Rémi".encode(), "iso-8859-1").text == "Prénom: Rémi"


def test_gb2312_label_with_gbk_only_characters() -> None:
    text = "朱镕基说"  # 镕 is in GBK, not in GB2312
    assert decode_bytes(text.encode("gb18030"), "gb2312").text == text


def test_declared_utf8_with_a_few_broken_bytes_stays_utf8() -> None:
    data = "Děkuji, prosazuje lepší řešení".encode() + b"\xff" + b" konec"
    decoded = decode_bytes(data, "utf-8")
    assert decoded.text == "Děkuji, prosazuje lepší řešení\ufffd konec"
    assert decoded.replaced


def test_declared_utf8_but_windows_1252() -> None:
    decoded = decode_bytes("Grüße, schöne Tage".encode("cp1252"), "utf-8")
    assert decoded.text == "Grüße, schöne Tage"
    assert not decoded.as_declared


def test_unknown_declared_charset_falls_back_to_detection() -> None:
    text = "Bonjour, je voudrais savoir où en est ma requête. Merci, à bientôt !"
    assert decode_bytes(text.encode("cp1252"), "x-unknown").text == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет! Когда будет готов отчёт по проекту? Спасибо.", "koi8-r"),
        ("Привет! Когда будет готов отчёт по проекту? Спасибо.", "cp1251"),
        ("这封信如果影响到您的生活和工作，我们向您诚恳的道歉。", "gb18030"),
        ("お世話になっております。パソコンが動きません。", "cp932"),
        ("안녕하세요, 프린터가 작동하지 않습니다.", "cp949"),
        ("Müller", "cp1252"),
    ],
)
def test_undeclared_text_is_detected(text: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding), None).text == text


def test_undeclared_cjk_in_much_ascii() -> None:
    data = "机房环境法规".encode("gb18030") + b"\nMessage-ID: <a@b>\n" * 200
    assert decode_bytes(data, None).text.startswith("机房环境法规")


def test_undeclared_iso_2022_jp() -> None:
    text = "日本語のテキスト"
    assert decode_bytes(text.encode("iso2022_jp"), None).text == text


def test_hint_is_used_for_undeclared_bytes() -> None:
    assert decode_bytes("äöüß".encode("latin-1"), None, hint="iso-8859-1").text == "äöüß"


def test_utf7_is_decoded_when_declared() -> None:
    assert decode_bytes(b"+AOQ-bermittlung", "utf-7").text == "äbermittlung"


def test_ascii_stays_ascii_whatever_the_label() -> None:
    assert decode_bytes(b"plain text", "koi8-r").text == "plain text"
    assert decode_bytes(b"plain text", "x-unknown").text == "plain text"


def _python_labels() -> list[str]:
    labels = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
    return sorted(label for label in labels if label not in ("mbcs", "oem", "cp65001"))


@pytest.mark.parametrize("label", _python_labels())
def test_every_python_charset_label_decodes_without_error(label: str) -> None:
    sample = "Grüße – 日本 – Привет".encode() + bytes(range(0x80, 0x100))
    decoded = decode_bytes(sample, label)
    assert isinstance(decoded.text, str)
    assert decoded.text


def test_codecs_we_return_exist() -> None:
    for label in _python_labels():
        codec = codec_for(label)
        if codec is not None:
            codecs.lookup(codec)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "us-ascii", "gb2312", "x-bad"]))
def test_any_bytes_decode(data: bytes, label: str | None) -> None:
    decoded = decode_bytes(data, label)
    assert isinstance(decoded.text, str)
    if data and not data.isspace():
        assert decoded.text
