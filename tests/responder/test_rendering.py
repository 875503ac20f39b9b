"""Templates: every mail renders, mail text stays text, the help desk's overrides win, and a
broken override falls back to the packaged template and says why."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from responder.errors import ResponderError
from responder.mails import (
    AcknowledgementMail,
    AgentReplyMail,
    NewTicketNotificationMail,
    PersonInfo,
    SuggestedSolution,
    TicketInfo,
)
from responder.rendering import (
    PACKAGED_TEMPLATES,
    TEMPLATE_FILES,
    Helpdesk,
    RenderConfig,
    Renderer,
    subject_with_tag,
)
from responder.samples import sample_mails

HELPDESK = Helpdesk("IT Help Desk", "help@example.org")


def ack(subject: str = "VPN broken", **changes: object) -> AcknowledgementMail:
    mail = next(m for m in sample_mails() if isinstance(m, AcknowledgementMail))
    ticket = replace(mail.ticket, subject=subject)
    return replace(mail, ticket=ticket, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("full", [True, False])
def test_every_packaged_mail_renders(full: bool) -> None:
    renderer = Renderer()
    for mail in sample_mails(full=full):
        rendered = renderer.render(mail, HELPDESK)
        assert rendered.subject.count("[#42]") == 1, mail.kind
        assert "\n" not in rendered.subject
        assert rendered.text.strip()
        assert rendered.html.strip()
        assert "IT Help Desk" in rendered.text
        assert rendered.fallback == ""


def test_every_mail_has_its_three_templates() -> None:
    for mail in sample_mails():
        for name in TEMPLATE_FILES:
            assert (PACKAGED_TEMPLATES / mail.kind / name).is_file()


def test_html_has_no_remote_resources_and_inline_styles_only() -> None:
    renderer = Renderer()
    for mail in sample_mails():
        html = renderer.render(mail, HELPDESK).html
        assert "<link" not in html
        assert "<script" not in html
        assert "<img" not in html
        assert "url(" not in html
        assert "<style" not in html
        assert not re.search(r"\bsrc=", html)
        assert 'style="' in html


def test_acknowledgement_says_what_we_understood_and_offers_solutions() -> None:
    rendered = Renderer().render(ack(), HELPDESK)
    text = rendered.text
    assert "[#42]" in text
    assert "Network › VPN" in text
    assert "P2 (high)" in text
    assert "4 business hours" in text
    assert "Tuesday 14 May 2024, 13:30 UTC" in text
    assert "VPN does not connect" in text
    assert "restart the VPN client" in text
    assert "reply to this mail with the word SOLVED" in text
    assert "https://help.example.org/status/t42-sample" in text
    assert 'href="https://help.example.org/status/t42-sample"' in rendered.html


def test_suggestions_below_the_threshold_are_left_out_and_the_best_come_first() -> None:
    solutions = (
        SuggestedSolution("Low", "x", 0.2),
        SuggestedSolution("Second", "x", 0.6),
        SuggestedSolution("Best", "x", 0.9),
        SuggestedSolution("Third", "x", 0.55),
        SuggestedSolution("Fourth", "x", 0.51),
    )
    mail = ack(suggestions=solutions, suggestion_threshold=0.5)
    assert [s.title for s in mail.suggestions] == ["Best", "Second", "Third"]
    text = Renderer().render(mail, HELPDESK).text
    assert "Low" not in text
    assert "Fourth" not in text
    none_left = ack(suggestions=solutions, suggestion_threshold=0.95)
    text = Renderer().render(none_left, HELPDESK).text
    assert "SOLVED" not in text  # no suggestion, no "reply SOLVED"


def test_excerpts_are_short() -> None:
    long_text = "word " * 500
    solution = SuggestedSolution("Title", long_text, 0.9)
    assert len(solution.excerpt) <= 300
    assert solution.excerpt.endswith("…")


def test_template_injection_in_mail_text_is_printed_literally() -> None:
    subject = "{{ 7*7 }} {% for x in range(3) %}loop{% endfor %} {{ helpdesk.__class__ }}"
    rendered = Renderer().render(ack(subject=subject), HELPDESK)
    assert "{{ 7*7 }}" in rendered.subject
    assert "49" not in rendered.subject
    assert "{{ 7*7 }}" in rendered.text
    assert "49" not in rendered.text
    assert "{% for x in range(3) %}loop{% endfor %}" in rendered.text
    assert "looplooploop" not in rendered.text


def test_html_in_variables_is_escaped_in_html_only() -> None:
    evil = '<script>alert(1)</script><a href="javascript:x">'
    mail = AgentReplyMail(
        ticket=TicketInfo(7, f"Printer {evil}"),
        requester=PersonInfo("carol@example.com", "Carol <b>"),
        agent=PersonInfo("alice@example.org", "Alice"),
        reply_text=f"Line one\n{evil}\nLine three",
        status_url="https://help.example.org/s",
    )
    rendered = Renderer().render(mail, HELPDESK)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert 'href="javascript' not in rendered.html
    assert "Line one<br>" in rendered.html  # line breaks survive as <br>, text escaped
    assert evil in rendered.text  # the text part is text: nothing to escape


def test_links_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        replace(ack(), status_url="javascript:alert(1)")
    with pytest.raises(ValueError, match="http"):
        SuggestedSolution("x", "y", 0.9, url='https://x" onclick="y')


def test_subject_is_one_capped_line_that_keeps_the_tag() -> None:
    subject = "Help\r\nBcc: victim@example.com\x00\x1b[31m " + "long " * 100
    rendered = Renderer().render(ack(subject=subject), HELPDESK)
    assert "\r" not in rendered.subject
    assert "\n" not in rendered.subject
    assert "\x00" not in rendered.subject
    assert "\x1b" not in rendered.subject
    assert len(rendered.subject) <= 200
    assert "[#42]" in rendered.subject
    assert (
        subject_with_tag("Something else entirely", "[#9]", 200) == "[#9] Something else entirely"
    )
    assert subject_with_tag("x" * 500, "[#9]", 50).startswith("[#9] ")


def test_control_characters_leave_the_bodies() -> None:
    rendered = Renderer().render(ack(subject="VPN\x1b[2J\x07 broken\u202e"), HELPDESK)
    for part in (rendered.text, rendered.html):
        assert "\x1b" not in part
        assert "\x07" not in part
        assert "\u202e" not in part


def test_missing_variable_in_a_packaged_template_is_impossible_by_type() -> None:
    with pytest.raises(TypeError):
        NewTicketNotificationMail(  # type: ignore[call-arg]
            ticket=TicketInfo(1, "x"), requester=PersonInfo("a@b.c")
        )


def write(folder: Path, kind: str, name: str, text: str) -> None:
    (folder / kind).mkdir(parents=True, exist_ok=True)
    (folder / kind / name).write_text(text)


def test_override_from_the_data_folder_wins(tmp_path: Path) -> None:
    write(tmp_path, "acknowledgement", "body.txt", "Custom hello {{ requester.display }}\n")
    renderer = Renderer(RenderConfig(override_dir=tmp_path))
    rendered = renderer.render(ack(), HELPDESK)
    assert rendered.text == "Custom hello Carol Jones\n"
    assert rendered.overrides == ("acknowledgement/body.txt",)
    assert "Hello Carol" in rendered.html  # the other parts stay packaged
    assert renderer.check() == []


def test_override_appearing_later_is_picked_up(tmp_path: Path) -> None:
    renderer = Renderer(RenderConfig(override_dir=tmp_path))
    assert "Hello Carol" in renderer.render(ack(), HELPDESK).text
    write(tmp_path, "acknowledgement", "body.txt", "Now custom\n")
    assert renderer.render(ack(), HELPDESK).text == "Now custom\n"
    (tmp_path / "acknowledgement" / "body.txt").unlink()
    assert "Hello Carol" in renderer.render(ack(), HELPDESK).text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% if %}broken\n", "body.txt line 1"),  # syntax error
        ("Hello {{ requestor.name }}\n", "requestor"),  # misspelt variable (StrictUndefined)
        ("{{ ticket.__class__.__mro__ }}\n", "unsafe"),  # the sandbox refuses dunders
        ("{{ requester.name.__class__.__subclasses__() }}\n", "unsafe"),
    ],
)
def test_broken_override_falls_back_and_says_why(
    tmp_path: Path, source: str, expected: str
) -> None:
    write(tmp_path, "acknowledgement", "body.txt", source)
    write(tmp_path, "acknowledgement", "subject.txt", "Custom subject {{ ticket.tag }}\n")
    renderer = Renderer(RenderConfig(override_dir=tmp_path))
    rendered = renderer.render(ack(), HELPDESK)
    assert expected in rendered.fallback
    assert "Hello Carol" in rendered.text  # the packaged template
    assert not rendered.subject.startswith("Custom")  # the whole mail falls back, consistently
    assert rendered.overrides == ()
    problems = renderer.check()
    assert [p.template for p in problems] == ["acknowledgement/body.txt"]
    assert expected in problems[0].error


def test_check_names_stray_folders_and_files(tmp_path: Path) -> None:
    write(tmp_path, "acknowledgment", "body.txt", "typo in the folder name\n")
    write(tmp_path, "closure", "body.htm", "typo in the file name\n")
    problems = {p.template for p in Renderer(RenderConfig(override_dir=tmp_path)).check()}
    assert problems == {"acknowledgment", "closure/body.htm"}


@pytest.mark.parametrize(
    "source",
    [
        # More output than the size limit: streaming stops it early.
        "{% for i in range(90000) %}{% for j in range(90000) %}x{% endfor %}{% endfor %}",
        # The sandbox refuses huge ranges outright.
        "{% for i in range(10**9) %}{% endfor %}",
    ],
)
def test_runaway_override_is_stopped(tmp_path: Path, source: str) -> None:
    write(tmp_path, "acknowledgement", "body.txt", source)
    config = RenderConfig(override_dir=tmp_path, max_body_chars=10_000)
    rendered = Renderer(config).render(ack(), HELPDESK)
    assert rendered.fallback  # the mail still goes out, with the packaged template
    assert "Hello Carol" in rendered.text


def test_times_are_shown_in_the_help_desks_zone() -> None:
    renderer = Renderer(RenderConfig(timezone="Europe/Berlin"))
    assert renderer.when(datetime(2024, 5, 14, 9, 30, tzinfo=UTC)) == (
        "Tuesday 14 May 2024, 11:30 CEST"
    )
    with pytest.raises(ResponderError):
        Renderer(RenderConfig(timezone="Mars/Olympus"))
