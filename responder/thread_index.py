"""Thread-Index for Outlook: the conversation index that groups a ticket's mail in one thread.

Outlook threads by `Thread-Index` (MAPI PidTagConversationIndex, [MS-OXOMSG] §2.2.1.3) rather
than by References. The value is base64 of a 22-byte header block followed by one 5-byte
child block per reply level:

- header: the reserved byte 0x01; 5 bytes of a FILETIME (100 ns ticks since 1601-01-01 UTC)
  keeping its 40 most significant bits, big-endian; a 16-byte GUID naming the conversation
  (Data1-3 big-endian, which is Python's `UUID.bytes`).
- child: 1 bit delta code, 31 bits of time difference to the header's time (bits 18-48 of
  the difference when it is below 2**49 ticks, about 1.8 years, else bits 23-53 with the code
  set), then 4 random bits and a 4-bit sequence count.

Deskmail's root is stable per ticket: the ticket's creation time and a GUID derived from the
Message-ID domain and the ticket number, so every mail about a ticket carries the same header
block and Outlook files them together; each mail we send adds one child block per earlier
reply of ours, so the levels order them.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_DELTA_SMALL = 1 << 49
_MAX_LEVELS = 64  # keeps the header well below RFC 5322's line limit (base64 of 342 bytes)


def filetime(moment: datetime) -> int:
    """`moment` as a Windows FILETIME: 100 ns ticks since 1601-01-01 UTC."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to filetime")
    delta = moment.astimezone(UTC) - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def conversation_guid(domain: str, ticket_number: int) -> uuid.UUID:
    """The GUID of a ticket's conversation: the same for every mail about the ticket."""
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"ticket-{ticket_number}.{domain.lower()}")


def _child(root_ticks: int, moment: datetime, level: int, salt: bytes) -> bytes:
    delta = max(filetime(moment) - root_ticks, 0)
    if delta < _DELTA_SMALL:
        code, bits = 0, (delta >> 18) & 0x7FFF_FFFF
    else:
        code, bits = 1, (delta >> 23) & 0x7FFF_FFFF
    # The random nibble is derived, not drawn, so the same ticket and level always give the
    # same block and a rebuilt header equals the one sent before.
    random_nibble = hashlib.sha256(salt + level.to_bytes(2, "big")).digest()[0] & 0x0F
    return ((code << 31) | bits).to_bytes(4, "big") + bytes([(random_nibble << 4) | (level & 0x0F)])


def thread_index(
    domain: str, ticket_number: int, started_at: datetime, replies: Sequence[datetime]
) -> str:
    """The Thread-Index value for a mail about a ticket, after `len(replies) - 1` earlier ones.

    `replies` are the times of our mails on this ticket, oldest first, the last one being the
    mail this header goes on; an empty sequence gives the bare header block.
    """
    root = filetime(started_at)
    guid = conversation_guid(domain, ticket_number)
    block = b"\x01" + (root >> 24).to_bytes(5, "big") + guid.bytes
    salt = guid.bytes
    for level, moment in enumerate(replies[-_MAX_LEVELS:], start=1):
        block += _child(root, moment, level, salt)
    return base64.b64encode(block).decode("ascii")


@dataclass(frozen=True)
class ParsedThreadIndex:
    """A decoded Thread-Index (tests and diagnostics)."""

    header_ticks: int  # the FILETIME with its 24 low bits zero
    guid: uuid.UUID
    child_ticks: tuple[int, ...]  # each child's difference to the header time (truncated)


def parse_thread_index(value: str) -> ParsedThreadIndex:
    """Decode a Thread-Index header value; ValueError when it is not one."""
    data = base64.b64decode(value.strip(), validate=True)
    if len(data) < 22 or (len(data) - 22) % 5 or data[0] != 1:
        raise ValueError("not a conversation index")
    header_ticks = int.from_bytes(data[1:6], "big") << 24
    guid = uuid.UUID(bytes=bytes(data[6:22]))
    children: list[int] = []
    for offset in range(22, len(data), 5):
        word = int.from_bytes(data[offset : offset + 4], "big")
        code, bits = word >> 31, word & 0x7FFF_FFFF
        children.append(bits << (23 if code else 18))
    return ParsedThreadIndex(header_ticks, guid, tuple(children))
