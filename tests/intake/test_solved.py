"""Does a reply say "solved"? Statements and close requests in many languages count; negated,
conditional, hedged, asked and "but" ones do not, nor anything in the quoted part."""

from __future__ import annotations

import time

import pytest

from intake.solved import MAX_CHARS, PhraseKind, detect_solved, new_part

SOLVED = [
    ("SOLVED", "en"),
    ("solved", "en"),
    ("Solved, thank you!", "en"),
    ("It works now, thanks.", "en"),
    ("The restart did the trick.", "en"),
    ("I fixed it myself.", "en"),
    ("Problem solved.", "en"),
    ("All good now", "en"),
    ("Thanks!\n\nworks again", "en"),
    ("Es funktioniert wieder, danke!", "de"),
    ("Ça marche maintenant, merci.", "fr"),
    ("Ya funciona, gracias.", "es"),
    ("Ora funziona, grazie.", "it"),
    ("Werkt weer, bedankt!", "nl"),
    ("Já funciona, obrigado.", "pt"),
    ("Fungerar nu, tack!", "sv"),
    ("Toimii nyt, kiitos.", "fi"),
    ("Już działa, dzięki.", "pl"),
    ("Už to funguje, díky.", "cs"),
    ("解決しました。ありがとうございます。", "ja"),
    ("已经解决了，谢谢。", "zh"),
]
CLOSE_REQUESTS = [
    "You can close the ticket.",
    "Could you close it please?",
    "Das Ticket kann geschlossen werden.",
]
NOT_SOLVED = [
    ("Not solved.", "still a problem"),
    ("It is still not working.", "still a problem"),
    ("Doesn't work.", "still a problem"),
    ("Same error as before.", "still a problem"),
    ("Thanks for the article, but it did not help.", "still a problem"),
    ("Funktioniert immer noch nicht.", "still a problem"),
    ("Ça ne marche pas.", "still a problem"),
    ("Sigue sin funcionar.", "still a problem"),
    ("まだ解決していません。", "still a problem"),
    ("还没解决。", "still a problem"),
    ("If it works I will tell you.", "conditional"),
    ("Once it works I'll let you know.", "conditional"),
    ("It should be fixed now.", "uncertain"),
    ("Is it solved?", "a question"),
    ("It works now but it is very slow.", "with a 'but'"),
    ("Please don't close the ticket yet.", "no phrase"),
    ("It is not solved yet.", "still a problem"),
    ("We never fixed it.", "negated"),
    ("Hello, the printer jams again.", "no phrase"),
    ("", "no text"),
]


@pytest.mark.parametrize(("text", "language"), SOLVED)
def test_a_statement_that_it_is_solved_counts(text: str, language: str) -> None:
    verdict = detect_solved(text)
    assert verdict.solved, verdict
    assert verdict.language == language
    assert verdict.kind is PhraseKind.STATE
    assert verdict.phrase


@pytest.mark.parametrize("text", CLOSE_REQUESTS)
def test_a_request_to_close_counts(text: str) -> None:
    verdict = detect_solved(text)
    assert verdict.solved, verdict
    assert verdict.kind is PhraseKind.CLOSE


@pytest.mark.parametrize(("text", "why"), NOT_SOLVED)
def test_what_does_not_say_solved(text: str, why: str) -> None:
    verdict = detect_solved(text)
    assert not verdict.solved
    assert verdict.reason.startswith(why), verdict.reason


def test_only_the_new_part_counts() -> None:
    # Our acknowledgement says "reply with the word SOLVED": its quoted copy must never count.
    quoted = "Still broken.\n\n> If one of them solved your problem, reply SOLVED.\n> Solved!"
    assert not detect_solved(quoted).solved
    bottom = "On Fri, 27 Nov 2026 IT Help Desk wrote:\n> reply with SOLVED\n\nIt is solved."
    assert detect_solved(bottom).solved
    below_header = "It jams again.\n\n-----Original Message-----\nSolved, thanks"
    assert not detect_solved(below_header).solved
    signature = "Hi,\n\nthe printer jams\n-- \nKim | solved-it consulting"
    assert not detect_solved(signature).solved


def test_a_problem_anywhere_in_the_reply_wins() -> None:
    assert not detect_solved("Solved the first part. The VPN still doesn't connect.").solved


def test_hostile_input_is_cut_before_any_rule_runs() -> None:
    huge = "a" * 5_000_000 + " solved"
    started = time.perf_counter()
    verdict = detect_solved(huge)
    assert time.perf_counter() - started < 2.0
    assert not verdict.solved
    assert len(new_part("x" * 100_000)) <= MAX_CHARS
    many_lines = "\n".join(["fine"] * 10_000 + ["solved"])
    assert not detect_solved(many_lines).solved  # past the lines read, it is a story
