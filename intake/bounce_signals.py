"""Recognise a non-standard bounce: the signals that say "this is a delivery failure notice".

Part of screening (`intake.bounces`). Many MTAs still send bounces as plain text (qmail, Exim,
old Sendmail and Postfix, Exchange 2003, Lotus Notes, webmail providers) instead of an
RFC 3464 DSN. No single signal is reliable on its own: a human forwarding a bounce to the help
desk ("why did my mail not arrive?") writes the same words, and an auto-reply also comes from
a robot. So a bounce needs the notice *and* an MTA-side signal: a mailer-daemon sender, a null
reverse-path, an X-Failed-Recipients header or a bounce subject line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from intake.bounce_mime import addresses, header, headers, raw_header

# Local parts and display names MTAs send bounces from (RFC 5321 section 4.5.1 requires
# "postmaster"; "MAILER-DAEMON" is the traditional Sendmail/Postfix/Exim sender).
_MTA_LOCAL = re.compile(
    r"^(?:mailer[-_.]?daemon|post[-_.]?master|postoffice|mail[-_.]?daemon|mailerd|mmdf|"
    r"mail[-_.]?delivery(?:[-_.]?(?:sub)?system)?|mail[-_.]?administrator|mail[-_.]?system|"
    r"ndr|nondelivery|non[-_.]?delivery|bounces?|double[-_.]?bounce|smtp[-_.]?gateway|"
    r"mail[-_.]?router|mdaemon|mail[-_.]?guard|mailguard)$",
    re.IGNORECASE,
)
# Gateways and filters that bounce on an MTA's behalf name themselves in their address.
_MTA_LOCAL_PART = re.compile(
    r"mailer[-_.]?daemon|postmaster|antivirus|anti[-_.]virus|virus[-_.]?(?:scan|wall)|"
    r"mail[-_.]?scanner|mailsweeper|smtp[-_.]?gateway|mail[-_.]?gateway|mta[-_.]?daemon",
    re.IGNORECASE,
)
_MTA_NAME = re.compile(
    r"mail\s*deliver\w*\s*(?:sub)?system|mail\s*delivery\s*service|mailer[-\s]?daemon|"
    r"post\s*master|mail\s*administrator|system\s*administrator|delivery\s*subsystem|"
    r"mail\s*system|ndr\s*administrator|mail\s*gateway|mail\s*delivery",
    re.IGNORECASE,
)

# Subjects of delivery failure notices, anchored at the start, in the languages MTAs localise
# their notices into. A human's reply ("Re: Undeliverable: ...") does not match.
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:"
    r"undeliver(?:able|ed)|non[-\s]?deliver(?:able|y)|nondeliver|not\s+delivered|"
    r"returned\s+mail|mail\s+returned|returning\s+message|return(?:ed)?\s+to\s+sender|"
    r"(?:mail\s+)?delivery\s+status\s+notification|delivery\s+notification|"
    r"(?:mail\s+)?delivery\s+(?:failure|failed|has\s+failed|problem|error|report|delayed|"
    r"delay|warning|incomplete|status)|"
    r"mail\s+(?:delivery\s+)?(?:failure|failed|error|system\s+error)|mail\s+failed|"
    r"failure\s+notice|failed\s+(?:mail|delivery)|message\s+(?:delivery\s+)?(?:failure|failed)|"
    r"message\s+(?:could\s+not|couldn't|cannot|can't|was\s+not|wasn't)\s+(?:be\s+)?delivered|"
    r"message\s+delivery\s+has\s+failed|could\s+not\s+send\s+message|warning:\s+could\s+not|"
    r"delayed\s+mail|delivery\s+delayed|message\s+delayed|mail\s+could\s+not\s+be\s+delivered|"
    r"unzustellbar|nicht\s+zustellbar|unzustellbare|zustellung\s+fehlgeschlagen|"
    r"non\s+remis|non\s+distribu|[ée]chec\s+de\s+(?:la\s+)?(?:remise|distribution|livraison)|"
    r"remise\s+impossible|message\s+non\s+d[ée]livr|"
    r"non\s+recapitabil|mancata\s+consegna|impossibile\s+recapitare|"
    r"no\s+se\s+puede\s+entregar|no\s+entregado|error\s+de\s+entrega|"
    r"no\s+se\s+pudo\s+entregar|mensaje\s+no\s+entregado|"
    r"onbestelbaar|niet\s+bezorgd|kan\s+niet\s+worden\s+bezorgd|"
    r"n[ãa]o\s+(?:[ée]\s+poss[íi]vel\s+)?entreg|falha\s+n[ao]\s+entrega|"
    r"olevererbar|kunde\s+inte\s+levereras|ikke\s+levert|ikke\s+leveret|kan\s+ikke\s+leveres|"
    r"toimittamaton|nie\s+mo[żz]na\s+dostarczy|niedostarczon|"
    r"nedoru[čc]iteln|nem\s+k[ée]zbes[íi]thet|"
    r"недостав|не\s+доставлен|"
    r"mail\s+error\b|"
    r"配信不能|配送エラー|送信エラー|未配達|配信エラー|配送不能|エラーメール|メールエラー|"
    r"退信|无法投递|邮件投递失败|系統退信|無法傳遞"
    r")",
    re.IGNORECASE,
)

# Phrases that only delivery software writes. Matching one of them together with an MTA-side
# signal makes a bounce; most are the fixed texts of widespread MTAs and providers.
_NOTICE_PHRASES = re.compile(
    r"this\s+is\s+the\s+(?:mail\s+system|postfix\s+program)\s+at\s+host|"
    r"i'm\s+sorry\s+to\s+have\s+to\s+inform\s+you|"
    r"created\s+automatically\s+by\s+mail\s+deliver|"
    r"message\s+that\s+you\s+(?:have\s+)?sent\s+(?:could\s+not|was\s+rejected)|"
    r"the\s+following\s+(?:address(?:\(es\)|es)?|recipients?(?:\(s\))?)\s+(?:failed|had|"
    r"could\s+not|did\s+not|were|was)|"
    r"qmail-send\s+program|wasn't\s+able\s+to\s+deliver|i've\s+given\s+up|"
    r"(?:delivery|deliver)\s+to\s+the\s+following\s+(?:recipient|address)|"
    r"did\s+not\s+reach\s+(?:the\s+following|some\s+or\s+all)|"
    r"delivery\s+has\s+failed\s+to\s+these\s+recipients|"
    r"(?:could\s+not|couldn't|can't|cannot|was\s+not|wasn't|has\s+not\s+been|could\s+not\s+be)"
    r"\s+(?:be\s+)?deliver(?:ed)?|"
    r"unable\s+to\s+deliver|undeliverable|undelivered|failed\s+to\s+deliver|"
    r"delivery\s+(?:has\s+)?failed|delivery\s+failure|permanent\s+(?:fatal\s+)?(?:error|failure)|"
    r"transcript\s+of\s+(?:the\s+)?session\s+follows|original\s+message\s+was\s+received\s+at|"
    r"user\s+unknown|unknown\s+user|no\s+such\s+(?:user|mailbox|recipient)|"
    r"mailbox\s+(?:unavailable|not\s+found|is\s+full|full)|over\s+quota|quota\s+exceeded|"
    r"recipient\s+address\s+rejected|host\s+unknown|domain\s+does\s+not\s+exist|"
    r"this\s+is\s+a\s+warning\s+(?:message\s+)?only|will\s+be\s+retried|still\s+being\s+retried|"
    r"retry\s+timeout\s+exceeded|delivery\s+(?:attempts?|temporarily)|"
    r"remote\s+host\s+said|said:\s+[45]\d\d|error\s+delivering|there\s+was\s+an\s+error\s+deliver|"
    r"returned\s+mail|non[-\s]?delivery|message\s+(?:not\s+)?delivered|"
    r"(?:has\s+been|was)\s+returned|intended\s+recipient|invalid\s+(?:user|recipient|address)|"
    r"not\s+a\s+valid\s+(?:user|recipient|address|mailbox)|"
    r"konnte\s+nicht\s+zugestellt|nicht\s+zugestellt|zustellung\s+fehlgeschlagen|"
    r"n'a\s+pas\s+pu\s+[êe]tre\s+(?:remis|distribu|livr)|"
    r"non\s+[èe]\s+stato\s+possibile\s+(?:recapitare|consegnare)|"
    r"no\s+(?:se\s+ha\s+podido|pudo\s+ser|se\s+pudo)\s+entregar|"
    r"kon\s+niet\s+worden\s+(?:bezorgd|afgeleverd)|n[ãa]o\s+p[ôo]de\s+ser\s+entregue|"
    r"kunde\s+inte\s+levereras|"
    r"送信できませんでした|配信できませんでした|届きませんでした|送信に失敗|配信に失敗|"
    r"宛先不明|宛先が見つかりません|"
    r"无法投递|無法傳遞|无法发送|无法送达|退回|"
    r"не\s+может\s+быть\s+доставлено|не\s+удалось\s+доставить|не\s+доставлено",
    re.IGNORECASE,
)

_NOREPLY_LOCAL = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply)$", re.I)
_FORWARD_PREFIX = re.compile(r"^\s*(?:fwd?|fw|wg|tr|rv|enc|i|vs|vb|doorst|rif)\s*:", re.I)


@dataclass(frozen=True)
class BounceSignals:
    """The evidence for a text bounce; `decisive` names the combination that decided."""

    mta_sender: bool
    null_sender: bool
    failed_recipients_header: bool
    bounce_subject: bool
    notice_phrase: bool
    auto_submitted: bool
    decisive: str | None

    def present(self) -> tuple[str, ...]:
        """The names of the signals seen, for the verdict's audit trail."""
        names = (
            ("mail-system sender", self.mta_sender),
            ("null reverse-path", self.null_sender),
            ("X-Failed-Recipients", self.failed_recipients_header),
            ("bounce subject", self.bounce_subject),
            ("delivery-failure wording", self.notice_phrase),
            ("Auto-Submitted", self.auto_submitted),
        )
        return tuple(name for name, seen in names if seen)


