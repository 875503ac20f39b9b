"""Reply and signature trimming: the new part of a follow-up mail.

Intake stores a mail's full text and, separately, the part the person just wrote - without the
quoted earlier mail and without the signature. Agents see the new part first; the classifier
and the matcher read only the new part. This module decides where to cut; the line patterns
live in `intake.quote_headers` (quotes) and `intake.signature` (signatures), HTML markers in
`intake.trimming_html`.

How a text is cut (see docs/decisions/0030-0037):

1. The first *hard* boundary ends the new part: an Outlook-style header block, an "original
   message" marker, an attribution line ("On ... wrote:") that is not followed by `>` lines, a
   forwarded-message marker, a mobile client's footer, or a signature delimiter ("-- ") above a
   short block. What follows a hard boundary is quoted (or forwarded, or signature).
2. Before it, `>`-quoted blocks (with the attribution line above them) are quoted mail:
   - top-posting (text, then the quote): the quote is cut;
   - bottom-posting (quote, then text; maybe a greeting above): the client's quote of the
     whole previous mail (it has an attribution) is cut, greeting and answer stay;
   - interleaved answers (text between quoted pieces): the new part runs from the first to
     the last new line and keeps the quoted lines in between, because an inline answer ("Yes,
     twice.") is meaningless without the question it answers; attribution lines inside it and
     the quotes before the first and after the last new line are cut. A quote without an
     attribution directly above the first answer is such a question too, and stays.
3. The signature is then looked for at the end of the new part.
4. The new part is never empty when the person wrote something: if everything looks quoted,
   the whole text is kept as the new part and `signal` says so. A bare forward (nothing written
   above the forwarded mail) keeps the forwarded body as the new part.

Work is bounded: only the first `TrimConfig.max_scan_lines` lines (and `max_scan_chars`
characters) are examined, each with patterns over at most a few hundred characters; the rest
of a huge text follows the decision made for the last examined line.
"""

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from intake.quote_headers import (
    Marker,
    clean,
    header_field,
    is_mobile_footer,
    marker_kind,
    match_attribution,
    match_header_block,
    quote_depth,
)
from intake.signature import (
    SignatureKind,
    find_signature_start,
    is_rule_or_delimiter,
    signature_tail_ok,
)
from intake.trimming_html import split_html


@dataclass(frozen=True)
class TrimConfig:
    """Limits of the trimming work (hostile mail can be megabytes of one line)."""

    max_scan_lines: int = 5000
    max_scan_chars: int = 500_000
    # How far below a signature delimiter the next quote may start (lines, blank included).
    max_lookahead_lines: int = 200


@dataclass(frozen=True)
class TrimmedReply:
    """A mail text split into what the person wrote and what they did not.

    `quoted` is what was recognised as quoted earlier mail even when it could not be removed
    (then `new_text` is the whole text and `signal` says "all quoted"). `forwarded` holds a
    forwarded message (its marker, headers and body) written below the new part.
    """

    new_text: str
    quoted: str
    signature: str
    signal: str
    forwarded: str = ""


class _Label(IntEnum):
    NEW = 0
    QUOTED = 1
    SIGNATURE = 2
    FORWARDED = 3


class _Kind(StrEnum):
    QUOTE = "quote"
    ATTRIBUTION = "attribution"
    FORWARD = "forward"
    FOOTER = "footer"
    DELIMITER = "delimiter"


@dataclass(frozen=True)
class _Boundary:
    index: int
    end: int  # first line after the marker itself (header block, attribution lines)
    kind: _Kind
    signal: str


@dataclass
class _Context:
    lines: list[str]
    cleaned: list[str]
    depth: list[int]
    fenced: list[bool]
    scan_end: int
    config: TrimConfig
    # Labels of the scanned lines; every line past the scan limit has `tail_label`.
    labels: list[_Label] = field(default_factory=list)
    tail_label: _Label = _Label.NEW
    soft: set[int] = field(default_factory=set)
    quote_free: tuple[int, int] = (0, 0)  # lines low..high hold no quote start
    _starts: dict[int, _Boundary | None] = field(default_factory=dict)

    def quote_start(self, index: int) -> _Boundary | None:
        """A quote, forward or attribution boundary at top-level line `index` (cached)."""
        if index not in self._starts:
            self._starts[index] = _quote_start(self, index)
        return self._starts[index]


