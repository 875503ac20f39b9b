"""Screening against the real bounce/auto-reply corpora in ../shared/data/mail.

Runs `intake.screening.screen` on every case of the corpora whose manifests state screening
expectations (sisimai, flufl-bounce, bounceparser-perl, and the bounce/auto-reply cases of
zammad, flanker and rt) and compares with what the origin projects' own tests expect. The same
`check_case` is used by tests/intake/test_bounce_corpora.py, so the table here and the test
agree. The other corpora (ordinary mail) are screened too and their verdicts counted: a verdict
other than `normal` there is worth a look, though no upstream expectation decides it.

Usage: .venv/bin/python -m bench.corpora_screening [--quiet]
Prints a pass-rate table per corpus, every mismatch, and a final JSON line.
"""

from __future__ import annotations

import email
import json
import sys
from collections import Counter
from collections.abc import Iterator
from email.message import Message
from email.policy import compat32
from pathlib import Path
from typing import Any

from intake.screening import ScreeningConfig, ScreeningVerdict, ScreenKind, screen

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mail"
CHECKED_CORPORA = ("sisimai", "flufl-bounce", "bounceparser-perl", "zammad", "flanker", "rt")

# A help desk configuration none of the corpora's mail belongs to.
CONFIG = ScreeningConfig(
    own_addresses=frozenset({"helpdesk@deskmail.example.org"}),
    message_id_domain="deskmail.example.org",
)

Case = dict[str, Any]


def load_manifest(corpus: str) -> list[Case]:
    with (DATA / corpus / "manifest.json").open(encoding="utf-8") as handle:
        cases: list[Case] = json.load(handle)["cases"]
    return cases


def load_message(corpus: str, case: Case) -> Message:
    raw = (DATA / corpus / case["files"][0]["path"]).read_bytes()
    return email.message_from_bytes(raw, policy=compat32)


def verdict_for(corpus: str, case: Case) -> ScreeningVerdict:
    return screen(load_message(corpus, case), CONFIG)


def _lower(values: list[str]) -> set[str]:
    return {v.lower() for v in values}


def _recipients(verdict: ScreeningVerdict) -> set[str]:
    return set(verdict.bounce.recipients) if verdict.bounce else set()


def _describe(verdict: ScreeningVerdict) -> str:
    text = f"{verdict.kind} ({verdict.reason})"
    if verdict.bounce:
        b = verdict.bounce
        text += (
            f" rcpts={sorted(b.recipients)} permanent={b.permanent} status={b.status}"
            f" orig={b.original_message_id}"
        )
    return text


def _expect_kind(verdict: ScreeningVerdict, allowed: set[ScreenKind], what: str) -> list[str]:
    if verdict.kind in allowed:
        return []
    wanted = "/".join(sorted(allowed))
    return [f"kind: expected {wanted} ({what}), got {_describe(verdict)}"]


def _sisimai_internal(status: str) -> bool:
    """Sisimai's own x.0.9xx codes: its guess from the reason when the bounce had no code."""
    parts = status.split(".")
    return len(parts) == 3 and parts[1] == "0" and parts[2].startswith("9") and len(parts[2]) == 3


def _sisimai_permanent(recipients: list[dict[str, Any]]) -> bool | None:
    """Hard or soft as Sisimai's data says it.

    A status code the bounce itself carried decides by its class (RFC 3463); without one,
    Sisimai's hard_bounce flag, and then the class of the code Sisimai inferred - except for
    expired messages, whose inferred class Sisimai's own data sets either way (5.0.947 in 14
    cases, 4.0.947 in 8, for the same Exim and Sendmail wording).
    """
    statuses = [str(r.get("dsn_status") or "") for r in recipients]
    real = [s for s in statuses if s and not _sisimai_internal(s)]
    if real:
        return any(s.startswith("5") for s in real)
    if any(r.get("hard_bounce") for r in recipients):
        return True
    inferred = [
        str(r.get("dsn_status") or "")
        for r in recipients
        if r.get("dsn_status") and r.get("reason") != "expired"
    ]
    if not inferred:
        return None
    return any(s.startswith("5") for s in inferred)


