"""Impact and urgency phrases in several languages."""

import pytest

from classifier.labels import Impact, Urgency
from classifier.signals import find_signals


@pytest.mark.parametrize(
    ("text", "impact"),
    [
        ("The whole office cannot print", Impact.SITE),
        ("Nobody on this floor has Wi-Fi", Impact.SITE),
        ("Everyone in my team lost access to the share", Impact.TEAM),
        ("Several users report that Outlook crashes", Impact.TEAM),
        ("All users are unable to log in", Impact.ORGANISATION),
        ("The entire company has no internet", Impact.ORGANISATION),
        ("Das ganze Büro kann nicht drucken", Impact.SITE),
        ("Niemand kann sich anmelden", Impact.ORGANISATION),
        ("Tout le monde est déconnecté", Impact.ORGANISATION),
        ("Toda la oficina sin internet", Impact.SITE),
        ("Iedereen heeft last van de storing", Impact.ORGANISATION),
        ("Tutti gli utenti non riescono ad accedere", Impact.ORGANISATION),
        ("Todos os usuários sem e-mail", Impact.ORGANISATION),
    ],
)
def test_impact_phrases(text: str, impact: Impact) -> None:
    assert find_signals(text).impact_floor is impact


@pytest.mark.parametrize(
    "text",
    [
        "Hi everyone, my laptop is slow",
        "Hallo zusammen, mein Drucker ist kaputt",
        "Not everyone, only me: my mouse is broken",
        "Dear all, my password expired",
    ],
)
def test_greetings_and_narrowing_say_nothing_about_impact(text: str) -> None:
    assert find_signals(text).impact_floor is None


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        ("Production down since 9:00", Urgency.CRITICAL),
        ("the web shop is down, customers cannot pay", Urgency.CRITICAL),
        ("Produktion steht!", Urgency.CRITICAL),
        ("production arrêtée dans l'usine", Urgency.CRITICAL),
        ("URGENT: cannot open the report", Urgency.HIGH),
        ("please fix asap", Urgency.HIGH),
        ("I cannot work without my laptop", Urgency.HIGH),
        ("Bitte dringend, ich kann nicht arbeiten", Urgency.HIGH),
        ("no puedo trabajar", Urgency.HIGH),
        ("Non riesco a lavorare", Urgency.HIGH),
        ("kan niet werken", Urgency.HIGH),
        ("Não consigo trabalhar", Urgency.HIGH),
    ],
)
def test_urgency_phrases(text: str, urgency: Urgency) -> None:
    assert find_signals(text).urgency_floor is urgency


@pytest.mark.parametrize(
    "text",
    [
        "Not urgent: a new mouse please",
        "No rush, whenever you have time",
        "Keine Eile, neue Tastatur",
        "pas urgent",
        "sin prisa",
    ],
)
def test_no_rush_is_not_urgent(text: str) -> None:
    signals = find_signals(text)
    assert signals.urgency_floor is None
    assert signals.says_it_can_wait


def test_urgent_words_beat_no_rush() -> None:
    signals = find_signals("no rush on the mouse, but production is down")
    assert signals.urgency_floor is Urgency.CRITICAL
    assert not signals.says_it_can_wait


def test_plain_text_has_no_signals() -> None:
    assert find_signals("My printer shows a paper jam").signals == ()


def test_huge_hostile_text_is_cut_and_fast() -> None:
    text = "everyone " * 200_000 + "production down"
    signals = find_signals(text)
    # The tail is beyond the scanned part; the phrases seen are evidence-sized.
    assert signals.urgency_floor is None
    assert all(len(signal.phrase) <= 60 for signal in signals.signals)