def is_mta_sender(msg: Message) -> bool:
    """From (or Sender) is a delivery system, not a person."""
    raw_from = header(msg, "From")
    if raw_from.strip() == "<>":  # the null address as sender; a missing From proves nothing
        return True
    for value in (raw_from, header(msg, "Sender")):
        if not value:
            continue
        for addr in addresses(value):
            local = addr.split("@", 1)[0]
            if _MTA_LOCAL.match(local) or _MTA_LOCAL_PART.search(local):
                return True
        if _MTA_LOCAL_PART.search(value.split("@", 1)[0]):
            return True
        name = value.split("<", 1)[0] if "<" in value else value
        if _MTA_NAME.search(name):
            return True
    return False


def _noreply_sender(msg: Message) -> bool:
    return any(_NOREPLY_LOCAL.match(a.split("@", 1)[0]) for a in addresses(header(msg, "From")))


def has_null_sender(msg: Message, envelope_sender: str | None) -> bool:
    """The reverse-path is null (RFC 5321 section 4.5.5), as for every DSN and auto-reply."""
    if envelope_sender is not None and envelope_sender.strip() in ("", "<>"):
        return True
    for value in headers(msg, "Return-Path"):
        text = value.strip().lower()
        if text in ("<>", "", "<mailer-daemon>", "mailer-daemon"):
            return True
    return False