def _check_sisimai_bounce(case: Case, verdict: ScreeningVerdict) -> list[str]:
    expected = case["expected"]
    problems = _expect_kind(verdict, {ScreenKind.BOUNCE}, "bounce")
    if problems or verdict.bounce is None:
        return problems
    recipients = expected.get("recipients") or []
    count = expected.get("recipient_count")
    # Sisimai counts every recipient a bounce reports on, delayed ones included.
    reported = {d.address for d in verdict.bounce.details} or set(verdict.bounce.recipients)
    if count is not None and len(reported) != count:
        problems.append(f"recipients: expected {count}, got {len(reported)} {sorted(reported)}")
    permanent = _sisimai_permanent(recipients)
    if permanent is not None and verdict.bounce.permanent != permanent:
        statuses = [r.get("dsn_status") for r in recipients]
        problems.append(
            f"permanent: expected {permanent} (sisimai {statuses}, "
            f"{[r.get('reason') for r in recipients]}), got {verdict.bounce.permanent}"
            f" status={verdict.bounce.status}"
        )
    return problems


def _check_sisimai_bounce_or_report(case: Case, verdict: ScreeningVerdict) -> list[str]:
    problems = _expect_kind(verdict, {ScreenKind.BOUNCE, ScreenKind.REPORT}, "bounce or report")
    if not problems and verdict.kind is ScreenKind.BOUNCE and not _recipients(verdict):
        problems.append("recipients: sisimai decodes at least one, got none")
    return problems


_SISIMAI_KINDS: dict[str, set[ScreenKind]] = {
    "auto_reply_vacation": {ScreenKind.AUTO_REPLY},
    "feedback_report_arf": {ScreenKind.REPORT},
    "delivery_status_delivered": {ScreenKind.REPORT},
    "not_a_bounce": set(ScreenKind) - {ScreenKind.BOUNCE, ScreenKind.REPORT},
}


def _check_sisimai(case: Case, verdict: ScreeningVerdict) -> list[str]:
    kind = str(case["expected"].get("kind", ""))
    if kind == "bounce":
        return _check_sisimai_bounce(case, verdict)
    if kind.startswith("bounce_or_report"):
        return _check_sisimai_bounce_or_report(case, verdict)
    if kind in _SISIMAI_KINDS:
        return _expect_kind(verdict, _SISIMAI_KINDS[kind], kind)
    return []


def _check_flufl(case: Case, verdict: ScreeningVerdict) -> list[str]:
    """flufl.bounce's split is Mailman's: failed (any class) vs delayed (a warning)."""
    expected = case["expected"]
    if "is_bounce" not in expected:
        return []
    problems = _expect_kind(verdict, {ScreenKind.BOUNCE}, "bounce")
    if problems or verdict.bounce is None:
        return problems
    failed = _lower(expected.get("permanent_failure_addresses", []))
    delayed = _lower(expected.get("temporary_failure_addresses", []))
    got = _recipients(verdict)
    if failed | delayed != got:
        problems.append(f"recipients: expected {sorted(failed | delayed)}, got {sorted(got)}")
    actions = {d.address: d.action for d in verdict.bounce.details}
    for address in sorted(got & failed):
        if actions.get(address, "failed") != "failed":
            problems.append(f"action: expected failed for {address}, got {actions[address]}")
    for address in sorted(got & delayed):
        if actions.get(address) != "delayed" or verdict.bounce.permanent:
            problems.append(
                f"action: expected delayed (soft) for {address}, got {actions.get(address)}"
                f" permanent={verdict.bounce.permanent}"
            )
    return problems


_NOT_BOUNCE_KINDS = {
    "auto_reply": {ScreenKind.AUTO_REPLY},
    "auto_reply_vacation": {ScreenKind.AUTO_REPLY},
    "challenge_response": {ScreenKind.AUTO_REPLY},
    "challenge_response_or_whitelist_notice": {ScreenKind.AUTO_REPLY},
    "delivery_warning_or_notice": {ScreenKind.AUTO_REPLY, ScreenKind.REPORT},
}