def extract_new_part(
    text: str,
    *,
    html: str | None = None,
    sender_name: str | None = None,
    known_signatures: Sequence[str] = (),
    config: TrimConfig | None = None,
) -> TrimmedReply:
    """Split a mail's text into the new part, the quoted mail, the signature (and a forward).

    `text` is the text/plain body (or text converted from HTML). With `html`, the client's HTML
    quote markers decide the cut when there are any. `sender_name` (the From display name)
    and `known_signatures` (from `find_recurring_signature`) help find the signature.
    """
    config = config or TrimConfig()
    if html:
        result = _trim_html(html, sender_name, known_signatures, config)
        if result is not None:
            return result
    return _trim_plain(text, sender_name, known_signatures, config)


def _trim_html(
    html: str, sender_name: str | None, known_signatures: Sequence[str], config: TrimConfig
) -> TrimmedReply | None:
    """The reply cut at the HTML body's markers, or None when they do not decide it.

    They do not when there are none, or when nothing is above them (a bottom-posted reply or
    a bare forward: the plain-text rules handle those).
    """
    split = split_html(html)
    if (split.marker is None and not split.signature) or not split.new_text.strip():
        return None
    inner = _trim_plain(split.new_text, sender_name, known_signatures, config)
    quoted, forwarded = split.quoted, ""
    first = next((line for line in quoted.splitlines() if line.strip()), "")
    found = marker_kind(clean(first))
    if found is not None and found[0] is Marker.FORWARD:
        quoted, forwarded = "", split.quoted
    if split.marker is not None:
        signal = f"html {split.marker}"
    else:
        signal = "html signature" if inner.signal == "none" else inner.signal
    return TrimmedReply(
        inner.new_text,
        _join(inner.quoted, quoted),
        _join(inner.signature, split.signature),
        signal,
        _join(inner.forwarded, forwarded),
    )


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part.strip())


# --- plain text -------------------------------------------------------------------------------


def _trim_plain(
    text: str, sender_name: str | None, known_signatures: Sequence[str], config: TrimConfig
) -> TrimmedReply:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    context = _context(lines, config)
    signal = _label_range(context, 0, len(lines), nesting=0, in_forward=False) or "none"
    signature_signal = _label_signature(context, sender_name, known_signatures)
    if signal == "none" and signature_signal:
        signal = signature_signal
    parts = _collect(context)
    if not parts[_Label.NEW].strip():
        whole = "\n".join(lines).strip("\n")
        if not whole.strip():
            return TrimmedReply("", "", "", "none")
        return TrimmedReply(
            whole,
            parts[_Label.QUOTED],
            parts[_Label.SIGNATURE],
            f"all quoted, kept whole text ({signal})",
            parts[_Label.FORWARDED],
        )
    return TrimmedReply(
        parts[_Label.NEW],
        parts[_Label.QUOTED],
        parts[_Label.SIGNATURE],
        signal,
        parts[_Label.FORWARDED],
    )


def _context(lines: list[str], config: TrimConfig) -> _Context:
    scan_end, chars = 0, 0
    while scan_end < len(lines) and scan_end < config.max_scan_lines:
        chars += len(lines[scan_end]) + 1
        if chars > config.max_scan_chars:
            break
        scan_end += 1
    scanned = lines[:scan_end]
    cleaned = [clean(line) for line in scanned]
    fenced: list[bool] = []
    inside = False
    for line in cleaned:
        is_fence = line.startswith("```")  # "~~~~~" is a rule line in mail, not a fence
        fenced.append(inside or is_fence)
        inside = inside != is_fence
    return _Context(
        lines=lines,
        cleaned=cleaned,
        depth=[quote_depth(line) for line in scanned],
        fenced=fenced,
        scan_end=scan_end,
        config=config,
        labels=[_Label.NEW] * scan_end,
    )


def _collect(context: _Context) -> dict[_Label, str]:
    """The text of each label; runs of one label are joined in document order."""
    runs: dict[_Label, list[list[str]]] = {label: [] for label in _Label}
    previous: _Label | None = None
    for line, label in zip(context.lines, context.labels, strict=False):
        if label is not previous:
            runs[label].append([])
            previous = label
        runs[label][-1].append(line)
    if context.scan_end < len(context.lines):
        tail = "\n".join(context.lines[context.scan_end :])
        if previous is context.tail_label:
            runs[context.tail_label][-1].append(tail)
        else:
            runs[context.tail_label].append([tail])
    result: dict[_Label, str] = {}
    for label, chunks in runs.items():
        texts = ["\n".join(chunk).strip("\n") for chunk in chunks]
        # Trailing whitespace goes (a signature delimiter keeps its RFC 3676 space inside).
        result[label] = "\n\n".join(t for t in texts if t.strip()).strip("\n").rstrip()
    return result


def _set(context: _Context, start: int, end: int, label: _Label) -> None:
    for index in range(start, min(end, context.scan_end)):
        context.labels[index] = label
    if end > context.scan_end:
        context.tail_label = label


