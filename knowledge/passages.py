"""Passage splitting: cuts an article into pieces that the embedding model can read whole.

Sits between the article (`knowledge.documents.Document`) and the indexes: every passage is
embedded (`knowledge.embeddings`) and indexed lexically (`knowledge.lexical`); the matcher
scores an article by its best passage and shows that passage as the explanation. The model
reads at most `max_tokens` word pieces, so a long article embedded whole would be judged by its
first screen only; split, each part gets a vector of its own.

Each passage's indexed text starts with the article title (and the section heading), so that a
passage deep in an article still says what it is about; consecutive passages overlap by a
little so that a sentence cut at a boundary is whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from knowledge.documents import Document

TokenCount = Callable[[str], int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
# A sentence ends at . ! ? (or a line break in lists and logs) followed by white space.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORDS = re.compile(r"\S+")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_ROUGH_PIECES = re.compile(r"\w+|[^\w\s]")


def rough_token_count(text: str) -> int:
    """A model-free estimate of word pieces: words and punctuation marks, long words counted
    as several pieces. Good enough for tests and for splitting when no tokenizer is at hand."""
    return sum(1 + len(piece) // 8 for piece in _ROUGH_PIECES.findall(text))


@dataclass(frozen=True)
class PassageConfig:
    """How articles are cut (defaults chosen by cross-validation, decision 0051)."""

    # The model's window less room for [CLS]/[SEP].
    max_tokens: int = 254
    # Tokens of the previous passage repeated at the start of the next one.
    overlap_tokens: int = 32
    # A heading-less tail shorter than this is merged into the previous passage instead.
    min_tokens: int = 24
    # Also index the title alone: short queries (a mail subject) match a title best.
    title_passage: bool = True
    # Hostile or runaway articles: at most this many passages and characters per article.
    max_passages: int = 200
    max_chars: int = 400_000
    # Titles and headings are repeated in every passage: keep them to a line.
    max_title_chars: int = 300


@dataclass(frozen=True)
class Passage:
    """One indexed piece of an article.

    `text` is what is embedded and indexed (title and heading included); `snippet` is the
    article's own words, shown to agents and requesters as the reason for a suggestion.
    """

    passage_id: str
    doc_id: str
    ordinal: int
    text: str
    snippet: str
    is_title: bool = False


def _clean(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(lines).strip()


def _units(text: str, max_tokens: int, count: TokenCount) -> Iterator[tuple[str, int]]:
    """Sentences (or, for run-on text such as logs, word runs) of at most `max_tokens`."""
    for raw_paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = raw_paragraph.strip()
        if not paragraph:
            continue
        size = count(paragraph)
        if size <= max_tokens:
            yield paragraph, size
            continue
        for raw_sentence in _SENTENCE_END.split(paragraph):
            sentence = raw_sentence.strip()
            if not sentence:
                continue
            size = count(sentence)
            if size <= max_tokens:
                yield sentence, size
                continue
            yield from _word_runs(sentence, max_tokens, count)


def _word_runs(text: str, max_tokens: int, count: TokenCount) -> Iterator[tuple[str, int]]:
    run: list[str] = []
    run_size = 0
    for found in _WORDS.findall(text):
        word = found
        size = count(word)
        if size > max_tokens:
            # One "word" longer than the window (a base64 blob, a minified line): cut it.
            word = word[: max_tokens * 2]
            size = min(count(word), max_tokens)
        if run and run_size + size > max_tokens:
            yield " ".join(run), run_size
            run, run_size = [], 0
        run.append(word)
        run_size += size
    if run:
        yield " ".join(run), run_size


def _pack(
    units: Sequence[tuple[str, int]], budget: int, config: PassageConfig
) -> list[list[tuple[str, int]]]:
    """Greedy packing of units into chunks of at most `budget`, with a small overlap."""
    chunks: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    size = 0
    fresh = 0  # units in `current` that are not overlap from the previous chunk
    for unit in units:
        if current and size + unit[1] > budget and fresh:
            chunks.append(current)
            overlap: list[tuple[str, int]] = []
            carried = 0
            for previous in reversed(current):
                if carried + previous[1] > config.overlap_tokens:
                    break
                overlap.insert(0, previous)
                carried += previous[1]
            # The overlap must leave room for the new unit.
            while overlap and carried + unit[1] > budget:
                carried -= overlap.pop(0)[1]
            current, size, fresh = overlap, carried, 0
        current.append(unit)
        size += unit[1]
        fresh += 1
    if current and fresh:
        new_units = current[len(current) - fresh :]
        tail_size = sum(part[1] for part in new_units)
        if chunks and tail_size < config.min_tokens:
            last = chunks[-1]
            if sum(part[1] for part in last) + tail_size <= budget:
                last.extend(new_units)
                return chunks
        chunks.append(current)
    return chunks


def _prefix(title: str, heading: str) -> str:
    parts = [part for part in (title, heading) if part]
    return " — ".join(parts)


def split_document(
    document: Document, config: PassageConfig, count: TokenCount = rough_token_count
) -> list[Passage]:
    """Cut `document` into passages; an article with no text still gets its title passage.

    Passage ids are ``<doc_id>#<ordinal>``; they are stable as long as the article's text is.
    """
    title = _clean(document.title[: config.max_title_chars * 4])[: config.max_title_chars]
    passages: list[Passage] = []

    def add(text: str, snippet: str, *, is_title: bool = False) -> None:
        ordinal = len(passages)
        passages.append(
            Passage(
                f"{document.doc_id}#{ordinal}", document.doc_id, ordinal, text, snippet, is_title
            )
        )

    if title and config.title_passage:
        add(title, title, is_title=True)
    remaining = config.max_chars
    for section in document.sections:
        if len(passages) >= config.max_passages or remaining <= 0:
            break
        body = _clean(section.text[:remaining])
        remaining -= len(body)
        heading = _clean(section.heading[: config.max_title_chars * 4])[: config.max_title_chars]
        prefix = _prefix(title, heading)
        budget = max(
            config.max_tokens - (count(prefix) + 1 if prefix else 0), config.max_tokens // 4
        )
        units = list(_units(body, budget, count)) if body else []
        if not units:
            if heading:
                add(prefix, heading)
            continue
        for chunk in _pack(units, budget, config):
            if len(passages) >= config.max_passages:
                break
            snippet = "\n".join(part[0] for part in chunk)
            add(f"{prefix}\n{snippet}" if prefix else snippet, snippet)
    if not passages and title:
        add(title, title, is_title=True)
    return passages


def split_documents(
    documents: Sequence[Document], config: PassageConfig, count: TokenCount = rough_token_count
) -> list[Passage]:
    passages: list[Passage] = []
    for document in documents:
        passages.extend(split_document(document, config, count))
    return passages
