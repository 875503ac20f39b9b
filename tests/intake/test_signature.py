"""Signature detection: delimiters, closings, contact blocks, recurring signatures."""

import pytest

from intake.signature import (
    SignatureKind,
    find_recurring_signature,
    find_signature_start,
    is_closing,
    is_contact_line,
    is_rule_or_delimiter,
)
from intake.trimming import extract_new_part

BODY = "Hi,\n\nthe printer on floor 3 jams since Monday.\nCan someone have a look?"


def _split(text: str, sender_name: str | None = None) -> tuple[str, str]:
    result = extract_new_part(text, sender_name=sender_name)
    return result.new_text, result.signature


def test_rfc3676_delimiter() -> None:
    new, signature = _split(f"{BODY}\n\n-- \nJane Doe\nIT Department")
    assert new == BODY
    assert signature == "-- \nJane Doe\nIT Department"


def test_delimiter_without_the_space() -> None:
    assert _split(f"{BODY}\n\n--\nrick") == (BODY, "--\nrick")


def test_dashes_inside_a_line_are_not_a_delimiter() -> None:
    text = "And here is a fix -- this is not a signature.\n\nkthxbai"
    assert _split(text) == (text, "")


def test_double_dash_list_is_not_a_signature() -> None:
    text = "I need:\n-- first point\n-- second point\n\nThanks!"
    assert _split(text) == (text, "")


def test_delimiter_above_a_long_text_is_not_a_signature() -> None:
    lines = "\n".join(f"Step {i}: do the thing number {i}." for i in range(60))
    text = f"{BODY}\n\n-- \n{lines}"
    assert _split(text)[1] == ""


@pytest.mark.parametrize("rule", ["________________", "=====", "~~~~~~", "***", "————", "__"])
def test_rule_line_above_a_short_block(rule: str) -> None:
    text = f"{BODY}\n\n{rule}\nriak-users mailing list\nhttp://lists.example.com/riak"
    assert _split(text) == (BODY, f"{rule}\nriak-users mailing list\nhttp://lists.example.com/riak")


def test_rule_line_below_an_announcing_line_is_content() -> None:
    text = "New message:\n=====\nName: Jane\nPhone: 555 123 4567\nEmail: jane@example.com"
    assert _split(text) == (text, "")


def test_rule_lines_in_code_fences_are_code() -> None:
    text = "Here is the code:\n\n```\n# comment\n####\ncode()\n```\n\nEnd of the email."
    assert _split(text) == (text, "")


def test_closing_with_a_block_is_a_signature() -> None:
    text = f"{BODY}\n\nRegards,\n\nJohn Doe\nCEO @ Acme !"
    assert _split(text) == (BODY, "Regards,\n\nJohn Doe\nCEO @ Acme !")


@pytest.mark.parametrize(
    "closing",
    ["Mit freundlichen Grüßen", "Cordialement,", "Met vriendelijke groet,", "С уважением,"],
)
def test_closings_in_other_languages(closing: str) -> None:
    text = f"{BODY}\n\n{closing}\n\nBob Smith\nIT-Service GmbH\nTel. +49 30 1234567"
    assert _split(text)[1].startswith(closing)


def test_closing_with_only_a_name_stays_in_the_text() -> None:
    text = f"{BODY}\n\nThanks,\nSome One"
    assert _split(text) == (text, "")


def test_closing_with_the_senders_name_is_the_signature() -> None:
    text = f"{BODY}\n\nThank you,\nNoam"
    assert _split(text, sender_name="Noam") == (BODY, "Thank you,\nNoam")


def test_sender_name_block() -> None:
    text = f"{BODY}\n\nStavros Xxxxxx\nvia mobile"
    assert _split(text, sender_name="Stavros Xxxxxx") == (BODY, "Stavros Xxxxxx\nvia mobile")


def test_contact_block() -> None:
    text = f"{BODY}\n\nGina Xxxxxxxxx\ngina@example.com\n(555) 346-9947\nwww.example.com"
    assert _split(text) == (
        BODY,
        "Gina Xxxxxxxxx\ngina@example.com\n(555) 346-9947\nwww.example.com",
    )


def test_address_in_a_sentence_is_not_a_contact_block() -> None:
    text = "Please write to\n\njane@example.com\n\nReply: jane@example.com"
    assert _split(text) == (text, "")


def test_list_after_a_closing_is_content() -> None:
    text = "Hi,\nthe laptop is broken.\nThanks!\n- tried a restart\n- tried another charger"
    assert _split(text) == (text, "")


def test_closing_alone_is_kept() -> None:
    assert _split("Thanks!") == ("Thanks!", "")


