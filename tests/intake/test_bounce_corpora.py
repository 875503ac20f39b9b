"""Screening against the real corpora in ../shared/data/mail (bench.corpora_screening checks).

Every case whose manifest states a screening expectation is a test. The cases listed in
ACCEPTED disagree with their upstream expectation on purpose (the reason says why); such a case
failing is expected, and one of them starting to pass fails the test so the list stays honest.
"""

from __future__ import annotations

import pytest

from bench.corpora_screening import CHECKED_CORPORA, DATA, check_case, checked_cases

ACCEPTED: dict[str, str] = {
    # Disagreements about what the mail is.
    "sisimai/arf-26": "Apple Mail's unsubscribe request carries Auto-Submitted: auto-replied and "
    "no report part; we call it an auto-reply, Sisimai counts it as feedback",
    "sisimai/lhost-fml-02": "a mailing-list manager telling a non-member it may not post; it "
    "carries the list's headers, so it is list mail to us, a bounce to Sisimai",
    "sisimai/lhost-fml-03": "a list manager's 'duplicated Message-ID' alert from its -admin "
    "address with no MTA or auto-submitted signal; we cannot tell it from a person",
    "flufl-bounce/simple_20": "a gateway answering as a person ('RE: ...' subject, personal From, "
    "no null sender, no auto headers); treating it as a bounce would also drop a person's reply "
    "that quotes a bounce",
    "bounceparser-perl/spam-with-image": "an ordinary spam mail with no bounce signal at all; "
    "BounceParser's test marks it a bounce",
    "bounceparser-perl/warning-8": "a DSN with Action: delayed; by design a delay is a soft "
    "bounce (as Zammad and Mailman treat it), BounceParser calls it no bounce",
    # Disagreements about hard or soft.
    "sisimai/lhost-exim-60": "Exim: 'mailbox is full: retry timeout exceeded' without a code; the "
    "MTA gave up after retries, which we count soft (Sisimai's data says 5.0.0 here)",
    "sisimai/lhost-opensmtpd-12": "a delay warning ('temporary failure report', Action: delayed); "
    "a delay is soft, Sisimai's reason 'notaccept' is hard",
    "sisimai/lhost-sendmail-56": "the DSN says Status: 5.5.0 for a 554 reply; Sisimai takes a "
    "4.7.0 from a later line of the transcript",
    "sisimai/rhost-franceptt-10": "the DSN says Status: 4.5.0 (the reporting MTA will not "
    "retry but classes it transient); Sisimai prefers the 5.5.0 quoted in Diagnostic-Code",
    # Disagreements about who bounced.
    "sisimai/rfc3464-01": "the notice also names a local alias without a domain ('<nekochan>'), "
    "which Sisimai counts as a second recipient",
    "sisimai/rhost-cox-01": "the same recipient reported twice in two DSN parts; we list it once",
    "flufl-bounce/simple_14": "the notice names the address we sent to and, in the SMTP reply, "
    "the mailbox it forwards to; we report only the address we sent to",
}


def _cases() -> list[tuple[str, dict[str, object]]]:
    if not DATA.is_dir():
        return []
    return [(corpus, case) for corpus in CHECKED_CORPORA for case in checked_cases(corpus)]


CASES = _cases()


def test_the_corpora_are_there() -> None:
    if not DATA.is_dir():
        pytest.skip(f"corpora not found at {DATA}")
    assert len(CASES) > 500


def test_every_accepted_mismatch_names_a_checked_case() -> None:
    if not DATA.is_dir():
        pytest.skip(f"corpora not found at {DATA}")
    known = {f"{corpus}/{case['id']}" for corpus, case in CASES}
    assert set(ACCEPTED) <= known


@pytest.mark.parametrize(
    ("corpus", "case"), CASES, ids=[f"{corpus}/{case['id']}" for corpus, case in CASES]
)
def test_screening_matches_the_corpus(corpus: str, case: dict[str, object]) -> None:
    case_id = f"{corpus}/{case['id']}"
    problems = check_case(corpus, case)
    if case_id in ACCEPTED:
        assert problems, f"{case_id} now passes; remove it from ACCEPTED"
        return
    assert not problems, "\n".join(problems)
