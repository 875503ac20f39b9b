"""Auto-replies: recognise mail a program sent in answer to (or instead of) a person.

Part of screening (`intake.screening`). A help desk must neither open tickets for vacation
notices nor answer them (two robots answering each other is the classic mail loop), so the
signals are read generously but in order of reliability:

- `strong_signal`: RFC 3834 `Auto-Submitted`, the vendor headers of autoresponders (Microsoft
  Exchange, X-Autoreply and friends), autoresponder X-Mailers, the fixed subject prefixes of
  out-of-office replies in many languages, and challenge-response systems;
- `weak_signal` (asked only after mailing-list detection, because lists also set them):
  `Precedence: bulk/junk/auto_reply` (RFC 2076; RFC 3834 section 2 asks responders not to
  answer such mail), `X-Auto-Response-Suppress`, a null reverse-path (RFC 3834 section 3.3
  makes responders send with one), and no-reply sender addresses.

Each answer names the signal (for the verdict's reason) and the kind of automatic mail, so the
pipeline can treat a monitoring alert (`notification`) differently from a vacation notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from enum import StrEnum

from intake.bounce_mime import addresses, header, raw_header
from intake.bounce_signals import has_null_sender


class AutoReplyKind(StrEnum):
    """What kind of automatic mail an `auto_reply` verdict is about."""

    VACATION = "vacation"  # out-of-office / vacation notice
    AUTORESPONDER = "autoresponder"  # other automatic answer to a message
    CHALLENGE = "challenge_response"  # "confirm you are human" / whitelist request
    NOTIFICATION = "notification"  # generated, not a reply: alerts, system notices, bulk


@dataclass(frozen=True)
class AutoReplyMatch:
    """The signal that decided, and the kind of automatic mail."""

    reason: str
    kind: AutoReplyKind


# Subject prefixes that only autoresponders write: "Automatic reply:" and its translations
# (Outlook/Exchange localise it), Lotus Notes' "AUTO:", and the common "Auto reply:" forms.
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,30}\]\s*)?(?:"
    r"auto(?:matic|mated)?[\s\-_]*(?:reply|response|answer|respon(?:se|der))|"
    r"autoreply|autoresponse|out\s+of\s+office\s+auto[\s\-]?reply|"
    r"auto|automatische\s+antwort|auto[\s\-]?antwort|"
    r"r[ée]ponse\s+automatique|r[ée]ponse\s+auto|respuesta\s+autom[áa]tica|"
    r"risposta\s+automatica|automatisch\s+antwoord|automatisch\s+bericht|"
    r"resposta\s+autom[áa]tica|automatiskt\s+svar|automatisk\s+svar|autosvar|"
    r"automaattinen\s+vastaus|automatyczna\s+odpowied[źz]|automatick[áa]\s+odpov[ěe][ďd]|"
    r"automatikus\s+v[áa]lasz|otomatik\s+(?:yan[ıi]t|cevap)|"
    r"автоматический\s+ответ|автоответ|"
    r"自動応答|自動返信|自動送信|自动回复|自動回覆|자동\s*(?:응답|회신)"
    r")\s*[:：\-\]]",
    re.IGNORECASE,
)
# Out-of-office subject prefixes. People also write about their out-of-office settings to an
# IT help desk ("Out of office: not working"), so these count only with corroboration.
_VACATION_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,30}\]\s*)?(?:"
    r"out\s+of\s+(?:the\s+)?office|ooo|on\s+vacation|vacation\s+(?:reply|notice|message)|"
    r"away\s+from\s+(?:the\s+|my\s+)?office|abwesenheitsnotiz|abwesend|abwesenheit|"
    r"absen(?:t|te|ce)\s+du\s+bureau|message\s+d'absence|"
    r"fuera\s+de\s+(?:la\s+)?oficina|ausente|fuori\s+(?:sede|ufficio)|assente|"
    r"afwezig(?:heid\w*)?|buiten\s+kantoor|fora\s+do\s+escrit[óo]rio|"
    r"fr[åa]nvaro|inte\s+p[åa]\s+kontoret|ikke\s+p[åa]\s+kontoret|frav[æe]r(?:ende)?|"
    r"poissa\s+toimistolta|poza\s+biurem|nieobecno[śs][ćc]|mimo\s+kancel[áa][řr]|"
    r"h[áa]zon\s+k[íi]v[üu]l|ofis\s+d[ıi][şs][ıi]nda|нет\s+на\s+месте|в\s+отпуске|"
    r"不在|休暇|不在通知|休假|不在办公室|부재\s*중"
    r")\s*[:：\-\]]",
    re.IGNORECASE,
)
# Lotus Notes and others put the state in the subject: "AUTO: Smith, John is out of the office".
_OOO_PHRASE = re.compile(
    r"\bis\s+(?:currently\s+)?out\s+of\s+(?:the\s+)?office\b|\bon\s+(?:annual\s+)?leave\b|"
    r"\bon\s+vacation\b|\babwesend\b|\bin\s+urlaub\b|\babsent\b|\bausente\b|\bafwezig\b",
    re.IGNORECASE,
)
_AUTOMAILER = re.compile(
    r"auto[\s\-_]?(?:reply|respon|answer)|vacation|out[\s\-_]of[\s\-_]office|away\s+message",
    re.IGNORECASE,
)
# Challenge-response systems ask the sender to prove being human or to get whitelisted.
_CHALLENGE = re.compile(
    r"\bchallenge[\s\-]response\b|\bguest\s+list\b|\bwaitlisted\b|"
    r"\bpre-?approved\b|\bapproved\s+senders?\s+list|\bsender\s+(?:verification|approval)\b|"
    r"\bverify\s+(?:that\s+)?you\s+are\s+(?:a\s+)?(?:human|real|person)|"
    r"\bconfirm\s+(?:that\s+)?you\s+are\s+(?:a\s+)?(?:human|real|person|not\s+a)|"
    r"\brequires?\s+(?:your\s+)?(?:confirmation|verification)\b|"
    r"\bplease\s+(?:confirm|verify)\s+(?:your\s+)?(?:message|e-?mail|address|identity)\b|"
    r"\bspam\s*arrest\b|\bchoicemail\b|\bmailblocks\b|\bboxbe\b|\bbluebottle\b|"
    r"\bclick\s+(?:the\s+link\s+)?below\s+to\s+(?:be\s+added|verify|confirm|deliver)",
    re.IGNORECASE,
)
_NOREPLY_LOCAL = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|noreply[-_.+]\S*|no[-_.]?answer|"
    r"notifications?|auto[-_.]?(?:reply|responder|mailer|notify))$",
    re.IGNORECASE,
)
_NO_VALUES = ("no", "false", "0", "off", "none")
_AUTOREPLY_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Auto-Reply",
    "X-Autoreply-From",
    "X-Mail-Autoreply",
    "X-Vacation",
)
# Exchange marks mail its inbox rules and out-of-office assistant generate.
_EXCHANGE_HEADERS = ("X-MS-Exchange-Generated-Message-Source", "X-MS-Exchange-Inbox-Rules-Loop")

Signal = tuple[str, AutoReplyKind]


def _clean_value(value: str) -> str:
    """A header value fit for a reason string: one line, no CR/LF, bounded."""
    return " ".join(value.split())[:80]


def is_vacation_subject(subject: str) -> bool:
    """The subject of an out-of-office notice (given that the mail is automatic)."""
    return bool(_VACATION_SUBJECT.match(subject) or _OOO_PHRASE.search(subject))


def challenge_response(text: str) -> bool:
    """The text asks the sender to confirm or whitelist themselves."""
    return bool(_CHALLENGE.search(text[:20_000]))


def _auto_submitted(msg: Message) -> Signal | None:
    # RFC 3834 section 5: any value but "no" marks automatic mail; "auto-replied" is an answer
    # to a message, "auto-generated" (and the "auto-notified" of RFC 3798) is not.
    value = header(msg, "Auto-Submitted").strip().lower()
    keyword = re.split(r"[\s;(]", value, maxsplit=1)[0] if value else ""
    if not keyword or keyword == "no":
        return None
    kind = AutoReplyKind.AUTORESPONDER if keyword == "auto-replied" else AutoReplyKind.NOTIFICATION
    return f"Auto-Submitted: {_clean_value(keyword)}", kind


def _autoreply_header(msg: Message) -> Signal | None:
    for name in _AUTOREPLY_HEADERS:
        if raw_header(msg, name) and header(msg, name).strip().lower() not in _NO_VALUES:
            return f"{name} header", AutoReplyKind.AUTORESPONDER
    for name in _EXCHANGE_HEADERS:
        if raw_header(msg, name):
            return f"{name} header", AutoReplyKind.AUTORESPONDER
    value = header(msg, "X-Autogenerated")
    if value:
        return f"X-Autogenerated: {_clean_value(value)}", AutoReplyKind.AUTORESPONDER
    return None


def _automailer(msg: Message) -> Signal | None:
    for name in ("X-Mailer", "User-Agent", "X-POST-MessageClass"):
        value = header(msg, name)
        if value and _AUTOMAILER.search(value):
            return f"{name}: {_clean_value(value)}", AutoReplyKind.AUTORESPONDER
    return None


def _subject(msg: Message) -> Signal | None:
    subject = header(msg, "Subject")
    if _AUTO_SUBJECT.match(subject):
        return "automatic-reply subject", AutoReplyKind.AUTORESPONDER
    # An out-of-office prefix alone may be a person writing about their settings; on a reply
    # (In-Reply-To/References, RFC 3834 section 3.1.5 asks responders to set them) it is not.
    replying = raw_header(msg, "In-Reply-To") or raw_header(msg, "References")
    if _VACATION_SUBJECT.match(subject) and replying:
        return "out-of-office subject on a reply", AutoReplyKind.VACATION
    return None


def _precedence(msg: Message) -> Signal | None:
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk"):
        return f"Precedence: {precedence}", AutoReplyKind.NOTIFICATION
    if precedence in ("auto_reply", "auto-reply", "autoreply"):
        return f"Precedence: {precedence}", AutoReplyKind.AUTORESPONDER
    return None


def _suppress(msg: Message) -> Signal | None:
    # Exchange's X-Auto-Response-Suppress asks others not to auto-answer: automatic mail sets it.
    if raw_header(msg, "X-Auto-Response-Suppress"):
        value = _clean_value(header(msg, "X-Auto-Response-Suppress"))
        return f"X-Auto-Response-Suppress: {value}", AutoReplyKind.NOTIFICATION
    return None


def _noreply(msg: Message) -> Signal | None:
    for addr in addresses(header(msg, "From")):
        if _NOREPLY_LOCAL.match(addr.split("@", 1)[0]):
            return "no-reply sender address", AutoReplyKind.NOTIFICATION
    return None


_STRONG = (_auto_submitted, _autoreply_header, _automailer, _subject)
_WEAK = (_precedence, _suppress, _noreply)


def _refine(signal: Signal, subject: str, notice: str) -> AutoReplyMatch:
    """Name the kind of automatic mail more precisely from its subject and text."""
    reason, kind = signal
    if challenge_response(subject) or challenge_response(notice):
        kind = AutoReplyKind.CHALLENGE
    elif is_vacation_subject(subject):
        kind = AutoReplyKind.VACATION
    elif kind is AutoReplyKind.NOTIFICATION and _AUTO_SUBJECT.match(subject):
        kind = AutoReplyKind.AUTORESPONDER
    return AutoReplyMatch(reason, kind)


def strong_signal(msg: Message, notice: str) -> AutoReplyMatch | None:
    """An unambiguous auto-reply signal, or None."""
    for check in _STRONG:
        signal = check(msg)
        if signal is not None:
            return _refine(signal, header(msg, "Subject"), notice)
    return None


def weak_signal(msg: Message, notice: str, envelope_sender: str | None) -> AutoReplyMatch | None:
    """A signal of automatic mail that lists share; asked after mailing-list detection."""
    signal: Signal | None = None
    for check in _WEAK:
        signal = check(msg)
        if signal is not None:
            break
    if signal is None and has_null_sender(msg, envelope_sender):
        # RFC 3834 section 3.3: responders send with a null reverse-path.
        signal = "null reverse-path (Return-Path: <>)", AutoReplyKind.AUTORESPONDER
    if signal is None:
        return None
    return _refine(signal, header(msg, "Subject"), notice)
