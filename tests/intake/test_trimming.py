"""Reply trimming: quote headers, Outlook blocks, posting styles, forwards, limits."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.quote_headers import clean, is_mobile_footer, marker_kind, match_attribution
from intake.trimming import TrimConfig, TrimmedReply, extract_new_part

REPLY = "Thanks, that fixed it."
ORIGINAL = "Please restart the printer and try again."

# One attribution line per language, as the clients of that language write them.
ATTRIBUTIONS = {
    "en": "On Mon, 1 Jan 2024 at 10:00, Alice <alice@example.com> wrote:",
    "de": "Am 25.06.2015 um 10:55 schrieb Test User <test@example.com>:",
    "fr": "Le 19 mars 2014 à 10:37, Cédric Lombardot <cedric@example.com> a écrit :",
    "es": "El 19/03/2014 11:34, Juan Pérez <juan.perez@example.com> escribió:",
    "it": "Il giorno mar 3 gen 2017 alle ore 10:35 Mario Rossi <mario@example.it> ha scritto:",
    "nl": "Op 12 december 2016 19:05 schreef Company Questions <questions@example.com>:",
    "pt": "Em 10 de julho de 2017 às 16:32, John Doe <john@example.com> escreveu:",
    "fi": "pe 20. lokakuuta 2017 klo 17.50 John Coe <john@example.com> kirjoitti:",
    "pl": "W dniu 7 stycznia 2015 15:24 użytkownik Paweł Brzoski <pawel@example.com> napisał:",
    "ru": "20 окт. 2016 г., в 19:37, Иван Петров <ivan@example.ru> написал(а):",
    "uk": '30 серп. 2016 р. 20:45 "Arpit" <no-reply@example.com> пише:',
    "da": "Den 08/06/2015 kl. 21.21 skrev Test User <test@example.com>:",
    "cs": "Dne 5. 3. 2020 v 10:00 Jan Novák <jan@example.cz> napsal(a):",
    "hu": '2013.02.08. 7:31 keltezéssel, "Győrvári Eszter" <eszter@example.hu> írta:',
    "tr": "5 Mar 2020 Per, 10:00 tarihinde Ali Veli <ali@example.com> şunu yazdı:",
    "el": "Στις 5/3/2020 10:00 π.μ., ο/η Γιάννης <g@example.gr> έγραψε:",
    "zh": "在 2016年11月8日，下午2:23，Test User <test@example.com> 写道：",
    "ja": "2016/11/08 14:26、Test User <test@example.com> のメッセージ:",
    "ko": "2016. 11. 8. 오후 12:39 Test User <test@example.com> 작성:",
}


@pytest.mark.parametrize(("language", "header"), ATTRIBUTIONS.items())
def test_attribution_above_a_quote_is_cut_with_the_quote(language: str, header: str) -> None:
    result = extract_new_part(f"{REPLY}\n\n{header}\n> {ORIGINAL}\n")
    assert result.new_text == REPLY
    assert result.quoted.startswith(header)
    assert ORIGINAL in result.quoted
    assert result.signal == f"quote header ({language})"


@pytest.mark.parametrize(("language", "header"), ATTRIBUTIONS.items())
def test_attribution_above_an_unmarked_copy_cuts_everything_below(
    language: str, header: str
) -> None:
    result = extract_new_part(f"{REPLY}\n\n{header}\n\n{ORIGINAL}\n\nBest,\nIT")
    assert result.new_text == REPLY
    assert result.signal == f"quote header ({language})"
    assert result.quoted.endswith("Best,\nIT")


@pytest.mark.parametrize(
    "wrapped",
    [
        "On Mon, Aug 19, 2013 at 2:36 AM, Some One via Discourse <\ninfo@example.org> wrote:",
        "On Wed, Dec 9, Mister Example\n<mister@example.com>\nwrote:",
        'Am 21.04.2016 17:48 schrieb "Einz Zwei" <noreply@example.com\n>:',
        "Max Mustermann <max@example.com> schrieb am Fr., 28.\nApr. 2017 um 11:53 Uhr:",
        'Op 16 aug. 2014 05:13 schreef "codinghorror" <info@example.org> het\nvolgende geschreven:',
    ],
)
def test_attribution_wrapped_over_lines(wrapped: str) -> None:
    result = extract_new_part(f"{REPLY}\n{wrapped}\n\n> {ORIGINAL}")
    assert result.new_text == REPLY
    assert result.quoted.startswith(wrapped.split("\n", maxsplit=1)[0])


@pytest.mark.parametrize(
    "line",
    [
        "On the other hand, this is not a quote header:",
        "Something wrote:",
        "I wrote to the vendor at 10:30 on 3 May 2024:",
        "See https://example.com/on-date-someone-wrote-about-parsing",
        "On Thursday.",
    ],
)
def test_prose_that_looks_like_an_attribution_stays(line: str) -> None:
    text = f"Hello,\n\n{line}\nThe printer on floor 3 is broken again.\n\nBob"
    result = extract_new_part(text)
    assert line in result.new_text
    assert "The printer on floor 3" in result.new_text
    assert result.quoted == ""


def test_attribution_verb_alone_is_trusted_only_above_quote_marks() -> None:
    quoted = extract_new_part(f"{REPLY}\n\nBob wrote:\n> {ORIGINAL}")
    assert quoted.new_text == REPLY
    unquoted = extract_new_part(f"{REPLY}\n\nBob wrote:\n{ORIGINAL}")
    assert ORIGINAL in unquoted.new_text


def test_a_paragraph_above_an_attribution_is_not_swallowed() -> None:
    text = (
        "The adblocker idea might be it. I only have time\n"
        "to test this in 2 weeks. I will let you know then...\n"
        'Op 16 aug. 2014 05:13 schreef "Jeff" <info@example.org> het\n'
        "volgende geschreven:\n\n> Hmm, if that is true we need to fix that somehow."
    )
    result = extract_new_part(text)
    assert result.new_text.endswith("I will let you know then...")
    assert result.quoted.startswith("Op 16 aug.")


# --- Outlook-style header blocks ------------------------------------------------------------

OUTLOOK_BLOCKS = {
    "en": "From: Jane <jane@example.com>\nSent: Monday, 5 June 2017 12:22\nTo: IT\nSubject: VPN",
    "de": "Von: Jane <jane@example.com>\nGesendet: Montag, 5. Juni 2017 12:22\nAn: IT\n"
    "Betreff: VPN",
    "fr": "De : Jane <jane@example.com>\nEnvoyé : lundi 5 juin 2017 12:22\nÀ : IT\nObjet : VPN",
    "es": "De: Jane <jane@example.com>\nEnviado: lunes, 5 de junio de 2017 12:22\nPara: IT\n"
    "Asunto: VPN",
    "it": "Da: Jane <jane@example.com>\nInviato: lunedì 5 giugno 2017 12:22\nA: IT\nOggetto: VPN",
    "nl": "Van: Jane <jane@example.com>\nVerzonden: maandag 5 juni 2017 12:22\nAan: IT\n"
    "Onderwerp: VPN",
    "pt": "De: Jane <jane@example.com>\nEnviada em: segunda-feira, 5 de junho de 2017\nPara: IT\n"
    "Assunto: VPN",
    "sv": "Från: Jane <jane@example.com>\nSkickat: den 5 juni 2017 12:22\nTill: IT\nÄmne: VPN",
    "da": "Fra: Jane <jane@example.com>\nSendt: 5. juni 2017 12:22\nTil: IT\nEmne: VPN",
    "pl": "Od: Jane <jane@example.com>\nWysłano: poniedziałek, 5 czerwca 2017 12:22\nDo: IT\n"
    "Temat: VPN",
    "ru": "От: Jane <jane@example.com>\nОтправлено: 5 июня 2017 г. 12:22\nКому: IT\nТема: VPN",
    "fi": "Lähettäjä: Jane <jane@example.com>\nLähetetty: 5. kesäkuuta 2017 12.22\n"
    "Vastaanottaja: IT\nAihe: VPN",
    "zh": "发件人: Jane <jane@example.com>\n发送时间: 2017年6月5日 12:22\n收件人: IT\n主题: VPN",
    "ja": "差出人: Jane <jane@example.com>\n送信日時: 2017年6月5日 12:22\n宛先: IT\n件名: VPN",
}


@pytest.mark.parametrize(("language", "block"), OUTLOOK_BLOCKS.items())
def test_outlook_header_block_in_many_languages(language: str, block: str) -> None:
    result = extract_new_part(f"{REPLY}\n\n{block}\n\n{ORIGINAL}")
    assert result.new_text == REPLY
    assert result.quoted.startswith(block.split("\n", maxsplit=1)[0])
    assert ORIGINAL in result.quoted
    assert result.signal.startswith("outlook header block (")
    assert language in result.signal or language in {"pt", "sv"}


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "-----Mensaje original-----",
        "________________________________",
        "----- Original Message -----",
    ],
)
def test_separator_line_above_a_header_block_is_part_of_the_quote(separator: str) -> None:
    text = f"{REPLY}\n\n{separator}\n{OUTLOOK_BLOCKS['en']}\n\n{ORIGINAL}"
    result = extract_new_part(text)
    assert result.new_text == REPLY
    assert result.quoted.startswith(separator)


def test_markdown_bold_header_block_from_html_conversion() -> None:
    block = "*From:* Kim [mailto:kim@example.com]\n*Sent:* Monday, January 15, 2018\n*To:* me"
    result = extract_new_part(f"{REPLY}\n\n{block}\n*Subject:* Hi\n\n{ORIGINAL}")
    assert result.new_text == REPLY


def test_original_message_marker_without_headers() -> None:
    result = extract_new_part(f"{REPLY}\n\n-------- Original Message --------\n\n{ORIGINAL}")
    assert result.new_text == REPLY
    assert result.signal == "original message marker (en)"


def test_header_like_lines_in_the_reply_are_not_a_block() -> None:
    text = "Q: Which printer?\nA: The one on floor 3.\n\nTo: whom it may concern"
    assert extract_new_part(text).new_text == text


# --- posting styles ---------------------------------------------------------------------------


def test_top_posting_cuts_the_quote() -> None:
    text = f"{REPLY}\n\nOn Tue, 2 Jan 2024 at 09:00, IT <it@example.com> wrote:\n> {ORIGINAL}\n"
    result = extract_new_part(text)
    assert result.new_text == REPLY
    assert result.quoted.endswith(ORIGINAL)


def test_greeting_then_the_clients_quote_then_the_answer() -> None:
    text = (
        "Hi,\nOn Tue, 2011-03-01 at 18:02 +0530, IT wrote:\n"
        f"> {ORIGINAL}\n> Regards, IT\n\nYou can delete the keys one at a time."
    )
    result = extract_new_part(text)
    assert result.new_text == "Hi,\n\nYou can delete the keys one at a time."
    assert result.quoted.startswith("On Tue, 2011-03-01")
    assert result.signal == "quote header (en)"


def test_bottom_posting_cuts_the_leading_quote() -> None:
    text = f"On 04/02/2012 06:26 PM, IT wrote:\n> {ORIGINAL}\n\n{REPLY}"
    result = extract_new_part(text)
    assert result.new_text == REPLY
    assert result.quoted.startswith("On 04/02/2012 06:26 PM, IT wrote:")


def test_interleaved_answers_keep_the_questions_between_them() -> None:
    text = (
        "On Mon, 1 Jan 2024 at 10:00, IT <it@example.com> wrote:\n"
        "> Which printer is it?\n\n"
        "The one on floor 3.\n\n"
        "> Did you restart it?\n\n"
        "Yes, twice.\n\n"
        "> Regards, IT\n"
    )
    result = extract_new_part(text)
    assert result.new_text == ("The one on floor 3.\n\n> Did you restart it?\n\nYes, twice.")
    assert "Which printer is it?" in result.quoted
    assert "Regards, IT" in result.quoted
    assert result.signal == "interleaved > quote"


def test_attribution_inside_kept_interleaved_part_is_dropped() -> None:
    text = (
        "See my answers below.\n"
        "On Tue, 2011-03-01 at 18:02 +0530, IT wrote:\n"
        "> Which printer?\n\n"
        "Floor 3.\n\n"
        "> Restarted?\n\n"
        "Yes."
    )
    result = extract_new_part(text)
    assert "On Tue" not in result.new_text
    assert result.new_text.startswith("See my answers below.\n\n> Which printer?")
    assert result.new_text.endswith("Yes.")


def test_selected_quote_without_attribution_stays_as_context() -> None:
    text = "> Could you tell me the computer name?\n\nIt is PC-1234."
    result = extract_new_part(text)
    assert result.new_text == text
    assert result.signal == "none"


def test_wrapped_quote_line_without_marker_stays_in_the_quote() -> None:
    text = (
        f"{REPLY}\n\nIl giovedì, 8 dicembre 2016, Company <questions@example.com>\nha scritto:\n"
        "> Lorem ipsum dolor sit amet, consectetur adipiscing elit. Nullam pharetra d\n"
        "ignissim odio?\n>\n> Vestibulum nec dui luctus.\n"
    )
    assert extract_new_part(text).new_text == REPLY


def test_supercite_prefixes_are_quotes() -> None:
    text = f"{REPLY}\n\nRichard> {ORIGINAL}\nRichard> More.\n"
    result = extract_new_part(text)
    assert result.new_text == REPLY
    assert result.signal == "> quote"


# --- forwards ---------------------------------------------------------------------------------


def test_forward_below_new_text_goes_to_forwarded() -> None:
    text = (
        "Can you look at this error?\n\n"
        "---------- Forwarded message ---------\n"
        "From: Monitor <monitor@example.com>\nDate: Tue, Jan 01, 2019 at 12:00 PM\n"
        "Subject: Disk full\nTo: <me@example.com>\n\n"
        "/dev/sda1 is 100% full."
    )
    result = extract_new_part(text)
    assert result.new_text == "Can you look at this error?"
    assert result.forwarded.startswith("---------- Forwarded message")
    assert "/dev/sda1 is 100% full." in result.forwarded
    assert result.quoted == ""
    assert result.signal == "forwarded message marker (en)"


def test_bare_forward_keeps_the_forwarded_body_as_new_text() -> None:
    text = (
        "-------- Weitergeleitete Nachricht --------\n"
        "Von: Monitor <monitor@example.com>\nDatum: 01.01.2019 12:00\n"
        "Betreff: Platte voll\nAn: ich@example.com\n\n"
        "/dev/sda1 ist zu 100% belegt."
    )
    result = extract_new_part(text)
    assert result.new_text == "/dev/sda1 ist zu 100% belegt."
    assert result.forwarded.startswith("-------- Weitergeleitete Nachricht")
    assert "Betreff: Platte voll" in result.forwarded


def test_apple_mail_forward_inside_quote_marks() -> None:
    text = (
        "FYI\n\n> Begin forwarded message:\n>\n> From: A <a@example.com>\n"
        "> Subject: Outage\n>\n> The VPN is down."
    )
    result = extract_new_part(text)
    assert result.new_text == "FYI"
    assert "The VPN is down." in result.forwarded
    assert result.signal == "forwarded message"


def test_outlook_forward_is_recognised_by_its_subject() -> None:
    text = (
        "Please handle.\n\n"
        "From: Jane <jane@example.com>\nSent: Monday, 5 June 2017 12:22\nTo: Bob\n"
        "Subject: FW: Laptop broken\n\nMy laptop does not start."
    )
    result = extract_new_part(text)
    assert result.new_text == "Please handle."
    assert "My laptop does not start." in result.forwarded


def test_forward_of_a_forward_reaches_the_innermost_body() -> None:
    text = (
        "Gesendet: Mittwoch, 03. Februar 2016 um 12:43 Uhr\nVon: M <m@example.com>\n"
        "An: it@example.com\nBetreff: Fw: Zugang\n\n--\nMy sig\n"
        "Gesendet: Freitag, 22. Januar 2016 um 11:52 Uhr\nVon: X <x@example.com>\n"
        "An: m@example.com\nBetreff: Zugang\n"
        "Bitte das Passwort zurücksetzen."
    )
    result = extract_new_part(text)
    assert result.new_text == "Bitte das Passwort zurücksetzen."


# --- never empty, signals ---------------------------------------------------------------------


def test_everything_quoted_keeps_the_whole_text_and_says_so() -> None:
    text = "> Email with only a quote.\n> Second line."
    result = extract_new_part(text)
    assert result.new_text == text
    assert result.quoted == text
    assert result.signal.startswith("all quoted, kept whole text")


def test_header_block_on_top_keeps_the_whole_text() -> None:
    text = "\nFrom: foo@example.com <foo@example.com>\n\nMy email is <foo@example.com>"
    result = extract_new_part(text)
    assert result.new_text == text.strip()
    assert (
        result.quoted == "From: foo@example.com <foo@example.com>\n\nMy email is <foo@example.com>"
    )


def test_attribution_on_top_without_quote_marks_keeps_what_follows() -> None:
    text = (
        'On 8 May 2017 17:34, "Andy" <andy@example.com> wrote:\n\n'
        "    nil && 2.0\n\nIt should be: 2.0"
    )
    result = extract_new_part(text)
    assert result.new_text == "    nil && 2.0\n\nIt should be: 2.0"


def test_empty_and_blank_text() -> None:
    assert extract_new_part("") == TrimmedReply("", "", "", "none")
    assert extract_new_part(" \n\r\n\t") == TrimmedReply("", "", "", "none")


def test_plain_text_is_returned_as_is() -> None:
    text = "Hello,\n\nmy VPN disconnects every 5 minutes.\n\n- Windows 11\n- Client 4.2"
    result = extract_new_part(text)
    assert result == TrimmedReply(text, "", "", "none")


def test_crlf_line_ends() -> None:
    result = extract_new_part(f"{REPLY}\r\n\r\nOn Mon, 1 Jan 2024, A <a@example.com> wrote:\r\n> x")
    assert result.new_text == REPLY


def test_mobile_footer_ends_the_new_part() -> None:
    text = f"{REPLY}\n\nSent from my iPhone\n\n{ORIGINAL}"
    result = extract_new_part(text)
    assert result.new_text == REPLY
    assert result.signature == "Sent from my iPhone"
    assert result.quoted == ORIGINAL
    assert result.signal == "mobile footer"


@pytest.mark.parametrize(
    "line",
    [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy s5 Octacore device",
        "Sent from my cell, please excuse any typos.",
        "Sent from Outlook Mobile<https://aka.ms/o0ukef>",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Enviado desde mi iPhone",
        "Verzonden met BlackBerry Work",
        "Sendt fra min iPad",
        "從我的 iPhone 傳送",
    ],
)
def test_mobile_footers(line: str) -> None:
    assert is_mobile_footer(clean(line))


@pytest.mark.parametrize(
    "line",
    [
        "Sent from my desk, is much easier then my mobile phone.",
        "Sent from the admin account yesterday",
        "I sent from my laptop a report to the team about the outage",
    ],
)
def test_prose_is_not_a_mobile_footer(line: str) -> None:
    assert not is_mobile_footer(clean(line))


def test_marker_lines() -> None:
    assert marker_kind(clean("-----Original Message-----")) is not None
    assert marker_kind(clean("Begin forwarded message:")) is not None
    assert marker_kind(clean("The original message was lost")) is None


def test_match_attribution_reports_the_lines() -> None:
    lines = [clean(x) for x in ["On Wed, Dec 9, Mister", "<m@example.com>", "wrote:", "> hi"]]
    found = match_attribution(lines, 0)
    assert found is not None
    assert (found.start, found.end, found.language) == (0, 3, "en")


# --- HTML -------------------------------------------------------------------------------------

GMAIL_HTML = (
    '<div dir="ltr">Hi. I am fine.<div><br></div><div>Thanks,</div><div>Alex</div></div>'
    '<div class="gmail_quote"><div class="gmail_attr">On Thu, Jun 26, 2014 at 2:14 PM, '
    'Sasha &lt;a@example.com&gt; wrote:<br></div><blockquote class="gmail_quote">'
    "Hello! How are you?</blockquote></div>"
)


def test_html_gmail_quote() -> None:
    result = extract_new_part("ignored when the HTML has markers", html=GMAIL_HTML)
    assert result.new_text == "Hi. I am fine.\n\nThanks,\nAlex"
    assert "Hello! How are you?" in result.quoted
    assert result.signal == "html gmail_quote"


@pytest.mark.parametrize(
    ("markup", "signal"),
    [
        ('<blockquote type="cite">old</blockquote>', "html blockquote"),
        ('<div id="divRplyFwdMsg">From: x</div><div>old</div>', "html divRplyFwdMsg"),
        ('<div id="appendonsend"></div><hr><div>From: x<br>old</div>', "html appendonsend"),
        ('<div class="yahoo_quoted">old</div>', "html yahoo_quoted"),
        ('<span id="OLK_SRC_BODY_SECTION">old</span>', "html OLK_SRC_BODY_SECTION"),
        (
            '<div class="moz-cite-prefix">On x wrote:</div><blockquote>old</blockquote>',
            "html moz-cite-prefix",
        ),
    ],
)
def test_html_quote_markers(markup: str, signal: str) -> None:
    result = extract_new_part("", html=f"<html><body><p>New text</p>{markup}</body></html>")
    assert result.new_text == "New text"
    assert "old" in result.quoted
    assert result.signal == signal


def test_html_signature_marker() -> None:
    html = '<div>Printer fixed?</div><div class="gmail_signature">Jane Doe<br>IT</div>'
    result = extract_new_part("", html=html)
    assert result.new_text == "Printer fixed?"
    assert result.signature == "Jane Doe\nIT"


def test_html_forward_goes_to_forwarded() -> None:
    html = (
        '<div>Please check</div><div class="gmail_quote"><div>---------- Forwarded message '
        "---------<br>From: A &lt;a@example.com&gt;<br>Subject: x</div><div>Body</div></div>"
    )
    result = extract_new_part("", html=html)
    assert result.new_text == "Please check"
    assert "Body" in result.forwarded
    assert result.quoted == ""


def test_html_without_markers_falls_back_to_the_text() -> None:
    text = f"{REPLY}\n\nOn Mon, 1 Jan 2024, A <a@example.com> wrote:\n> old"
    result = extract_new_part(text, html="<p>Thanks, that fixed it.</p><p>On Mon ...</p>")
    assert result.new_text == REPLY


def test_html_with_quote_on_top_falls_back_to_the_text() -> None:
    html = '<blockquote type="cite">old</blockquote><p>answer</p>'
    result = extract_new_part("> old\n\nanswer", html=html)
    assert result.new_text == "answer"


# --- hostile input ----------------------------------------------------------------------------


def test_five_megabytes_finish_quickly() -> None:
    text = (f"{REPLY}\n" + "word " * 20 + "\n") * 50_000 + "On x, A <a@example.com> wrote:\n"
    start = time.perf_counter()
    result = extract_new_part(text)
    assert time.perf_counter() - start < 10  # generous: catches quadratic blow-ups, not load
    assert len(result.new_text) > 4_000_000


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5_000_000,
        ("1" * 300 + ":\n") * 15_000,
        ("--\ntext line\n") * 300_000,
        ("_____\n") * 600_000,
        ("From: a@b.com\n") * 200_000,
        ("On Mon, 1 Jan 2024 at 10:00, Alice <\n") * 100_000,
        ("> " + "q" * 98 + "\n") * 50_000,
        "\n" * 2_000_000 + "hello",
    ],
    ids=["one-line", "digits", "delimiters", "rules", "from", "wrapped", "quotes", "blank"],
)
def test_pathological_texts_are_bounded(text: str) -> None:
    start = time.perf_counter()
    result = extract_new_part(text)
    assert time.perf_counter() - start < 10  # generous: catches quadratic blow-ups, not load
    assert result.new_text.strip()


def test_html_nesting_is_bounded() -> None:
    html = "<div>" * 100_000 + '<blockquote type="cite">' + "<p>x</p>" * 100_000
    start = time.perf_counter()
    extract_new_part("text", html=html)
    assert time.perf_counter() - start < 10  # generous: catches quadratic blow-ups, not load


def test_scan_limit_leaves_the_rest_to_the_last_decision() -> None:
    config = TrimConfig(max_scan_lines=10)
    text = "\n".join(f"line {i}" for i in range(20)) + "\nOn x, A <a@example.com> wrote:\n> q"
    result = extract_new_part(text, config=config)
    assert result.new_text == text  # the attribution lies past the examined lines


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Hello",
                "> quoted",
                "",
                "-- ",
                "Sent from my iPhone",
                "On Mon, 1 Jan 2024, A <a@example.com> wrote:",
                "From: A <a@example.com>",
                "Sent: Monday",
                "-----Original Message-----",
                "Regards,",
                "Jane Doe",
                "jane@example.com",
                "+49 30 1234567",
                "---------- Forwarded message ---------",
            ]
        )
        | st.text(max_size=40),
        max_size=25,
    )
)
def test_never_empty_when_something_was_written(lines: list[str]) -> None:
    text = "\n".join(lines)
    result = extract_new_part(text)
    assert bool(result.new_text.strip()) == bool(text.strip())
    assert result.signal
