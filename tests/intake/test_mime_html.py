"""HTML in the MIME parsing stage: readable text and sanitised display HTML."""

import pytest

from intake.html import html_to_text, sanitize_html


def test_html_to_text_keeps_blocks_as_lines() -> None:
    html = (
        "<html><head><title>Newsletter</title><style>p{color:red}</style></head>"
        "<body><p>Hello&nbsp;<b>World</b></p><div>Line 2<br>Line 3</div>"
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script></body></html>"
    )
    text = html_to_text(html)
    assert text.splitlines()[0] == "Hello World"
    assert "Line 2\nLine 3" in text
    assert "  * one\n  * two" in text
    assert "Newsletter" not in text
    assert "alert" not in text
    assert "color:red" not in text


def test_html_to_text_tables() -> None:
    text = html_to_text("<table><tr><td>Name</td><td>Value</td></tr></table>")
    assert "Name" in text
    assert "Value" in text


def test_html_to_text_never_empty_when_there_is_text() -> None:
    assert html_to_text("<title>only a title</title>") == "only a title"
    assert html_to_text("<p>x\x00y</p>") == "xy"


@pytest.mark.parametrize("html", ["", "   ", "<!-- only a comment -->", "<p></p>"])
def test_html_to_text_of_nothing(html: str) -> None:
    assert html_to_text(html) == ""


def test_html_to_text_survives_broken_and_deep_markup() -> None:
    assert "deep" in html_to_text("<div>" * 5000 + "deep" + "</div>" * 5000)
    assert "text" in html_to_text("<p>text<td></tr><<<>>>")
    assert "xml" in html_to_text('<?xml version="1.0" encoding="utf-8"?><html>xml</html>')


@pytest.mark.parametrize(
    ("html", "forbidden"),
    [
        ("<script>alert(1)</script><p>x</p>", "<script"),
        ('<img src="cid:a@b" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript:"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ("<svg onload=alert(1)><circle/></svg>", "svg"),
        ("<svg onload=alert(1)><circle/></svg>", "onload"),
        ('<body onload="x()"><p>x</p></body>', "onload"),
        ('<iframe src="https://evil.example"></iframe>', "iframe"),
        ('<form action="https://evil.example"><input name="p"></form>', "form"),
        ('<object data="x.swf"></object><embed src="x.swf">', "swf"),
        ('<link rel="stylesheet" href="https://evil.example/x.css">', "evil"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "refresh"),
        ('<base href="https://evil.example/">', "base"),
        ('<p style="background: url(https://evil.example/t.gif)">x</p>', "url("),
        ('<p style="behavior: url(x.htc); position: fixed">x</p>', "position"),
        ('<img src="data:image/png;base64,AAAA">', "data:"),
        ('<img srcset="https://evil.example/a.png 1x">', "srcset"),
        ('<a href="/logout">x</a>', "/logout"),
        ("<style>body{background:url(https://evil.example)}</style>", "evil"),
        ("<!-- <script>x</script> -->", "script"),
    ],
)
def test_sanitize_removes(html: str, forbidden: str) -> None:
    assert forbidden.lower() not in sanitize_html(html).lower()


def test_sanitize_keeps_mail_content() -> None:
    html = (
        '<p style="color: red; font-weight: bold">Hi</p>'
        '<img src="cid:image001.png@01D2" alt="logo" width="10">'
        '<img src="https://example.com/logo.png">'
        '<a href="https://example.com/x">link</a> <a href="mailto:a@example.com">mail</a>'
        '<table border="1"><tr><td bgcolor="#eee">cell</td></tr></table>'
        '<font color="blue">old</font>'
    )
    cleaned = sanitize_html(html)
    assert 'style="color:red;font-weight:bold"' in cleaned
    assert 'src="cid:image001.png@01D2"' in cleaned
    assert 'src="https://example.com/logo.png"' in cleaned
    assert 'href="https://example.com/x"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned
    assert 'href="mailto:a@example.com"' in cleaned
    assert '<td bgcolor="#eee">cell</td>' in cleaned
    assert '<font color="blue">' in cleaned


def test_sanitize_drops_title_text() -> None:
    assert sanitize_html("<html><head><title>T</title></head><body>b</body></html>") == "b"
