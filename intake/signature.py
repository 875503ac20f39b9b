"""Finding the signature at the end of the new part of a mail.

Part of the trimming step of intake: `intake.trimming` first removes quoted earlier mail, then
asks this module where the sender's signature starts in what is left. Signals, strongest
first:

- a signature the sender is known to use (learnt with `find_recurring_signature`, the idea of
  Zammad's signature detection: the lines that recur in one sender's messages);
- the RFC 3676 section 4.3 delimiter "-- " (and the common "--" without the space), or another
  line that only draws a rule ("_____", "=====", "~~~~~") above a short closing block;
- a closing ("Regards,", "Mit freundlichen Grüßen", ...) followed by a block of signature-like
  lines (name, title, company, phone) - a closing followed by just a name stays in the text,
  because that is part of what the person wrote (unless it names the known sender);
- a trailing block of contact lines (e-mail address, phone, web address).

Pure functions over lines; the work is linear in the number of lines looked at, and only the
last `_TAIL_LINES` lines are looked at for closings and contact blocks.
"""

import difflib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from intake.quote_headers import (
    clean,
    is_mobile_footer,
    marker_kind,
    match_attribution,
    match_header_block,
    quote_depth,
)


class SignatureKind(StrEnum):
    """What recognised the signature (named in the trimming signal)."""

    RECURRING = "recurring signature"
    DELIMITER = "signature delimiter"
    RULE = "delimiter line"
    MOBILE_FOOTER = "mobile footer"
    CLOSING = "sign-off"
    SENDER_NAME = "sender name"
    CONTACT = "contact block"
    DISCLAIMER = "disclaimer"


@dataclass(frozen=True)
class SignatureStart:
    """The signature starts at line `index` of the lines given."""

    index: int
    kind: SignatureKind


# A signature after "-- " may be long (company footers, legal notices); after a bare rule
# line it must be short, or the rule was just a rule in the text.
MAX_DELIMITED_LINES = 40
MAX_RULE_LINES = 12
MAX_CLOSING_BLOCK_LINES = 20
MAX_SIGNATURE_LINE_CHARS = 80
_TAIL_LINES = 40

_RULE_LINE = re.compile(r"[-_=~*#+•·ᐧ–—]{3,}|_{2}|ᐧ|[–—]{1,2}")
_BULLET = re.compile(r"(?:[-*•]|\d{1,2}[.)])\s")

