"""What the matcher is given about an article: plain values, no database rows.

The application (`deskmail`) turns a published article version into a `Document`; the passage
splitter (`knowledge.passages`) cuts it into passages; the matcher (`knowledge.matcher`) keeps
each article's category and audience to apply the predicted category as a prior and to filter
by audience.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """One part of an article: an optional heading and its text (paragraphs may be separated
    by blank lines)."""

    text: str
    heading: str = ""


@dataclass(frozen=True)
class Document:
    """An article (or any solution text) as the matcher sees it.

    `category` is a slash-separated key such as ``network/vpn``; `audience` says who may see
    the article (for example ``requester`` or ``agent``), as the application defines it.
    """

    doc_id: str
    title: str
    sections: tuple[Section, ...] = field(default=())
    category: str | None = None
    audience: str | None = None

    @classmethod
    def from_text(
        cls,
        doc_id: str,
        title: str,
        text: str,
        *,
        category: str | None = None,
        audience: str | None = None,
    ) -> Document:
        """A document with one untitled section."""
        return cls(doc_id, title, (Section(text),), category=category, audience=audience)
