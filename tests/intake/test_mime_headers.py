"""Header decoding of the MIME parsing stage: encoded words, addresses, ids and dates."""

from datetime import UTC, datetime, timedelta

import pytest

from intake.mime_addresses import first_mailbox, parse_addresses
from intake.mime_dates import parse_date
from intake.mime_headers import decode_header, message_ids, raw_text, trim_references
from intake.parsed import MailAddress


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab"),
        ("=?utf-8?Q?a?=\n  =?utf-8?Q?b?=", "ab"),
        ("Re: =?iso-8859-1?q?Priorit=E4t?= now", "Re: Priorität now"),
        ("=?UTF-8?B?5L2/44Gj44Gm?=", "使って"),
        ("=?utf-8?B?w6Q?=", "ä"),
        ("=?utf-8?B?w6Q=?=", "ä"),
        ("Re:=?utf-8?B?w6Q=?=x", "Re:äx"),
        ("=?utf-8*de?Q?Gr=C3=BC=C3=9Fe?=", "Grüße"),
        ("=?x-unknown?Q?Gr=FC=DFe?=", "Grüße"),
        ("=?gb2312?B?xOO6ww==?=", "你好"),
        ("=?gb18030?B?suLK1A===?=", "测试"),
        ("=?utf-8?B?6IOh?= =?utf-8?B?5qW3?=", "胡楷"),
        ("=?utf-8?B?4pyU?= plain =?utf-8?q?x?=", "✔ plain x"),
        ("=?utf-8?Q?Hello World?=", "Hello World"),
        ("=?bogus?X?abc?=", "=?bogus?X?abc?="),
        ("folded\n\tline", "folded line"),
        ("=?utf-8?Q?x=0D=0ABcc:_evil@example.com?=", "x Bcc: evil@example.com"),
        ("=?utf-8?Q?nul=00byte?=", "nulbyte"),
    ],
)
def test_decode_header(raw: str, decoded: str) -> None:
    assert decode_header(raw) == decoded


def test_multibyte_character_split_across_encoded_words() -> None:
    # "ä" is C3 A4; mailers split it across two words.
    assert decode_header("=?utf-8?Q?=C3?= =?utf-8?Q?=A4?=") == "ä"


def test_raw_8bit_header_text() -> None:
    raw_utf8 = "Grüße".encode().decode("ascii", "surrogateescape")
    assert raw_text(raw_utf8) == "Grüße"
    raw_latin1 = "Grüße".encode("latin-1").decode("ascii", "surrogateescape")
    assert raw_text(raw_latin1, hint="iso-8859-1") == "Grüße"
    raw_gb = "整体提升".encode("gb2312").decode("ascii", "surrogateescape")
    assert raw_text(raw_gb, hint="gb2312") == "整体提升"


def test_message_ids() -> None:
    assert message_ids(["<a@b> <c@d>\n <a@b>", "e@f", "(comment) garbage"]) == [
        "a@b",
        "c@d",
        "e@f",
    ]
    assert message_ids(["<a b@c>"]) == []
    assert message_ids(["<" + "x" * 2000 + "@y>"]) == []