# --- boundaries -------------------------------------------------------------------------------


def _quote_start(context: _Context, index: int) -> _Boundary | None:
    line = context.cleaned[index]
    if not line or context.depth[index]:
        return None
    marker = marker_kind(line)
    if marker is not None:
        kind = _Kind.FORWARD if marker[0] is Marker.FORWARD else _Kind.QUOTE
        return _Boundary(index, index + 1, kind, f"{marker[0]} marker ({marker[1]})")
    return _header_block_at(context, index) or _attribution_boundary(context, index)


def _header_block_at(context: _Context, index: int) -> _Boundary | None:
    """A header block whose first field is on this line or just below a separator here."""
    for probe in range(index, min(index + 4, context.scan_end)):
        if header_field(context.cleaned[probe]) is None:
            continue
        block = match_header_block(context.cleaned, probe)
        if block is not None and block.start == index:
            kind = _Kind.FORWARD if block.is_forward else _Kind.QUOTE
            name = "forwarded header block" if block.is_forward else "outlook header block"
            return _Boundary(index, block.end, kind, f"{name} ({block.language})")
        if probe == index:
            break
    return None


def _attribution_boundary(context: _Context, index: int) -> _Boundary | None:
    """A hard boundary for an attribution not followed by `>` lines.

    One followed by `>` lines is remembered in `context.soft`: it belongs to that quote.
    """
    attribution = match_attribution(context.cleaned, index)
    if attribution is None:
        return None
    following = attribution.end
    while following < context.scan_end and not context.cleaned[following]:
        following += 1
    if following < context.scan_end and context.depth[following] > 0:
        context.soft.update(range(attribution.start, attribution.end))
        return None
    if attribution.weak:
        return None
    return _Boundary(
        index, attribution.end, _Kind.ATTRIBUTION, f"quote header ({attribution.language})"
    )


def _find_boundary(context: _Context, start: int, end: int) -> _Boundary | None:
    """The first hard boundary at or after `start` (before `end` and the scan limit)."""
    stop = min(end, context.scan_end)
    for index in range(start, stop):
        line = context.cleaned[index]
        if not line or context.depth[index]:
            continue
        found = context.quote_start(index)
        if found is not None:
            return found
        if context.fenced[index]:
            continue
        if is_mobile_footer(line):
            return _Boundary(index, index + 1, _Kind.FOOTER, "mobile footer")
        delimiter = is_rule_or_delimiter(context.lines[index])
        if delimiter is not None and _short_tail(context, index, stop, delimiter):
            return _Boundary(index, index + 1, _Kind.DELIMITER, str(delimiter))
    return None


def _next_quote(context: _Context, start: int, stop: int) -> int:
    """The next line at or after `start` where quoted mail begins: `stop` if none before it,
    -1 if none within the look-ahead limit.

    Remembers the stretch of lines known to hold no quote start, so the many delimiter lines
    of a hostile text are not each followed by a fresh look-ahead (linear work overall).
    """
    hard_stop = min(stop, context.scan_end)
    limit = min(hard_stop, start + context.config.max_lookahead_lines)
    low, high = context.quote_free
    known = low <= start <= high
    position = max(high, start) if known else start
    while position < limit:
        if (
            context.depth[position]
            or (context.cleaned[position] and context.quote_start(position) is not None)
            or position in context.soft
        ):
            context.quote_free = (low if known else start, position)
            return position
        position += 1
    context.quote_free = (low if known else start, max(position, high if known else start))
    return stop if limit == hard_stop else -1


def _short_tail(context: _Context, index: int, stop: int, kind: SignatureKind) -> bool:
    """Is the block below a delimiter (up to the next quote) a signature?"""
    quote = _next_quote(context, index + 1, stop)
    if quote < 0:
        return False
    above = ""
    for previous in range(index - 1, max(index - 50, -1), -1):
        if context.cleaned[previous]:
            above = context.cleaned[previous]
            break
    return signature_tail_ok(kind, above, context.cleaned[index + 1 : quote])


# --- labelling --------------------------------------------------------------------------------


# Forwards of forwards and signatures above them are followed this deep, no deeper.
_MAX_NESTING = 8


