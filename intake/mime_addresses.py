"""Address headers of the MIME parsing stage: From, Sender, Reply-To, To, Cc as `MailAddress`.

The address list is split on the raw (still encoded) text, so a display name that decodes to
"Smith, John" cannot split one mailbox into two; only then are names decoded (RFC 2047
section 5 allows encoded words in phrases). Comments are not part of a display name
(RFC 5322 section 3.2.2) unless they are the only name given ("user@host (Name)"). Common
malformations are repaired where the intent is plain: "Name (user@host)", "Name user@host".
"""

import re
from collections.abc import Callable, Iterable
from email.utils import getaddresses

from intake.mime_headers import ENCODED_WORD, decode_encoded_words, raw_text, unfold
from intake.mime_text import clean_name, strip_controls
from intake.parsed import MailAddress

# RFC 5321 section 4.5.3.1.3: a path is at most 256 octets, so an address is shorter.
MAX_ADDRESS_CHARS = 254

_TOKEN = re.compile("\ue000(\\d+)\ue001")

# A comment outside quoted strings: "(...)", one level of nesting is enough in practice.
_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\((?:[^()\\]|\\.|\([^()]*\))*\)')


def _without_comments(text: str) -> str:
    return _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)


def _looks_like_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    if not (at and local and domain) or any(ch.isspace() for ch in domain):
        return False
    # A quoted local part may contain spaces (RFC 5322 section 3.4.1).
    quoted = len(local) >= 2 and local.startswith('"') and local.endswith('"')
    return quoted or not any(ch.isspace() for ch in local)


def _repair(name: str, email: str) -> tuple[str, str]:
    email = email.strip().strip("<>").strip()
    if not _looks_like_address(email):
        if _looks_like_address(name.strip().strip("<>")):
            # "Name (user@host)": the parser takes the comment for the name.
            return email, name.strip().strip("<>")
        tokens = email.split()
        if '"' not in email and len(tokens) > 1 and _looks_like_address(tokens[-1].strip("<>")):
            # "Name user@host" without angle brackets.
            return " ".join([name, *tokens[:-1]]).strip(), tokens[-1].strip("<>")
    return name, email


def _pairs(text: str) -> list[tuple[str, str]]:
    """(name, address) pairs; names without comments where that leaves a name."""
    pairs = getaddresses([text])
    bare = getaddresses([_without_comments(text)])
    if [address for _, address in bare] != [address for _, address in pairs]:
        return pairs
    return [
        (bare_name if bare_name.strip() else name, address)
        for (name, address), (bare_name, _) in zip(pairs, bare, strict=True)
    ]


def _shield(text: str) -> tuple[str, Callable[[str], str]]:
    """Encoded words replaced by opaque tokens, and the function that puts them back.

    An encoded word may (wrongly, or with intent) carry ":", "@", "," or "<" in its text;
    the address parser must see it as one word of a display name, nothing more.
    """
    words: list[str] = []

    def hide(match: re.Match[str]) -> str:
        words.append(match.group(0))
        return f"\ue000{len(words) - 1}\ue001"

    def restore(value: str) -> str:
        return _TOKEN.sub(lambda m: words[int(m.group(1))], value)

    return ENCODED_WORD.sub(hide, text), restore


def parse_addresses(values: Iterable[object], hint: str | None = None) -> list[MailAddress]:
    """The mailboxes in address header values, in order, duplicates left out."""
    found: list[MailAddress] = []
    seen: set[str] = set()
    for value in values:
        text, restore = _shield(strip_controls(raw_text(unfold(str(value)), hint)))
        for shielded_name, shielded_email in _pairs(text):
            name, email = _repair(restore(shielded_name), restore(shielded_email))
            email = strip_controls(email).strip()
            if not email or len(email) > MAX_ADDRESS_CHARS:
                continue
            if not _looks_like_address(email) and any(ch.isspace() for ch in email):
                continue
            address = MailAddress(email=email, name=clean_name(decode_encoded_words(name)))
            if address.email.lower() not in seen:
                seen.add(address.email.lower())
                found.append(address)
    return found


def first_mailbox(addresses: list[MailAddress]) -> MailAddress | None:
    """The first address with a domain, else the first at all (From: MAILER-DAEMON)."""
    for address in addresses:
        if "@" in address.email:
            return address
    return addresses[0] if addresses else None


def count_addresses(value: object) -> int:
    """How many addresses one header value holds (a cheap upper bound first, then exact)."""
    text = raw_text(unfold(str(value)))
    if "@" not in text:
        return 0
    return sum(1 for _, email in getaddresses([text]) if email.strip())