def test_trim_references_keeps_root_and_latest() -> None:
    ids = [f"{n}@x" for n in range(10)]
    assert trim_references(ids, 4) == ("0@x", "7@x", "8@x", "9@x")
    assert trim_references(ids, 20) == tuple(ids)
    assert trim_references(ids, 1) == ("9@x",)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice <alice@Example.COM>", [("alice@example.com", "Alice")]),
        ('"Smith, John" <j@x.org>', [("j@x.org", "Smith, John")]),
        ("=?utf-8?Q?Smith=2C_John?= <j@x.org>", [("j@x.org", "Smith, John")]),
        ('"=?utf-8?Q?M=C3=BCller?=" <m@x.org>', [("m@x.org", "Müller")]),
        ("marc@x.org (Marc Smith)", [("marc@x.org", "Marc Smith")]),
        ("MAILER-DAEMON (Mail System) <pm@x.org>", [("pm@x.org", "MAILER-DAEMON")]),
        ('"Smith (IT)" <s@x.org>', [("s@x.org", "Smith (IT)")]),
        ("Namedyński (hans@x.org)", [("hans@x.org", "Namedyński")]),
        ("Test test@x.org", [("test@x.org", "Test")]),
        ("a@x.org, , b@x.org, A@X.org", [("a@x.org", ""), ("b@x.org", "")]),
        ("undisclosed-recipients:;", []),
        ('"我" <>', []),
        ("Clement <Claudia.Shu@Yahoo.com.>", [("Claudia.Shu@yahoo.com", "Clement")]),
        ('"quoted local"@x.org', [('"quoted local"@x.org', "")]),
        ("=?utf-8?Q?Eve=0D=0ABcc:_v@x.org?= <eve@x.org>", [("eve@x.org", "Eve Bcc: v@x.org")]),
        ("x\u202e <rtl@x.org>", [("rtl@x.org", "x")]),
    ],
)
def test_parse_addresses(raw: str, expected: list[tuple[str, str]]) -> None:
    assert [(a.email, a.name) for a in parse_addresses([raw])] == expected


def test_first_mailbox_prefers_an_address_with_a_domain() -> None:
    addresses = parse_addresses(["[??????]", "=?utf-8?B?6YO955C5?= <g@x.cn>"])
    assert first_mailbox(addresses) == MailAddress("g@x.cn", "都琹")
    assert first_mailbox([MailAddress("MAILER-DAEMON")]) == MailAddress("MAILER-DAEMON")
    assert first_mailbox([]) is None


def test_mail_address_strips_line_breaks() -> None:
    address = MailAddress("a\r\n@X.org", "Evil\r\nBcc: x")
    assert address.email == "a @x.org"
    assert address.name == "Evil Bcc: x"
    assert str(MailAddress("a@x.org", "A")) == "A <a@x.org>"


RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mon, 1 Jan 2018 10:00:00 +0200", datetime(2018, 1, 1, 8, 0, tzinfo=UTC)),
        ("Mon, 1 Jan 2018 10:00:00 +0200 (CEST)", datetime(2018, 1, 1, 8, 0, tzinfo=UTC)),
        ("Mon, 1 Jan 2018 10:00:00 CEST", datetime(2018, 1, 1, 8, 0, tzinfo=UTC)),
        ("Mon, 1 Jan 2018 10:00:00 EST", datetime(2018, 1, 1, 15, 0, tzinfo=UTC)),
        ("1 Jan 18 10:00 -0500", datetime(2018, 1, 1, 15, 0, tzinfo=UTC)),
        ("Mon, 1 Jan 2018 10:00:00 -0000", datetime(2018, 1, 1, 10, 0, tzinfo=UTC)),
        ("2018-01-01T10:00:00Z", datetime(2018, 1, 1, 10, 0, tzinfo=UTC)),
        ("Mon, 1 Jan 2018 10:00:60 GMT", datetime(2018, 1, 1, 10, 0, 59, tzinfo=UTC)),
    ],
)
def test_dates(raw: str, expected: datetime) -> None:
    assert parse_date(raw, RECEIVED) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "defect"),
    [
        (None, "date_missing"),
        ("  ", "date_missing"),
        ("garbage", "date_unparseable"),
        ("Tue, 32 Jan 2018 10:00:00 +0000", "date_unparseable"),
        ("Mon, 1 Jan 2018 10:00:00 +9900", "date_unparseable"),
        ("Thu, 1 Jan 1900 00:00:00 +0000", "date_implausible"),
        (
            (RECEIVED + timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "date_implausible",
        ),
    ],
)
def test_unusable_dates(raw: str | None, defect: str) -> None:
    assert parse_date(raw, RECEIVED) == (None, defect)


def test_slightly_ahead_clock_is_fine() -> None:
    ahead = RECEIVED + timedelta(hours=2)
    assert parse_date(ahead.strftime("%a, %d %b %Y %H:%M:%S +0000"), RECEIVED) == (ahead, None)