def _label_range(
    context: _Context, start: int, end: int, nesting: int, in_forward: bool
) -> str | None:
    """Label lines start..end; the signal of the quote cut, or None if nothing was cut.

    `in_forward`: these lines are the body of a bare forward, where the header block of the
    mail that was forwarded (a forward of a forward) is one more forward, not a quote.
    """
    boundary = _find_boundary(context, start, end)
    region_end = boundary.index if boundary is not None else min(end, context.scan_end)
    signal, has_new = _label_region(context, start, region_end)
    if boundary is None:
        # Past the scan limit the text follows the decision for the last examined line.
        last = next((i for i in range(region_end - 1, start - 1, -1) if context.cleaned[i]), None)
        _set(context, region_end, end, _Label.NEW if last is None else context.labels[last])
        return signal
    if boundary.kind in {_Kind.QUOTE, _Kind.ATTRIBUTION, _Kind.FORWARD}:
        if not has_new and nesting < _MAX_NESTING:
            if in_forward and boundary.kind is _Kind.QUOTE:
                boundary = _Boundary(boundary.index, boundary.end, _Kind.FORWARD, boundary.signal)
            inner_start = _skip_marker(context, start, boundary)
            if inner_start is not None:
                forward = in_forward or boundary.kind is _Kind.FORWARD
                inner = _label_range(context, inner_start, end, nesting + 1, forward)
                if boundary.kind is _Kind.FORWARD:
                    return boundary.signal
                return inner or boundary.signal
        _set(context, boundary.index, end, _marker_label(boundary))
        return signal or boundary.signal
    # A signature (delimiter or mobile footer): label it, then what follows it.
    rest = _label_signature_block(context, boundary, end)
    if not has_new and nesting < _MAX_NESTING:
        # Nothing written above the signature yet (e.g. a bare forward's body that is only
        # the forwarder's signature): keep looking below it.
        inner = _label_range(context, rest, end, nesting + 1, in_forward)
        return inner or boundary.signal
    _label_rest(context, rest, end)
    return signal or boundary.signal


def _marker_label(boundary: _Boundary) -> _Label:
    return _Label.FORWARDED if boundary.kind is _Kind.FORWARD else _Label.QUOTED


def _skip_marker(context: _Context, start: int, boundary: _Boundary) -> int | None:
    """Where to look for new text when nothing was written above a boundary, or None.

    - "On ... wrote:" on top with no quote marks below: what follows is the answer
      (bottom-posting whose quote lost its ">"), not an unmarked copy of the original;
    - a bare forward: the forwarded mail is what the sender brings to the help desk, so its
      body (below the marker and the forwarded headers) is the new part.
    A quoted header block on top means the whole text is quoted mail: None.
    """
    if boundary.kind is _Kind.ATTRIBUTION:
        _set(context, start, boundary.end, _Label.QUOTED)
        return boundary.end
    if boundary.kind is _Kind.FORWARD:
        body = _forward_body(context, boundary)
        _set(context, start, body, _Label.FORWARDED)
        return body
    return None


def _forward_body(context: _Context, boundary: _Boundary) -> int:
    """First line of a forwarded mail's body (after its marker and header block)."""
    position = boundary.end
    while position < context.scan_end and not context.cleaned[position]:
        position += 1
    if position < context.scan_end and header_field(context.cleaned[position]) is not None:
        block = match_header_block(context.cleaned, position)
        if block is not None:
            return block.end
    return boundary.end


def _label_signature_block(context: _Context, boundary: _Boundary, end: int) -> int:
    """Label a delimited signature or a run of mobile footers; the first line after it."""
    if boundary.kind is _Kind.DELIMITER:
        stop = _next_quote(context, boundary.index + 1, end)
        stop = end if stop < 0 else stop
    else:
        stop = boundary.index + 1
        while stop < context.scan_end and (
            not context.cleaned[stop]
            or is_mobile_footer(context.cleaned[stop])
            or is_rule_or_delimiter(context.lines[stop]) is not None
        ):
            stop += 1
    _set(context, boundary.index, stop, _Label.SIGNATURE)
    return stop


def _label_rest(context: _Context, start: int, end: int) -> None:
    """Below a signature: quoted mail (marked or not), or a forward."""
    if start >= end:
        return
    found = context.quote_start(start) if start < context.scan_end else None
    if found is not None and found.kind is _Kind.FORWARD:
        _set(context, start, end, _Label.FORWARDED)
    else:
        _set(context, start, end, _Label.QUOTED)


@dataclass
class _Block:
    start: int
    end: int  # exclusive
    has_attribution: bool
    is_forward: bool


def _line_kinds(context: _Context, start: int, end: int) -> list[str]:
    """'E'mpty, 'T'ext, 'Q'uoted or 'A'ttribution (above a quote) for each line."""
    kinds: list[str] = []
    for index in range(start, end):
        line = context.cleaned[index]
        if not line:
            kinds.append("E")
        elif context.depth[index]:
            kinds.append("Q")
        elif index in context.soft:
            kinds.append("A")
        elif _lazy_continuation(context, index, kinds):
            kinds.append("Q")
        else:
            kinds.append("T")
    return kinds


