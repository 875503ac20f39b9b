"""format=flowed text (RFC 3676) in the MIME parsing stage: soft line breaks undone.

Mail clients that send format=flowed wrap long paragraphs with a trailing space at each soft
break; readers are meant to rejoin them. Doing it here gives the trimming and classification
stages whole paragraphs instead of 72-column fragments. Quote depth is kept.
"""

SIGNATURE_SEPARATOR = "-- "


def _split_quote(line: str) -> tuple[int, str]:
    depth = len(line) - len(line.lstrip(">"))
    content = line[depth:]
    # RFC 3676 section 4.4: a leading space is "stuffing" and not part of the text.
    if content.startswith(" "):
        content = content[1:]
    return depth, content


def unflow(text: str, *, delsp: bool) -> str:
    """Join the soft-broken lines of format=flowed text (RFC 3676 sections 4.1-4.5)."""
    out: list[str] = []
    paragraph: list[str] = []
    paragraph_depth = 0

    def emit() -> None:
        prefix = ">" * paragraph_depth + (" " if paragraph_depth else "")
        out.append(prefix + "".join(paragraph))
        paragraph.clear()

    for line in text.split("\n"):
        depth, content = _split_quote(line)
        if paragraph and depth != paragraph_depth:
            # A change of quote depth ends a paragraph even after a soft break (4.5).
            emit()
        paragraph_depth = depth
        flowed = content.endswith(" ") and content != SIGNATURE_SEPARATOR
        if flowed and delsp:
            content = content[:-1]
        paragraph.append(content)
        if not flowed:
            emit()
    if paragraph:
        emit()
    return "\n".join(out)
