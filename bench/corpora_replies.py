"""Reply and signature trimming measured on real corpora (`../shared/data/mail`).

Compares `intake.trimming.extract_new_part` and `intake.signature.find_recurring_signature`
with the expectations other projects state for their fixtures:

- `reply-parser`: the four email_reply_parser suites (visible reply, quoted part, signature,
  templates of quote headers in many languages, time limits);
- `discourse-reply-trimmer`: trimmed reply and elided text;
- `talon`: reply text of standard replies (raw mails) and HTML replies, signatures given the
  sender;
- `zammad`: signature detection from several messages of one sender;
- `django-helpdesk`: the forwarded-message mail (body text vs. the forwarded part).

Normalisation (stated once, used everywhere): texts are compared after collapsing every run
of whitespace (spaces, tabs, line breaks, no-break spaces) into one space and trimming the ends
(`normalise`). Where an upstream test compares with all whitespace removed (talon's HTML
replies), so do we (`squash`). Discourse's elided text rewrites quote prefixes ("Richard>",
"|") to ">", so for the elided text only the leading quote markers of every line are dropped on
both sides before comparing (`unquote`). Nothing else is relaxed; upstream keys that describe
a parser's internals (`fragments`, `requires_custom_*`, notes) are not checked.

Raw mails (`.eml`) are parsed by `intake.mime` and trimmed like the pipeline does (`trim_raw`);
the standard-library readers (`text_body`) remain for plain comparisons. Transfer encodings and
charsets decoded; this is a stand-in until the MIME stage's parser is wired in.

Run: `.venv/bin/python -m bench.corpora_replies` - a pass-rate table per corpus, each mismatch,
and a final JSON line.
"""

import email
import email.policy
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

from intake.limits import MailLimits
from intake.mime import parse_mail
from intake.signature import find_recurring_signature
from intake.trimming import TrimmedReply, extract_new_part
from intake.trimming_html import html_to_text

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "mail"
CORPORA = ("reply-parser", "discourse-reply-trimmer", "talon", "zammad", "django-helpdesk")