def _check_bounceparser(case: Case, verdict: ScreeningVerdict) -> list[str]:
    expected = case["expected"]
    problems: list[str] = []
    if "is_bounce" in expected:
        if expected["is_bounce"]:
            problems += _expect_kind(verdict, {ScreenKind.BOUNCE}, "bounce")
        else:
            allowed = _NOT_BOUNCE_KINDS.get(
                str(expected.get("kind")), set(ScreenKind) - {ScreenKind.BOUNCE}
            )
            problems += _expect_kind(verdict, allowed, str(expected.get("kind")))
    if problems:
        return problems
    bounce = verdict.bounce
    got = _recipients(verdict)
    for key in ("addresses", "addresses_preferring_original_recipient"):
        if key in expected and got != _lower(expected[key]):
            problems.append(f"recipients: expected {sorted(expected[key])}, got {sorted(got)}")
    if "min_addresses" in expected and len(got) < int(expected["min_addresses"]):
        problems.append(f"recipients: expected at least {expected['min_addresses']}, got none")
    if "orig_message_id" in expected:
        wanted_id = str(expected["orig_message_id"]).strip("<>")
        got_id = bounce.original_message_id if bounce else None
        if got_id != wanted_id:
            problems.append(f"original_message_id: expected {wanted_id}, got {got_id}")
    if bounce is not None:
        if expected.get("status") and bounce.status != expected["status"]:
            problems.append(f"status: expected {expected['status']}, got {bounce.status}")
        code = str(expected.get("smtp_code") or "")
        hard_reason = expected.get("std_reason") in (
            "user_unknown",
            "domain_error",
            "user_disabled",
        )
        if code[:1] in ("4", "5"):
            if bounce.permanent != (code[0] == "5"):
                problems.append(f"permanent: expected {code[0] == '5'} (SMTP {code})")
        elif hard_reason and not bounce.permanent:
            problems.append(f"permanent: expected True ({expected['std_reason']})")
    return problems


def _check_zammad(case: Case, verdict: ScreeningVerdict) -> list[str]:
    spec = case["expected"].get("spec_behaviour") or {}
    problems: list[str] = []
    if spec.get("is_bounce"):
        problems += _expect_kind(verdict, {ScreenKind.BOUNCE}, "bounce")
        if not problems and verdict.bounce is not None:
            if "delayed" in str(spec.get("bounce_kind", "")) and verdict.bounce.permanent:
                problems.append("permanent: expected a soft bounce (delayed)")
            if not verdict.bounce.original_message_id:
                problems.append("original_message_id: needed to thread the bounce, got none")
    external = spec.get("external_reference")
    if external and "ticket" in str(spec.get("thread_action", "")):
        # Zammad opens or updates a ticket from these system notifications: they must reach
        # the pipeline as a person's mail or as a notification, never dropped as a bounce.
        ok = verdict.kind is ScreenKind.NORMAL or (
            verdict.kind is ScreenKind.AUTO_REPLY and verdict.auto_reply == "notification"
        )
        if not ok:
            problems.append(
                f"kind: expected normal or auto_reply/notification (ticket from"
                f" {external.get('system')}), got {_describe(verdict)}"
            )
    return problems


def _check_flanker(case: Case, verdict: ScreeningVerdict) -> list[str]:
    expected = case["expected"]
    problems: list[str] = []
    if expected.get("is_bounce") or expected.get("is_bounce_for_humans"):
        problems += _expect_kind(verdict, {ScreenKind.BOUNCE}, "bounce")
    elif expected.get("is_bounce") is False:
        problems += _expect_kind(verdict, set(ScreenKind) - {ScreenKind.BOUNCE}, "not a bounce")
    if expected.get("is_delivery_notification"):
        problems += _expect_kind(
            verdict, {ScreenKind.BOUNCE, ScreenKind.REPORT}, "delivery notification"
        )
    elif expected.get("is_delivery_notification") is False:
        problems += _expect_kind(
            verdict, set(ScreenKind) - {ScreenKind.BOUNCE, ScreenKind.REPORT}, "not a DSN"
        )
    if expected.get("is_feedback_report") or expected.get("is_disposition_notification"):
        problems += _expect_kind(verdict, {ScreenKind.REPORT}, "report")
    bounce = verdict.bounce
    if bounce is not None and not problems:
        if expected.get("dsn_status") and bounce.status != expected["dsn_status"]:
            problems.append(f"status: expected {expected['dsn_status']}, got {bounce.status}")
        wanted = expected.get("bounced_recipient")
        if wanted and set(bounce.recipients) != {wanted.lower()}:
            problems.append(f"recipients: expected [{wanted}], got {list(bounce.recipients)}")
        fragment = expected.get("diagnostic_code_contains")
        if fragment and fragment not in " ".join((bounce.diagnostic or "").split()):
            problems.append(
                f"diagnostic: expected to contain {fragment!r}, got {bounce.diagnostic!r}"
            )
    return problems


