"""Reply and signature trimming against the real corpora in ../shared/data/mail.

Every case of the reply-trimming corpora is checked with `bench.corpora_replies.check_case`.
A case listed in ACCEPTED is a known, reasoned disagreement with the upstream expectation; the
test fails if an unlisted case mismatches and also if a listed one starts to pass (then it
must come off the list).
"""

import pytest

from bench.corpora_replies import CORPORA, DATA, Case, check_case, load_cases

ACCEPTED: dict[str, str] = {
    "reply-parser/github:email_1_1": (
        "the '-Abhishek Kona' sign-off is kept in the new part; GitHub's parser treats any line "
        "starting with '-' and a letter as a signature (it also cuts 'ls -l' output), and the "
        "crisp-oss suite expects the same sign-off to stay visible (decision 0033)"
    ),
    "reply-parser/willdurand:email_1": (
        "same text and same reason as github:email_1_1: a name sign-off stays (decision 0033)"
    ),
    "discourse-reply-trimmer/embedded_email_1": (
        "text below the client's quote of the whole previous mail is kept as the answer of a "
        "bottom-posted reply (greeting, quote, answer), as talon and GitHub's parser read it; "
        "discourse takes it for a trailer (decision 0031)"
    ),
    "discourse-reply-trimmer/spam_1": (
        "a mail that is nothing but nested quotes keeps its whole text as the new part: the new "
        "part is never empty when something was written (decision 0030); discourse returns ''"
    ),
}


def _cases() -> list[Case]:
    if not DATA.is_dir():
        return []
    return [case for corpus in CORPORA for case in load_cases(corpus)]


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="the shared corpora are not available")
@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_trimming_matches_the_corpus(case: Case) -> None:
    problems = check_case(case.corpus, case)
    if case.key in ACCEPTED:
        assert problems, f"{case.key} passes now; remove it from ACCEPTED"
    else:
        assert not problems, "\n".join(problems)


def test_accepted_cases_exist() -> None:
    if not CASES:
        pytest.skip("the shared corpora are not available")
    keys = {case.key for case in CASES}
    assert set(ACCEPTED) <= keys


def test_every_corpus_has_cases() -> None:
    if not CASES:
        pytest.skip("the shared corpora are not available")
    assert {case.corpus for case in CASES} == set(CORPORA)