def is_bounce_subject(subject: str) -> bool:
    return bool(_BOUNCE_SUBJECT.search(subject))


def has_notice_phrase(text: str) -> bool:
    return bool(_NOTICE_PHRASES.search(text[:50_000]))


def bounce_signals(msg: Message, notice: str, envelope_sender: str | None) -> BounceSignals:
    """Collect the signals and decide whether `msg` is a (non-standard) bounce."""
    subject = header(msg, "Subject")
    mta = is_mta_sender(msg)
    null = has_null_sender(msg, envelope_sender)
    xfailed = bool(raw_header(msg, "X-Failed-Recipients"))
    bsubject = is_bounce_subject(subject)
    phrase = has_notice_phrase(notice) or has_notice_phrase(subject)
    auto = header(msg, "Auto-Submitted").lower() not in ("", "no")
    decisive: str | None = None
    forwarded_by_person = bool(_FORWARD_PREFIX.match(subject)) and not mta and not null
    if forwarded_by_person:
        decisive = None
    elif xfailed:
        decisive = "X-Failed-Recipients header"
    elif mta and (bsubject or phrase):
        decisive = "delivery failure notice from a mail system"
    elif null and bsubject:
        decisive = "bounce subject with a null reverse-path"
    elif null and phrase:
        decisive = "delivery failure notice with a null reverse-path"
    elif bsubject and phrase and (auto or _noreply_sender(msg)):
        decisive = "automatic delivery failure notice"
    return BounceSignals(
        mta_sender=mta,
        null_sender=null,
        failed_recipients_header=xfailed,
        bounce_subject=bsubject,
        notice_phrase=phrase,
        auto_submitted=auto,
        decisive=decisive,
    )