def _check_rt(case: Case, verdict: ScreeningVerdict) -> list[str]:
    if case["expected"].get("is_bounce"):
        return _expect_kind(verdict, {ScreenKind.BOUNCE}, "bounce")
    return []


_CHECKERS = {
    "sisimai": _check_sisimai,
    "flufl-bounce": _check_flufl,
    "bounceparser-perl": _check_bounceparser,
    "zammad": _check_zammad,
    "flanker": _check_flanker,
    "rt": _check_rt,
}

_SCREENING_KEYS = {
    "zammad": ("spec_behaviour",),
    "flanker": (
        "is_bounce",
        "is_bounce_for_humans",
        "is_delivery_notification",
        "is_feedback_report",
        "is_disposition_notification",
    ),
    "rt": ("is_bounce",),
}


def has_expectation(corpus: str, case: Case) -> bool:
    """Whether the case's manifest states anything screening can be checked against."""
    expected = case.get("expected") or {}
    if corpus == "zammad":
        spec = expected.get("spec_behaviour") or {}
        return bool(spec.get("is_bounce") or spec.get("external_reference"))
    if corpus in _SCREENING_KEYS:
        return any(key in expected for key in _SCREENING_KEYS[corpus])
    if corpus == "flufl-bounce":
        return "is_bounce" in expected
    if corpus == "bounceparser-perl":
        return bool(expected)
    return bool(expected.get("kind"))


def check_case(corpus: str, case: Case) -> list[str]:
    """Mismatches between our verdict and the corpus' stated expectation ([] = pass)."""
    verdict = verdict_for(corpus, case)
    return _CHECKERS[corpus](case, verdict)


def checked_cases(corpus: str) -> Iterator[Case]:
    for case in load_manifest(corpus):
        if has_expectation(corpus, case):
            yield case


def _other_corpora() -> list[str]:
    return sorted(p.name for p in DATA.iterdir() if p.is_dir() and p.name not in CHECKED_CORPORA)


def main(argv: list[str] | None = None) -> int:
    quiet = "--quiet" in (argv if argv is not None else sys.argv[1:])
    rows: list[tuple[str, int, int]] = []
    mismatches: list[str] = []
    for corpus in CHECKED_CORPORA:
        total = passed = 0
        for case in checked_cases(corpus):
            total += 1
            problems = check_case(corpus, case)
            if problems:
                mismatches.extend(f"{corpus}/{case['id']}: {p}" for p in problems)
            else:
                passed += 1
        rows.append((corpus, total, passed))
    print(f"{'corpus':<20} {'checked':>8} {'passed':>8} {'rate':>8}")
    for corpus, total, passed in rows:
        rate = passed / total if total else 1.0
        print(f"{corpus:<20} {total:>8} {passed:>8} {rate:>8.1%}")
    all_total = sum(r[1] for r in rows)
    all_passed = sum(r[2] for r in rows)
    print(f"{'all':<20} {all_total:>8} {all_passed:>8} {all_passed / max(all_total, 1):>8.1%}")

    print("\nverdicts on the other corpora (ordinary mail, no screening expectation):")
    others: dict[str, Counter[str]] = {}
    unusual: list[str] = []
    for corpus in _other_corpora():
        counts: Counter[str] = Counter()
        for case in load_manifest(corpus):
            verdict = verdict_for(corpus, case)
            counts[verdict.kind] += 1
            if verdict.kind is not ScreenKind.NORMAL:
                unusual.append(f"{corpus}/{case['id']}: {_describe(verdict)}")
        others[corpus] = counts
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        print(f"  {corpus:<24} {summary}")
    if not quiet:
        print(f"\nmismatches ({len(mismatches)}):")
        for line in mismatches:
            print(f"  {line}")
        print(f"\nnon-normal verdicts on ordinary corpora ({len(unusual)}):")
        for line in unusual:
            print(f"  {line}")
    result = {
        "benchmark": "corpora_screening",
        "per_corpus": {c: {"checked": t, "passed": p} for c, t, p in rows},
        "checked": all_total,
        "passed": all_passed,
        "pass_rate": round(all_passed / max(all_total, 1), 4),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