@dataclass(frozen=True)
class Case:
    """One upstream fixture with its expectations."""

    corpus: str
    case_id: str
    directory: Path
    files: tuple[str, ...]
    expected: Any

    @property
    def key(self) -> str:
        return f"{self.corpus}/{self.case_id}"

    def read(self, name: str) -> str:
        """A fixture file as text (UTF-8; invalid bytes replaced)."""
        return (self.directory / name).read_bytes().decode("utf-8", errors="replace")

    def raw(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()


# --- text helpers -------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Whitespace-normalised text: runs of whitespace become one space, ends trimmed."""
    return " ".join(text.split())


def squash(text: str) -> str:
    """Text with all whitespace removed (talon's HTML comparison)."""
    return "".join(text.split())


_SUPERCITE = re.compile(r"^[ \t]*[A-Za-z]{1,12}>(?=[ \t]|$)", re.MULTILINE)


def unquote(text: str) -> str:
    """Normalised text without quote markers: Supercite prefixes, every ">" and "|" dropped.

    (Discourse rewrites quote prefixes and joins wrapped attribution lines, which moves a ">"
    from the start of a line into the middle of one, so the markers go wherever they are.)
    """
    plain = _SUPERCITE.sub("", text.replace("\r\n", "\n"))
    return normalise(plain.replace(">", " ").replace("|", " "))


def _decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _body(raw: bytes, subtype: str) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in message.walk():
        if part.is_multipart() or part.get_content_type() != f"text/{subtype}":
            continue
        if (part.get("Content-Disposition") or "").lower().startswith("attachment"):
            continue
        return _decode_part(part)
    return ""


def text_body(raw: bytes) -> str:
    """The first text/plain part of a raw mail, transfer-decoded and charset-decoded."""
    return _body(raw, "plain")


def trim_raw(raw: bytes) -> TrimmedReply:
    """Trim a raw mail the way the pipeline does: parsed by `intake.mime`, HTML markers used."""
    parsed = parse_mail(raw, received_at=datetime.now(UTC), limits=MailLimits())
    return extract_new_part(
        parsed.text,
        html=parsed.html_sanitized if parsed.text_source == "text/html" else None,
        sender_name=parsed.from_.name if parsed.from_ else None,
    )


def html_body(raw: bytes) -> str:
    """The first text/html part of a raw mail, decoded."""
    return _body(raw, "html")


def _short(text: str, limit: int = 160) -> str:
    flat = normalise(text)
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")


def removed_text(text: str, result: TrimmedReply) -> str:
    """What trimming took away (quoted mail, signature, forward), in document order."""
    if normalise(result.new_text) == normalise(text):
        return ""
    parts = [p for p in (result.signature, result.quoted, result.forwarded) if p.strip()]

    def position(part: str) -> int:
        first = next((line for line in part.splitlines() if line.strip()), "")
        found = text.find(first)
        return found if found >= 0 else len(text)

    return "\n".join(sorted(parts, key=position))


# --- loading ------------------------------------------------------------------------------------


def load_cases(corpus: str, data: Path = DATA) -> list[Case]:
    """The cases of one corpus that say something about reply or signature trimming."""
    directory = data / corpus
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    cases: list[Case] = []
    for entry in manifest["cases"]:
        expected = entry.get("expected")
        if corpus == "zammad" and not (
            isinstance(expected, dict) and "signature_detection" in expected
        ):
            continue
        if corpus == "django-helpdesk" and not (
            isinstance(expected, dict) and "forwarded_part_text" in expected
        ):
            continue
        if corpus == "reply-parser" and not expected:
            continue
        files = tuple(f["path"] for f in entry["files"])
        cases.append(Case(corpus, entry["id"], directory, files, expected))
    return cases


def all_cases(data: Path = DATA) -> list[Case]:
    return [case for corpus in CORPORA for case in load_cases(corpus, data)]


# --- checks ---------------------------------------------------------------------------------


def _timed(text: str) -> tuple[TrimmedReply, float]:
    start = time.perf_counter()
    result = extract_new_part(text)
    return result, time.perf_counter() - start


def _check_reply_parser(case: Case) -> list[str]:
    template = case.read(case.files[0])
    problems: list[str] = []
    for entry in case.expected:
        by = entry.get("by", "?")
        placeholder = entry.get("template_placeholder")
        variants = (
            [(s, template.replace(placeholder, s)) for s in entry["template_substitutions"]]
            if placeholder
            else [("", template)]
        )
        for substitution, text in variants:
            result, seconds = _timed(text)
            label = f"[{by}]" + (f" with {substitution!r}" if substitution else "")
            problems += [
                f"{label} {p}"
                for p in _reply_parser_entry(entry, text, result, seconds, substitution)
            ]
    return problems


# Keys that describe an upstream parser's internals or the case, not an expected result.
_INFORMATIONAL = frozenset(
    {
        "by",
        "note",
        "fragments",
        "requires_custom_quote_header_regex",
        "requires_custom_signature_regex",
        "template_placeholder",
        "template_substitutions",
    }
)


def _reply_parser_entry(
    entry: dict[str, Any], text: str, result: TrimmedReply, seconds: float, substitution: str
) -> list[str]:
    new, quoted, signature = result.new_text, result.quoted, result.signature
    hidden = "\n".join(p for p in (quoted, signature, result.forwarded) if p)
    problems: list[str] = []

    def expect(ok: bool, what: str, got: str) -> None:
        if not ok:
            problems.append(f"{what}: got {_short(got)} (signal {result.signal!r})")

    for key, value in entry.items():
        if key == "visible_reply_exact":
            expect(normalise(new) == normalise(value), f"visible_reply_exact {_short(value)}", new)
        elif key == "visible_reply_starts_with":
            expect(normalise(new).startswith(normalise(value)), f"visible starts {value!r}", new)
        elif key == "visible_reply_contains":
            for item in value:
                expect(normalise(item) in normalise(new), f"visible contains {item!r}", new)
        elif key == "visible_reply_not_contains":
            for item in value:
                expect(normalise(item) not in normalise(new), f"visible lacks {item!r}", new)
        elif key == "visible_reply_contains_regex_multiline":
            expect(bool(re.search(value, new, re.MULTILINE)), f"visible ~ {value!r}", new)
        elif key == "quoted_part_starts_with":
            expect(
                normalise(quoted).startswith(normalise(value)), f"quoted starts {value!r}", quoted
            )
        elif key == "quoted_part_starts_with_regex":
            expect(bool(re.match(value, quoted.lstrip())), f"quoted opens ~ {value!r}", quoted)
        elif key == "quoted_part_exact":
            expect(normalise(quoted) == normalise(value), f"quoted exact {value!r}", quoted)
        elif key == "quoted_part_contains":
            for item in value:
                expect(normalise(item) in normalise(quoted), f"quoted contains {item!r}", quoted)
        elif key == "quoted_part_contains_regex_multiline":
            expect(bool(re.search(value, quoted, re.MULTILINE)), f"quoted ~ {value!r}", quoted)
        elif key == "quoted_part_exact_template":
            wanted = value.replace(entry["template_placeholder"], substitution)
            expect(normalise(quoted) == normalise(wanted), f"quoted exact {wanted!r}", quoted)
        elif key == "first_fragment_is_quote_header_regex":
            expect(bool(re.match(value, quoted.lstrip())), f"quoted opens ~ {value!r}", quoted)
        elif key == "signature_starts_with":
            expect(
                normalise(signature).startswith(normalise(value)),
                f"signature starts {value!r}",
                signature,
            )
        elif key == "signature_exact":
            expect(normalise(signature) == normalise(value), f"signature {value!r}", signature)
        elif key == "has_signature":
            expect(bool(signature.strip()) == value, f"has_signature {value}", signature)
        elif key == "single_fragment":
            expect(
                normalise(new) == normalise(text) and not hidden.strip(), "single fragment", hidden
            )
        elif key == "hidden_part_contains":
            for item in value:
                expect(item in hidden, f"hidden contains {item!r}", hidden)
        elif key == "max_seconds":
            expect(seconds <= value, f"within {value} s", f"{seconds:.2f} s")
        elif key not in _INFORMATIONAL:
            # An expectation this bench does not know must not pass silently.
            problems.append(f"unchecked expectation {key!r}")
    return problems


def _check_discourse(case: Case) -> list[str]:
    text = case.read(case.files[0])
    expected = case.expected
    result, seconds = _timed(text)
    problems: list[str] = []
    if "max_seconds" in expected and seconds > expected["max_seconds"]:
        problems.append(f"took {seconds:.2f} s > {expected['max_seconds']} s")
    if expected.get("contains_embedded_email") is False and (
        result.forwarded or "header block" in result.signal
    ):
        problems.append(f"found an embedded mail (signal {result.signal!r})")
    if "trimmed_file" in expected:
        trimmed = case.read(expected["trimmed_file"])
        if normalise(result.new_text) != normalise(trimmed):
            problems.append(
                f"trimmed: want {_short(trimmed)} got {_short(result.new_text)} "
                f"(signal {result.signal!r})"
            )
    if "elided_file" in expected:
        elided = case.read(expected["elided_file"])
        removed = removed_text(text, result)
        if unquote(removed) != unquote(elided):
            problems.append(f"elided: want {_short(elided)} got {_short(removed)}")
    if "embedded_file" in expected:
        # The embedded mail must be what was cut off whole - for a bare forward, the removed
        # marker and headers followed by the body kept as the new text.
        embedded = unquote(case.read(expected["embedded_file"]))
        taken = [result.forwarded or result.quoted, f"{result.forwarded}\n{result.new_text}"]
        if not any(unquote(t).endswith(embedded) for t in taken):
            problems.append(f"embedded mail not removed whole: {_short(embedded)}")
    return problems


def _check_talon(case: Case) -> list[str]:
    expected = case.expected
    first = case.files[0]
    problems: list[str] = []
    if case.case_id.startswith("signature/"):
        body = case.read(first)
        sender = case.read(case.files[1]).strip()
        result = extract_new_part(body, sender_name=sender or None)
        want_signature = expected["signature_exact_after_strip"]
        want_text = expected["text_without_signature_after_strip"]
        if normalise(result.signature) != normalise(want_signature):
            problems.append(f"signature: want {want_signature!r} got {_short(result.signature)}")
        if normalise(result.new_text) != normalise(want_text):
            problems.append(f"text: want {_short(want_text)} got {_short(result.new_text)}")
        return problems
    if first.endswith(".html"):
        html = case.read(first)
        result = extract_new_part(html_to_text(html), html=html)
    else:
        raw = case.raw(first)
        result = trim_raw(raw)
    # talon removes the quotation only; its reply text keeps a signature.
    reply = "\n".join(p for p in (result.new_text, result.signature) if p)
    if "reply_text_exact_after_strip" in expected:
        want = expected["reply_text_exact_after_strip"]
        if normalise(reply) != normalise(want):
            problems.append(f"reply: want {want!r} got {_short(reply)} ({result.signal!r})")
    for key in ("reply_text_whitespace_insensitive", "reply_text"):
        if key in expected and squash(reply) != squash(expected[key]):
            problems.append(f"{key}: want {expected[key]!r} got {_short(reply)}")
    if expected.get("reply_non_empty") and not reply.strip():
        problems.append("reply is empty")
    for item in expected.get("reply_must_not_contain", []):
        if item in reply:
            problems.append(f"reply contains {item!r}: {_short(reply)}")
    return problems


def _zammad_texts(case: Case) -> list[str]:
    texts = [case.read(name) for name in case.files]
    return [
        html_to_text(t) if name.endswith(".html") else t
        for name, t in zip(case.files, texts, strict=True)
    ]


def _first_line_number(text: str, block: str) -> int | None:
    """1-based number of the line of `text` where `block` starts (by its first line)."""
    first = next((line.strip() for line in block.splitlines() if line.strip()), None)
    position = text.find(block)
    if first is None or position < 0:
        return None
    return text.count("\n", 0, position) + 1


def _check_zammad(case: Case) -> list[str]:
    expected = case.expected["signature_detection"]
    texts = _zammad_texts(case)
    problems: list[str] = []
    if "given_signature" in expected:
        given = expected["given_signature"]
        result = extract_new_part(texts[0], known_signatures=[given])
        want = [normalise(line) for line in given.splitlines() if line.strip()][:3]
        got = [normalise(line) for line in result.signature.splitlines() if line.strip()][:3]
        if got != want:
            problems.append(f"known signature not cut: got {_short(result.signature)}")
        return problems
    block = expected["common_signature_block"]
    wanted_lines = [squash(line) for line in block.splitlines() if line.strip()]
    leading_blank = len(block) - len(block.lstrip("\n"))
    for index, text in enumerate(texts):
        others = texts[:index] + texts[index + 1 :]
        found = find_recurring_signature(others, text)
        if found is None:
            problems.append(f"message {index + 1}: no recurring signature")
            continue
        if case.files[0].endswith(".txt"):
            if not normalise(found).startswith(normalise(block)):
                problems.append(f"message {index + 1}: signature starts {_short(found, 80)}")
        else:
            missing = [line for line in wanted_lines if line not in squash(found)]
            if missing or not squash(found).startswith(wanted_lines[0]):
                problems.append(
                    f"message {index + 1}: signature {_short(found, 80)} lacks {missing[:3]}"
                )
    for key, learn_from, target in (
        ("signature_line_in_client_a_1", [1, 2], 0),
        ("signature_line_in_client_a_2_when_learned_from_client_a_1", [0], 1),
    ):
        if key not in expected:
            continue
        found = find_recurring_signature([texts[i] for i in learn_from], texts[target])
        line = _first_line_number(texts[target], found) if found else None
        if line != expected[key] + leading_blank:
            problems.append(
                f"{key}: want line {expected[key]} (+{leading_blank} blank), got {line}"
            )
    return problems


def _check_django_helpdesk(case: Case) -> list[str]:
    raw = case.raw(case.files[0])
    result = trim_raw(raw)
    expected = case.expected
    problems: list[str] = []
    wanted = expected["ticket_description_contains"]
    if wanted not in result.new_text:
        problems.append(f"new text lacks {wanted!r}: {_short(result.new_text)}")
    forwarded = expected["forwarded_part_text"]
    removed = result.quoted + result.forwarded
    if forwarded in result.new_text or forwarded not in removed:
        problems.append(f"forwarded part {forwarded!r} not separated ({result.signal!r})")
    return problems


_CHECKS: dict[str, Callable[[Case], list[str]]] = {
    "reply-parser": _check_reply_parser,
    "discourse-reply-trimmer": _check_discourse,
    "talon": _check_talon,
    "zammad": _check_zammad,
    "django-helpdesk": _check_django_helpdesk,
}


def check_case(corpus: str, case: Case) -> list[str]:
    """Descriptions of where trimming disagrees with the case's expectations (empty: passes)."""
    return _CHECKS[corpus](case)


def _rows(data: Path) -> Iterator[tuple[str, int, int, list[tuple[str, list[str]]]]]:
    for corpus in CORPORA:
        cases = load_cases(corpus, data)
        failures = [(case.case_id, check_case(corpus, case)) for case in cases]
        failures = [(case_id, problems) for case_id, problems in failures if problems]
        yield corpus, len(cases), len(cases) - len(failures), failures


def main(argv: list[str] | None = None) -> int:
    data = Path(argv[0]) if argv else DATA
    summary: dict[str, dict[str, float]] = {}
    print(f"{'corpus':<26} {'cases':>6} {'passed':>7} {'rate':>7}")
    details: list[str] = []
    total = passed_total = 0
    for corpus, count, passed, failures in _rows(data):
        rate = passed / count if count else 1.0
        print(f"{corpus:<26} {count:>6} {passed:>7} {rate:>7.1%}")
        summary[corpus] = {"cases": count, "passed": passed, "rate": round(rate, 4)}
        total += count
        passed_total += passed
        for case_id, problems in failures:
            details.append(f"{corpus}/{case_id}")
            details += [f"    {problem}" for problem in problems]
    print(f"{'total':<26} {total:>6} {passed_total:>7} {passed_total / max(total, 1):>7.1%}")
    if details:
        print("\nmismatches:")
        print("\n".join(details))
    print(
        json.dumps(
            {"bench": "corpora_replies", "corpora": summary, "passed": passed_total, "cases": total}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