def _lazy_continuation(context: _Context, index: int, kinds: list[str]) -> bool:
    """A quoted line's end that the sender's client wrapped without a ">" (lowercase start)."""
    if not kinds or kinds[-1] != "Q":
        return False
    previous = context.cleaned[index - 1]
    first = context.cleaned[index][:1]
    return len(previous) >= 50 and (first.islower() or first in {'"', ")", "]"})


def _blocks(context: _Context, start: int, kinds: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    for offset, kind in enumerate(kinds):
        index = start + offset
        if kind in {"Q", "A"}:
            if current is None:
                current = _Block(index, index + 1, kind == "A", False)
                blocks.append(current)
            else:
                current.end = index + 1
                current.has_attribution = current.has_attribution or kind == "A"
        elif kind == "T":
            current = None
    for block in blocks:
        block.is_forward = _quoted_forward(context, block)
    return blocks


def _quoted_forward(context: _Context, block: _Block) -> bool:
    for index in range(block.start, min(block.end, block.start + 3)):
        body = context.cleaned[index].lstrip("> ")
        if body:
            found = marker_kind(body)
            return found is not None and found[0] is Marker.FORWARD
    return False


def _label_region(context: _Context, start: int, end: int) -> tuple[str | None, bool]:
    """Label the region before the first hard boundary: (signal, whether it has new text)."""
    kinds = _line_kinds(context, start, end)
    texts = [start + i for i, kind in enumerate(kinds) if kind == "T"]
    blocks = _blocks(context, start, kinds)
    if not blocks:
        return None, bool(texts)
    if not texts:
        _set(context, start, end, _Label.QUOTED)
        for block in blocks:
            _set(context, block.start, block.end, _block_label(block))
        return _block_signal(context, blocks[0]), False
    first, last = texts[0], texts[-1]
    # A quote directly above the first new line, without an attribution, is one the person
    # chose as context for an answer below it (the client adds an attribution to whole
    # quoted mails): it stays, like the quotes between inline answers.
    span_start = first
    leading = [block for block in blocks if block.end <= first]
    if leading:
        above = leading[-1]
        blank_gap = all(kinds[i - start] == "E" for i in range(above.end, first))
        if blank_gap and not above.has_attribution and not above.is_forward:
            span_start = above.start
    inside = [block for block in blocks if block.end > span_start and block.start <= last]
    # The client's copy of the whole previous mail (it has an attribution) goes even when new
    # lines follow it (a greeting above, the answer below) - unless the person answered inside
    # it: then there are several quoted pieces, and they are the questions being answered.
    answered_inside = any(
        (found := bisect.bisect_left(texts, a.end)) < len(texts) and texts[found] < b.start
        for a, b in itertools.pairwise(blocks)
    )
    lone = inside[0] if len(inside) == 1 and not answered_inside else None
    if lone is not None and not (lone.has_attribution or lone.is_forward):
        lone = None
    kept, cut = False, None
    for block in blocks:
        if block not in inside or block is lone:
            _set(context, block.start, block.end, _block_label(block))
            cut = cut or block
            continue
        kept = True
        for index in range(block.start, block.end):
            if index in context.soft:
                context.labels[index] = _Label.QUOTED
                cut = cut or block
    if cut is None:
        return None, True
    return ("interleaved > quote" if kept else _block_signal(context, cut)), True


def _block_label(block: _Block) -> _Label:
    return _Label.FORWARDED if block.is_forward else _Label.QUOTED


def _block_signal(context: _Context, block: _Block) -> str:
    if block.is_forward:
        return "forwarded message"
    if block.has_attribution:
        for index in range(block.start, block.end):
            if index in context.soft:
                found = match_attribution(context.cleaned, index)
                if found is not None:
                    return f"quote header ({found.language})"
    return "> quote"


# --- signature --------------------------------------------------------------------------------


def _label_signature(
    context: _Context, sender_name: str | None, known_signatures: Sequence[str]
) -> str | None:
    """Find the signature at the end of the new lines and label it; its signal or None."""
    new_indices = [i for i, label in enumerate(context.labels) if label is _Label.NEW]
    beyond = context.scan_end < len(context.lines) and context.tail_label is _Label.NEW
    if not new_indices or beyond:
        return None
    lines = [context.lines[i] for i in new_indices]
    found = find_signature_start(lines, sender_name=sender_name, known_signatures=known_signatures)
    if found is None:
        return None
    for index in new_indices[found.index :]:
        context.labels[index] = _Label.SIGNATURE
    return str(found.kind)