def test_known_signature_is_cut_wherever_it_starts() -> None:
    known = "~~~~~~~~\nBob Smith\nABC Organisation\nPhone: +49 1234 567 890"
    text = (
        f"{BODY}\n\n~~~~~~~~\n\nBob Smith\n\nABC Organisation\n\nPhone: +49 1234 567 890\n"
        + ("Disclaimer line that is rather long and goes on and on. " * 3 + "\n") * 30
    )
    result = extract_new_part(text, known_signatures=[known])
    assert result.new_text == BODY
    assert result.signature.startswith("~~~~~~~~\n\nBob Smith")
    assert result.signal == "recurring signature"


def test_signature_below_the_quote() -> None:
    text = (
        f"{BODY}\n\nOn Mon, 1 Jan 2024, IT <it@example.com> wrote:\n> old\n\n"
        "-- \nJane Doe\nIT Department"
    )
    result = extract_new_part(text)
    assert result.new_text == BODY
    assert result.signature == "-- \nJane Doe\nIT Department"
    assert result.quoted.startswith("On Mon")


def test_signature_between_reply_and_quote() -> None:
    text = "Hello \n\n-- \nxxx\nSent with Sparrow\n\n\nOn Tue, 3 Apr 2012, x wrote:\n\n> Hi"
    result = extract_new_part(text)
    assert result.new_text == "Hello"
    assert result.signature == "-- \nxxx\nSent with Sparrow"
    assert result.quoted.startswith("On Tue")


def test_find_signature_start_on_lines() -> None:
    lines = ["Hello", "", "-- ", "Jane"]
    found = find_signature_start(lines)
    assert found is not None
    assert (found.index, found.kind) == (2, SignatureKind.DELIMITER)
    assert find_signature_start(["-- ", "Jane"]) is None  # nothing above it


def test_line_predicates() -> None:
    assert is_rule_or_delimiter("-- ") is SignatureKind.DELIMITER
    assert is_rule_or_delimiter("______") is SignatureKind.RULE
    assert is_rule_or_delimiter("-- a") is None
    assert is_closing("Best regards,")
    assert is_closing("Cheers 🎉")
    assert not is_closing("Best regards to your team from all of us here in Berlin")
    assert is_contact_line("Tel.: +49 911 6760")
    assert is_contact_line("jane@example.com")
    assert not is_contact_line("<a@b.example>: message size 18876259 exceeds size")
    assert not is_contact_line("from 5,000.00euro to 150,000.000.00euro, so")


# --- recurring signatures ---------------------------------------------------------------------

SIGNATURE = "Mit freundlichen Grüßen\n\nBob Smith\nIT-Service\nTel.: +49 911 6760\nwww.example.com"


def _message(body: str, tail: str = "") -> str:
    return f"Hi,\n\n{body}\n\n{SIGNATURE}{tail}"


def test_recurring_signature_from_earlier_messages() -> None:
    earlier = [_message("Bitte VPN prüfen."), _message("Drucker geht nicht.\nDanke!")]
    text = _message("Das Passwort ist abgelaufen.")
    assert find_recurring_signature(earlier, text) == SIGNATURE


def test_recurring_signature_ignores_the_quote_below() -> None:
    quote = "\n\nVon: IT <it@example.com>\nGesendet: Montag\nAn: Bob\nBetreff: x\n\n" + SIGNATURE
    earlier = [_message("Bitte VPN prüfen.", quote)]
    text = _message("Das Passwort ist abgelaufen.", quote)
    assert find_recurring_signature(earlier, text) == SIGNATURE


def test_recurring_signature_needs_a_shared_block() -> None:
    assert find_recurring_signature(["Hi,\n\nsomething else\n\nBye"], _message("x")) is None
    assert find_recurring_signature([], _message("x")) is None
    # A shared greeting at the very top is not a signature.
    assert (
        find_recurring_signature(["Hi team,\nall good\n\nfoo"], "Hi team,\nall good\n\nbar") is None
    )


def test_recurring_signature_votes_across_messages() -> None:
    other = "Cheers\nBob from the printer room\nBuilding 7"
    earlier = [_message("a"), _message("b"), f"Hi,\n\nc\n\n{other}"]
    assert find_recurring_signature(earlier, _message("d")) == SIGNATURE


def test_learnt_signature_is_cut_by_the_trimmer() -> None:
    earlier = [_message("Bitte VPN prüfen."), _message("Drucker geht nicht.")]
    text = _message("Das Passwort ist abgelaufen.")
    known = find_recurring_signature(earlier, text)
    assert known is not None
    result = extract_new_part(text, known_signatures=[known])
    assert result.new_text == "Hi,\n\nDas Passwort ist abgelaufen."
    assert result.signature == SIGNATURE