_CLOSINGS = (
    # en
    "regards|best regards|kind regards|warm regards|warmest regards|best wishes|all the best|"
    "best|cheers|thanks|thank you|thanks again|many thanks|thanks in advance|thx|ty|"
    "sincerely|yours sincerely|sincerely yours|yours truly|yours|respectfully|take care|"
    "greetings|cordially|br|kr|"
    # de
    "mit freundlichen grüßen|mit freundlichen grüssen|mit freundlichem gruß|"
    "mit freundlichem gruss|freundliche grüße|freundliche grüsse|viele grüße|viele grüsse|"
    "beste grüße|beste grüsse|liebe grüße|liebe grüsse|herzliche grüße|herzliche grüsse|"
    "schöne grüße|schöne grüsse|gruß|gruss|grüße|grüsse|mfg|lg|vg|danke|vielen dank|"
    "danke und viele grüße|danke und viele grüsse|"
    # fr
    "cordialement|bien cordialement|bien à vous|salutations|meilleures salutations|"
    "bonne journée|merci|merci beaucoup|amicalement|"
    # es, pt, it
    "saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias|"
    "atenciosamente|abraços|obrigado|obrigada|cumprimentos|"
    "cordiali saluti|saluti|distinti saluti|grazie|grazie mille|"
    # nl, nordic, fi, pl, ru
    "met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|groeten|groet|mvg|"
    "med vänlig hälsning|vänliga hälsningar|hälsningar|med venlig hilsen|venlig hilsen|"
    "vennlig hilsen|med vennlig hilsen|hilsen|ystävällisin terveisin|terveisin|kiitos|"
    "pozdrawiam|z poważaniem|dziękuję|с уважением|спасибо|всего доброго|з повагою|дякую|"
    # af
    "dankie|groete|vriendelike groete"
)
_CLOSING_LINE = re.compile(
    r"(?:" + _CLOSINGS + r")(?![^\W\d_])[\s,.!:;]*(?:[^\W\d_][\w.'-]*\s*){0,3}[^\w\s]{0,4}",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+'-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# Phone numbers: "+" or groups of digits split by spaces, dashes, dots, slashes or
# parentheses, 7 to 15 digits, not part of a longer number or word ("150,000.000.00euro").
_PHONE = re.compile(r"(?<![\w,.])(?:\+|\(\d)?[\d ()./-]{6,24}\d(?![\w,])")
_PHONE_SEPARATED = re.compile(r"^\+|\d[ ()./-]+\d")
_URL = re.compile(r"(?:https?://|www\.)\S{2,}", re.IGNORECASE)
_CONTACT_LABEL = re.compile(
    r"(?:tel|tél|phone|fon|telefon|telefono|mobile?|mobil|cell|handy|fax|email|e-mail|mail|"
    r"web|www|[tmfpew])\.?\s?:",
    re.IGNORECASE,
)


def is_rule_or_delimiter(raw_line: str) -> SignatureKind | None:
    """The signature delimiter (RFC 3676 section 4.3: "-- ") or a rule line ("_____")."""
    line = raw_line.rstrip("\r\n")
    if line in {"-- ", "--"} or line.strip() in {"--", "-- -"}:
        return SignatureKind.DELIMITER
    core = clean(line).replace(" ", "")
    if core and len(core) <= 80 and _RULE_LINE.fullmatch(core):
        return SignatureKind.RULE
    return None


def signature_tail_ok(kind: SignatureKind, line_above: str, tail: Iterable[str]) -> bool:
    """Can the lines below a delimiter or rule line be a signature?

    After "-- " up to `MAX_DELIMITED_LINES` lines of anything (company footers, notices).
    After a bare rule, fewer and shorter lines, and not when the line above the rule
    announces what follows ("New message:"), as in form notifications.
    """
    delimited = kind is SignatureKind.DELIMITER
    if not delimited and line_above.endswith((":", "：")):
        return False
    limit = MAX_DELIMITED_LINES if delimited else MAX_RULE_LINES
    count, long_lines = 0, []
    for line in tail:  # stops early: a long tail is never a signature
        if not line:
            continue
        count += 1
        if count > limit:
            return False
        if not delimited and len(line) > MAX_SIGNATURE_LINE_CHARS + 20:
            long_lines.append(line)
    # Long lines below a rule are prose - unless they are a legal notice.
    return not long_lines or _is_disclaimer(" ".join(long_lines))


# Legal notices companies append to every mail. Two different terms must appear in one
# paragraph ("This is confidential, don't share" alone is the person's own sentence).
_DISCLAIMER_TERM = re.compile(
    r"confidential|intended (?:solely )?(?:for the )?(?:recipient|addressee)|privileged|"
    r"unauthori[sz]ed|disclaimer|delete (?:this|the) (?:e-?mail|message)|"
    r"notify the sender|received this (?:e-?mail|message) in error|"
    r"vertraulich|empfänger|irrtümlich|unbefugte|confidentiel|destinataire|"
    r"riservat|destinatario|vertrouwelijk|geadresseerde|fortrolig|konfidentiell",
    re.IGNORECASE,
)
_MAX_DISCLAIMER_PARAGRAPHS = 3


def _is_disclaimer(paragraph: str) -> bool:
    terms = {m.group(0).casefold() for m in _DISCLAIMER_TERM.finditer(paragraph[:4000])}
    return len(terms) >= 2


def _find_disclaimer(cleaned: list[str], content: list[int]) -> SignatureStart | None:
    """The trailing paragraphs that are legal notices (at most three, each two terms)."""
    paragraphs: list[list[int]] = []
    for index in content:
        if paragraphs and index == paragraphs[-1][-1] + 1:
            paragraphs[-1].append(index)
        else:
            paragraphs.append([index])
    start: int | None = None
    for paragraph in reversed(paragraphs[1:][-_MAX_DISCLAIMER_PARAGRAPHS:]):
        if not _is_disclaimer(" ".join(cleaned[i] for i in paragraph)):
            break
        start = paragraph[0]
    return None if start is None else SignatureStart(start, SignatureKind.DISCLAIMER)


def is_closing(cleaned_line: str) -> bool:
    """A closing formula ("Best regards,", "Mit freundlichen Grüßen", "Thanks, Sam")."""
    return 0 < len(cleaned_line) <= 50 and bool(_CLOSING_LINE.fullmatch(cleaned_line))


def _is_phone(match: str) -> bool:
    digits = sum(c.isdigit() for c in match)
    return 7 <= digits <= 15 and bool(_PHONE_SEPARATED.search(match.strip()))


def is_contact_line(cleaned_line: str) -> bool:
    """A short line of contact details: an address, a phone number, a web address.

    Besides the details it has at most a label or a few words ("Mobile: ...", "Jane Doe
    <jane@example.com>"), so a sentence that mentions an address is not a contact line.
    """
    if len(cleaned_line) > 60:
        return False
    if _CONTACT_LABEL.match(cleaned_line):
        return True
    rest = cleaned_line
    for pattern in (_EMAIL, _URL):
        rest = pattern.sub(" ", rest)
    phones = [m for m in _PHONE.finditer(rest) if _is_phone(m.group(0))]
    for match in reversed(phones):
        rest = rest[: match.start()] + " " + rest[match.end() :]
    if rest == cleaned_line:
        return False
    return len(re.findall(r"[^\W\d_]{2,}", rest)) <= 3


def _looks_like_signature_line(cleaned_line: str) -> bool:
    """Name, title, company, address or contact line; not a sentence, question or list item."""
    if len(cleaned_line) > MAX_SIGNATURE_LINE_CHARS or _BULLET.match(cleaned_line):
        return False
    if is_contact_line(cleaned_line) or _RULE_LINE.fullmatch(cleaned_line.replace(" ", "")):
        return True
    if cleaned_line.endswith(("?", ":")):
        return False
    # Prose has sentence breaks inside the line; signature lines rarely do.
    return len(re.findall(r"[.!?]\s+[^\W\d_]", cleaned_line)) == 0


def _name_tokens(name: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(c if c.isalnum() else " " for c in folded if not unicodedata.combining(c))
    return [t for t in letters.split() if len(t) >= 2]


def _names_sender(cleaned_line: str, sender: list[str]) -> bool:
    if not sender or len(cleaned_line) > 60:
        return False
    tokens = _name_tokens(cleaned_line)
    return bool(tokens) and len(tokens) <= 6 and sender[0] in tokens


def _fence_mask(lines: Sequence[str]) -> list[bool]:
    """Lines inside Markdown code fences: rule-like lines there are code, not signatures."""
    inside = False
    mask: list[bool] = []
    for line in lines:
        # Only backtick fences: "~~~~~" is a common rule line above mail signatures.
        is_fence = line.lstrip().startswith("```")
        mask.append(inside or is_fence)
        if is_fence:
            inside = not inside
    return mask


def find_signature_start(
    lines: Sequence[str],
    *,
    sender_name: str | None = None,
    known_signatures: Sequence[str] = (),
) -> SignatureStart | None:
    """Where the signature starts in `lines` (the new part of a mail, quotes already removed).

    Never at the first non-empty line: a signature needs something above it.
    """
    cleaned = [clean(line) for line in lines]
    content = [i for i, line in enumerate(cleaned) if line]
    if len(content) < 2:
        return None
    first = content[0]
    found = _find_known(cleaned, first, known_signatures) or _find_delimited(lines, cleaned, first)
    if found is not None:
        return found
    # A legal notice at the end; a closing block above it starts the signature earlier.
    disclaimer = _find_disclaimer(cleaned, content)
    above = [i for i in content if disclaimer is None or i < disclaimer.index]
    closing = (
        _find_closing_block(cleaned, above, _name_tokens(sender_name or ""))
        if len(above) >= 2
        else None
    )
    return closing or disclaimer


def _find_known(cleaned: list[str], first: int, known: Sequence[str]) -> SignatureStart | None:
    best: int | None = None
    for signature in known:
        wanted = [_normalise(line) for line in signature.splitlines() if clean(line)][:3]
        if not wanted or sum(len(w) for w in wanted) < 8:
            continue
        position = _find_lines(cleaned, wanted, first + 1)
        if position is not None and (best is None or position < best):
            best = position
    return None if best is None else SignatureStart(best, SignatureKind.RECURRING)


def _normalise(line: str) -> str:
    return " ".join(clean(line).casefold().split())


def _find_lines(cleaned: list[str], wanted: list[str], start: int) -> int | None:
    """First index >= start where the non-empty lines equal `wanted` (blank lines skipped)."""
    for index in range(start, len(cleaned)):
        if _normalise(cleaned[index]) != wanted[0]:
            continue
        position, matched = index + 1, 1
        while matched < len(wanted) and position < len(cleaned):
            if cleaned[position]:
                if _normalise(cleaned[position]) != wanted[matched]:
                    break
                matched += 1
            position += 1
        if matched == len(wanted):
            return index
    return None


def _find_delimited(lines: Sequence[str], cleaned: list[str], first: int) -> SignatureStart | None:
    fenced = _fence_mask(lines)
    # Non-empty lines from each index to the end, for the mobile footer's short tail.
    remaining = [0] * (len(cleaned) + 1)
    for index in range(len(cleaned) - 1, -1, -1):
        remaining[index] = remaining[index + 1] + (1 if cleaned[index] else 0)
    above = cleaned[first]
    for index in range(first + 1, len(lines)):
        kind = None if fenced[index] else is_rule_or_delimiter(lines[index])
        if kind is None and not fenced[index] and is_mobile_footer(cleaned[index]):
            kind = SignatureKind.MOBILE_FOOTER
        if kind is SignatureKind.MOBILE_FOOTER and remaining[index + 1] <= MAX_RULE_LINES:
            return SignatureStart(index, kind)
        if kind in {SignatureKind.DELIMITER, SignatureKind.RULE} and signature_tail_ok(
            kind, above, itertools.islice(cleaned, index + 1, None)
        ):
            return SignatureStart(index, kind)
        above = cleaned[index] or above
    return None


def _find_closing_block(
    cleaned: list[str], content: list[int], sender: list[str]
) -> SignatureStart | None:
    """A closing followed by a signature block, a sender-name block, or a contact block."""
    tail = content[-_TAIL_LINES:]
    # The longest run of signature-like lines that reaches the end of the text.
    run_start = len(tail)
    while run_start > 0 and _looks_like_signature_line(cleaned[tail[run_start - 1]]):
        run_start -= 1
    candidates = [i for i in tail[max(run_start - 1, 0) :] if i != content[0]]
    for index in candidates:
        after = [i for i in tail if i > index]
        if not is_closing(cleaned[index]) or len(after) > MAX_CLOSING_BLOCK_LINES:
            continue
        if any(not _looks_like_signature_line(cleaned[i]) for i in after):
            continue
        if len(after) >= 2 or any(_names_sender(cleaned[i], sender) for i in [index, *after]):
            return SignatureStart(index, SignatureKind.CLOSING)
    run = [i for i in tail[run_start:] if i != content[0]]
    for index in run:
        if len([i for i in run if i > index]) <= 5 and _names_sender(cleaned[index], sender):
            return SignatureStart(index, SignatureKind.SENDER_NAME)
    return _find_contact_block(cleaned, run[-_MAX_CONTACT_BLOCK_LINES:])


_MAX_CONTACT_BLOCK_LINES = 10
_NAME_LIKE = re.compile(r"[^\W\d_][\w.'’-]*(?:[ \t]+[^\W\d_][\w.'’-]*){0,3}[,.]?")


_NOT_A_NAME = frozenset(
    (
        *("the", "a", "an", "this", "that", "these", "our", "your", "my", "his", "her"),
        *("their", "der", "die", "das", "ein", "eine", "le", "la", "les", "un", "une"),
        *("el", "los", "las", "il", "lo"),
    )
)


def _is_name_like(cleaned_line: str) -> bool:
    """A name or a short title line: up to four words, no digits, starts with a capital."""
    words = cleaned_line.split()
    return (
        len(cleaned_line) <= 40
        and cleaned_line[:1].isupper()
        and bool(_NAME_LIKE.fullmatch(cleaned_line))
        and words[0].casefold() not in _NOT_A_NAME
    )


def _find_contact_block(cleaned: list[str], block: list[int]) -> SignatureStart | None:
    """A closing block: a name (or closing) line, then lines with two or more contact details.

    The block's lines follow each other with at most one blank line between them (text
    converted from HTML is often double-spaced), and it reaches the end of the text.
    """
    for position, index in enumerate(block):
        below = block[position:]
        if any(b - a > 2 for a, b in itertools.pairwise(below)):
            continue
        if not (_is_name_like(cleaned[index]) or is_closing(cleaned[index])):
            continue
        if sum(is_contact_line(cleaned[i]) for i in below) >= 2:
            return SignatureStart(index, SignatureKind.CONTACT)
    return None


# --- recurring signatures --------------------------------------------------------------------

MIN_RECURRING_LINES = 2
MIN_RECURRING_CHARS = 20
_MAX_COMPARED_LINES = 400


def _own_lines(text: str) -> list[tuple[int, str]]:
    """(line number, normalised line) of a message's own text: up to its first quote."""
    result: list[tuple[int, str]] = []
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = [clean(line) for line in raw[: _MAX_COMPARED_LINES * 3]]
    for index, line in enumerate(cleaned):
        if not line:
            continue
        if (
            quote_depth(line)
            or marker_kind(line) is not None
            or match_header_block(cleaned, index) is not None
            or match_attribution(cleaned, index) is not None
        ):
            break
        result.append((index, _normalise(line)))
        if len(result) >= _MAX_COMPARED_LINES:
            break
    return result


def find_recurring_signature(previous_texts: Sequence[str], text: str) -> str | None:
    """The block of lines of `text` that recurs in the sender's earlier messages, or None.

    Each earlier message is compared with `text` (their own parts, before any quote); the
    longest run of identical non-empty lines (at least two lines and 20 characters) that is
    not at the very start of `text` is that pair's candidate. The candidate most earlier
    messages agree on wins (ties: the longer one). The result is the block as written in
    `text`, blank lines inside it included.
    """
    own = _own_lines(text)
    if len(own) <= MIN_RECURRING_LINES:
        return None
    votes: dict[tuple[int, int], int] = {}
    for previous in previous_texts:
        candidate = _common_block(own, _own_lines(previous))
        if candidate is not None:
            votes[candidate] = votes.get(candidate, 0) + 1
    if not votes:
        return None
    start, end = max(votes, key=lambda span: (votes[span], span[1] - span[0]))
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first_line, last_line = own[start][0], own[end - 1][0]
    return "\n".join(raw[first_line : last_line + 1])


def _common_block(
    own: list[tuple[int, str]], other: list[tuple[int, str]]
) -> tuple[int, int] | None:
    if not other:
        return None
    matcher = difflib.SequenceMatcher(
        None, [line for _, line in own], [line for _, line in other], autojunk=False
    )
    best: tuple[int, int] | None = None
    for block in matcher.get_matching_blocks():
        if block.size < MIN_RECURRING_LINES or block.a == 0:
            continue
        chars = sum(len(own[i][1]) for i in range(block.a, block.a + block.size))
        if chars < MIN_RECURRING_CHARS:
            continue
        if best is None or block.size > best[1] - best[0]:
            best = (block.a, block.a + block.size)
    return best
