"""Knowledge-base files: read and write solution articles as Markdown or JSON lines.

This module sits at the edge of the knowledge package. `deskmail kb import` and the first-start
loader of the starter knowledge base read files through it and hand the resulting
`ArticleDocument` values to the article store; `deskmail kb export` turns stored articles back
into files. It is pure: no database, no embeddings, only text in and values out.

File format (docs/decisions/0060-knowledge-file-format.md): a Markdown article starts with a YAML
front matter block between two `---` lines, followed by a body with a `## Problem` and a
`## Solution` section. The front matter is parsed with a SafeLoader subclass that is *stricter*
than `yaml.safe_load`: every plain scalar is text (YAML 1.1's `no`, `on` and `2024-01-01` stay
strings), explicit tags such as `!!python/object` are refused, and so are anchors, aliases and
duplicate keys. Every input is treated as hostile: sizes and counts are bounded by `KbLimits`,
and every error is a `KnowledgeFileError` that names the file (and line, where known).

Invariant: every `ArticleDocument` the readers return can be written by `write_markdown` and
`write_jsonl`, and reading the written text gives an equal document.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO, Any, TypeVar

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

# The vocabulary of audiences and statuses is the article model's, so an imported document
# maps onto a stored article without translation.
from models.article import ArticleStatus, Audience
from models.errors import DeskmailError

# Format limits: they belong to the format (a database column or a UI field is sized by them),
# so they are constants, not settings.
MAX_SLUG_CHARS = 100
MAX_TITLE_CHARS = 200
MAX_TAGS = 30
MAX_TAG_CHARS = 50
MAX_CATEGORY_CHARS = 100

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CATEGORY_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)?")
_SECTION_NAMES = frozenset({"problem", "solution"})
_FRONT_MATTER_FENCE = "---"
_FRONT_MATTER_KEYS = frozenset({"slug", "title", "category", "tags", "audience", "status"})
_JSONL_KEYS = _FRONT_MATTER_KEYS | {"problem", "solution"}

_E = TypeVar("_E", bound=StrEnum)

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_CATEGORY_CHARS",
    "MAX_SLUG_CHARS",
    "MAX_TAGS",
    "MAX_TAG_CHARS",
    "MAX_TITLE_CHARS",
    "ArticleDocument",
    "ArticleStatus",
    "Audience",
    "KbLimits",
    "KnowledgeFileError",
    "check_categories",
    "check_category",
    "read_jsonl",
    "read_markdown",
    "read_markdown_dir",
    "read_markdown_file",
    "read_path",
    "slug_from_title",
    "write_jsonl",
    "write_markdown",
]


class KnowledgeFileError(DeskmailError):
    """A knowledge-base file (or one document in it) cannot be read or written.

    `source` names the file (or the document), `line` is 1-based where known, `problem` says
    what is wrong in words an editor can act on.
    """

    def __init__(self, source: str, problem: str, *, line: int | None = None) -> None:
        self.source = source
        self.problem = problem
        self.line = line
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class KbLimits:
    """Resource limits for reading knowledge files (hostile input is bounded by these)."""

    # An article is a few kilobytes; 64 KiB leaves room for long procedures while keeping the
    # pure-Python Markdown parse of a hostile file well under a second.
    max_article_bytes: int = 64 * 1024
    max_front_matter_bytes: int = 16 * 1024
    max_documents: int = 20_000


DEFAULT_LIMITS = KbLimits()
# Only for reading back our own output, whose size the document already bounds.
_NO_LIMITS = KbLimits(
    max_article_bytes=sys.maxsize, max_front_matter_bytes=sys.maxsize, max_documents=sys.maxsize
)


@dataclass(frozen=True, slots=True)
class ArticleDocument:
    """One solution article as it is exchanged in files.

    `problem` and `solution` hold the Markdown of the two sections, without their headings and
    without leading or trailing blank lines. Construction checks every field and raises
    `KnowledgeFileError` naming the article; the readers normalise input (trim, lower-case tags)
    before they construct, so a document built here is already in its canonical form.
    """

    slug: str
    title: str
    problem: str
    solution: str
    category: str | None = None
    tags: tuple[str, ...] = ()
    audience: Audience = Audience.PUBLIC
    status: ArticleStatus = ArticleStatus.PUBLISHED

    def __post_init__(self) -> None:
        problem = _document_problem(self)
        if problem is not None:
            raise KnowledgeFileError(f"article {self.slug!r}", problem)


def _document_problem(doc: ArticleDocument) -> str | None:
    """Say what is wrong with a document's fields, or None if it is well formed."""
    for check in (_identity_problem, _text_problem, _label_problem, _tags_problem):
        found = check(doc)
        if found is not None:
            return found
    return None


def _identity_problem(doc: ArticleDocument) -> str | None:
    if not isinstance(doc.slug, str) or not _SLUG_RE.fullmatch(doc.slug):
        return "slug must be lower-case letters, digits and single hyphens (like 'vpn-error')"
    if len(doc.slug) > MAX_SLUG_CHARS:
        return f"slug is longer than {MAX_SLUG_CHARS} characters"
    return _line_problem("title", doc.title, MAX_TITLE_CHARS)


def _text_problem(doc: ArticleDocument) -> str | None:
    found = _body_problem("problem", doc.problem) or _body_problem("solution", doc.solution)
    if found is None and not doc.solution:
        return "solution is empty"
    return found


def _label_problem(doc: ArticleDocument) -> str | None:
    if doc.category is not None and not _category_ok(doc.category):
        return f"category {doc.category!r} is not a category key (like 'network/vpn')"
    if not isinstance(doc.audience, Audience):
        return "audience must be an Audience"
    if not isinstance(doc.status, ArticleStatus):
        return "status must be an ArticleStatus"
    return None


def _tags_problem(doc: ArticleDocument) -> str | None:
    if not isinstance(doc.tags, tuple):
        return "tags must be a tuple of strings"
    if len(doc.tags) > MAX_TAGS:
        return f"more than {MAX_TAGS} tags"
    for tag in doc.tags:
        found = _line_problem("tag", tag, MAX_TAG_CHARS)
        if found is not None:
            return found
        if tag != _normal_tag(tag) or "," in tag:
            return f"tag {tag!r} must be lower-case, single-spaced and without commas"
    if len(set(doc.tags)) != len(doc.tags):
        return "tags repeat"
    return None


def _category_ok(category: object) -> bool:
    return (
        isinstance(category, str)
        and len(category) <= MAX_CATEGORY_CHARS
        and _CATEGORY_RE.fullmatch(category) is not None
    )


def _bad_char(text: str, *, allow_newlines: bool) -> str | None:
    """The first character that has no place in article text, if any."""
    for char in text:
        if allow_newlines and char in "\n\t":
            continue
        # Cc: control characters (NUL, CR, ESC ...); Cs: lone surrogates, which UTF-8 cannot
        # encode; Zl/Zp: line and paragraph separators, which split lines in some readers.
        if unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}:
            return char
    return None


def _line_problem(name: str, value: object, max_chars: int) -> str | None:
    if not isinstance(value, str):
        return f"{name} must be text"
    if not value.strip():
        return f"{name} is empty"
    if value != value.strip():
        return f"{name} has leading or trailing spaces"
    if len(value) > max_chars:
        return f"{name} is longer than {max_chars} characters"
    bad = _bad_char(value, allow_newlines=False)
    if bad is not None:
        return f"{name} contains the control or line-break character U+{ord(bad):04X}"
    return None


def _body_problem(name: str, value: object) -> str | None:
    if not isinstance(value, str):
        return f"{name} must be text"
    bad = _bad_char(value, allow_newlines=True)
    if bad is not None:
        return f"{name} contains the control character U+{ord(bad):04X}"
    if value != _trim_block(value):
        return f"{name} has leading or trailing blank lines"
    return None


def _normal_tag(tag: str) -> str:
    return " ".join(tag.split()).lower()


def _trim_block(text: str) -> str:
    """Drop blank lines at both ends and trailing whitespace at the very end.

    Leading spaces of the first line are kept: in Markdown they can make an indented code block.
    """
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines).rstrip()


def _normal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def slug_from_title(title: str) -> str:
    """A slug derived from a title: ASCII letters and digits joined by single hyphens.

    Returns "" when the title has no ASCII letters or digits (then the file must give a slug).
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > MAX_SLUG_CHARS:
        slug = slug[:MAX_SLUG_CHARS].rsplit("-", 1)[0] if "-" in slug[:MAX_SLUG_CHARS] else ""
    return slug


# --- YAML front matter --------------------------------------------------------------------


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 implicit typing, aliases or duplicate keys.

    Plain scalars are all strings except the empty value and `null`/`~` (so `title: no` is the
    title "no", and `tags: [2024]` is the tag "2024"). Anchors/aliases would let a small file
    expand into a large structure and have no use in front matter; duplicate keys are almost
    always a copy-paste mistake that PyYAML would silently resolve to the last value.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level registry

    # Front matter is a mapping of scalars and lists of scalars; one level more is allowed so a
    # nested list gets a precise error later. PyYAML composes recursively, so deeper input would
    # otherwise end in RecursionError.
    _MAX_DEPTH = 4

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            return self._compose_checked(parent, index)
        finally:
            self._depth -= 1

    def _compose_checked(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self._depth > self._MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "values are nested too deeply", event.start_mark
            )
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "keys must be plain names", key_node.start_mark
                )
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def _load_front_matter(text: str, *, source: str, first_line: int) -> _RawFields:
    """Parse the front matter into raw fields, remembering the line of each key."""
    loader = _FrontMatterLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _RawFields({}, source=source, default_line=first_line)
        if not isinstance(node, yaml.MappingNode):
            raise KnowledgeFileError(
                source, "front matter must be 'key: value' lines", line=first_line
            )
        key_lines = {
            str(key.value): first_line + key.start_mark.line
            for key, _value in node.value
            if isinstance(key, yaml.ScalarNode)
        }
        values = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else first_line + mark.line
        reason = exc.problem or exc.context or "unreadable"
        raise KnowledgeFileError(source, f"bad front matter: {reason}", line=line) from None
    except yaml.YAMLError as exc:
        raise KnowledgeFileError(source, f"bad front matter: {exc}", line=first_line) from None
    finally:
        loader.dispose()
    return _RawFields(values, source=source, default_line=first_line, key_lines=key_lines)


def _split_front_matter(text: str, *, source: str, limits: KbLimits) -> tuple[str, str, int]:
    """Split `---` front matter from the body: (front matter, body, first body line number)."""
    lines = text.split("\n")
    if lines[0].rstrip() != _FRONT_MATTER_FENCE:
        raise KnowledgeFileError(
            source, "the file must start with a '---' line that opens the front matter", line=1
        )
    size = 0
    for index in range(1, len(lines)):
        if lines[index].rstrip() == _FRONT_MATTER_FENCE:
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
        size += len(lines[index].encode("utf-8", "surrogatepass")) + 1
        if size > limits.max_front_matter_bytes:
            raise KnowledgeFileError(
                source,
                f"front matter is longer than {limits.max_front_matter_bytes} bytes "
                "(is the closing '---' line missing?)",
            )
    raise KnowledgeFileError(source, "the front matter is not closed by a '---' line")


# --- Markdown body ------------------------------------------------------------------------


def _markdown_parser() -> MarkdownIt:
    # Only block structure matters here; skipping inline parsing keeps hostile emphasis or link
    # soup from costing time.
    return MarkdownIt("commonmark").disable("inline")


def _section_name(tokens: list[Token], index: int) -> str | None:
    """The section a top-level h1/h2 heading opens ("problem"/"solution"), if any."""
    token = tokens[index]
    if token.type != "heading_open" or token.level != 0 or token.tag not in {"h1", "h2"}:
        return None
    name = tokens[index + 1].content.strip().rstrip(":").strip().casefold()
    return name if name in _SECTION_NAMES else None


def _split_body(body: str, *, source: str, first_line: int) -> tuple[str, str]:
    """Split an article body into (problem, solution) Markdown.

    With `## Problem` and `## Solution` headings (h1 or h2, top level, in that order, once each)
    the sections are the text under them. With neither, the whole body is the solution and the
    problem is the first top-level paragraph. Anything in between is an error.
    """
    lines = body.split("\n")
    tokens = _markdown_parser().parse(body)
    headings: list[tuple[str, int, int]] = []
    for index, token in enumerate(tokens):
        name = _section_name(tokens, index)
        if name is not None and token.map is not None:
            headings.append((name, token.map[0], token.map[1]))
    if not headings:
        problem = ""
        for token in tokens:
            if token.type == "paragraph_open" and token.level == 0 and token.map is not None:
                problem = "\n".join(lines[token.map[0] : token.map[1]])
                break
        return _trim_block(problem), _trim_block(body)
    names = [name for name, _start, _end in headings]
    if names != ["problem", "solution"]:
        where = first_line + headings[0][1]
        raise KnowledgeFileError(
            source,
            "the body needs one '## Problem' heading followed by one '## Solution' heading "
            f"(found: {', '.join(names)})",
            line=where,
        )
    (_, p_start, p_end), (_, s_start, s_end) = headings
    before = _trim_block("\n".join(lines[:p_start]))
    if before:
        raise KnowledgeFileError(
            source,
            "text before the '## Problem' heading (put the title in the front matter)",
            line=first_line,
        )
    problem = "\n".join(lines[p_end:s_start])
    solution = "\n".join(lines[s_end:])
    return _trim_block(problem), _trim_block(solution)


# --- From raw fields to a document ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RawFields:
    """Fields as a reader found them, with what it takes to name the line of a bad one."""

    values: Mapping[Any, Any]
    source: str
    default_line: int | None
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def error(self, key: str, problem: str) -> KnowledgeFileError:
        return KnowledgeFileError(
            self.source, problem, line=self.key_lines.get(key, self.default_line)
        )

    def optional_text(self, key: str) -> str:
        value = self.values.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(key, f"{key} must be text")
        return value.strip()

    def check_keys(self, allowed: frozenset[str], what: str) -> None:
        unknown = sorted(str(key) for key in self.values if key not in allowed)
        if unknown:
            raise self.error(
                unknown[0],
                f"unknown {what}: {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
            )


def _build_document(fields: _RawFields, *, problem: str, solution: str) -> ArticleDocument:
    title = fields.values.get("title")
    if title is not None and not isinstance(title, str):
        raise fields.error("title", "title must be text")
    title = (title or "").strip()
    if not title:
        raise fields.error("title", "the article has no title")
    slug = fields.optional_text("slug") or slug_from_title(title)
    if not slug:
        raise fields.error("slug", "the title gives no slug (no ASCII letters); add a slug")
    category = fields.optional_text("category") or None
    if category is not None and not _category_ok(category):
        raise fields.error(
            "category",
            f"category {category!r} is not a category key (like 'network' or 'network/vpn')",
        )
    tags = _read_tags(fields)
    audience = _read_enum(fields, "audience", Audience, Audience.PUBLIC)
    status = _read_enum(fields, "status", ArticleStatus, ArticleStatus.PUBLISHED)
    try:
        return ArticleDocument(
            slug=slug,
            title=title,
            problem=problem,
            solution=solution,
            category=category,
            tags=tags,
            audience=audience,
            status=status,
        )
    except KnowledgeFileError as exc:
        raise KnowledgeFileError(fields.source, exc.problem, line=fields.default_line) from None


def _read_enum(fields: _RawFields, key: str, kind: type[_E], default: _E) -> _E:
    text = fields.optional_text(key)
    if not text:
        return default
    try:
        return kind(text.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise fields.error(key, f"unknown {key} {text!r} (use one of: {allowed})") from None


def _read_tags(fields: _RawFields) -> tuple[str, ...]:
    value = fields.values.get("tags")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fields.error("tags", "tags must be a list, like [vpn, home office]")
    if len(value) > MAX_TAGS:
        raise fields.error("tags", f"more than {MAX_TAGS} tags")
    tags: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise fields.error("tags", "every tag must be text")
        tag = _normal_tag(item)
        if not tag:
            raise fields.error("tags", "a tag is empty")
        if "," in tag:
            raise fields.error("tags", f"tag {tag!r} contains a comma")
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)


def _check_size(text: str, *, source: str, limits: KbLimits) -> None:
    # Characters never outnumber UTF-8 bytes, so the cheap length test rejects huge input first.
    too_big = len(text) > limits.max_article_bytes or (
        len(text.encode("utf-8", "surrogatepass")) > limits.max_article_bytes
    )
    if too_big:
        raise KnowledgeFileError(
            source, f"the article is larger than the limit of {limits.max_article_bytes} bytes"
        )


def _check_text(text: str, *, source: str) -> None:
    """Reject characters that have no place in a text file, naming the line."""
    bad = _bad_char(text, allow_newlines=True)
    if bad is not None:
        line = text[: text.index(bad)].count("\n") + 1
        raise KnowledgeFileError(
            source, f"the file contains the control character U+{ord(bad):04X}", line=line
        )


# --- Public readers -------------------------------------------------------------------------


def read_markdown(
    text: str,
    *,
    source: str,
    limits: KbLimits = DEFAULT_LIMITS,
    categories: Set[str] | None = None,
) -> ArticleDocument:
    """Read one Markdown article with YAML front matter.

    `source` names the text in error messages (a file name). When `categories` is given, the
    article's category must be one of those keys.
    """
    doc = _parse_markdown(text, source=source, limits=limits)
    # Keep the module's invariant: whatever we accept can be written again unchanged.
    _markdown_text(doc, source=source)
    if categories is not None:
        check_category(doc, categories, source=source)
    return doc


def _parse_markdown(text: str, *, source: str, limits: KbLimits) -> ArticleDocument:
    _check_size(text, source=source, limits=limits)
    text = _normal_newlines(text.removeprefix("\ufeff"))
    _check_text(text, source=source)
    front, body, body_line = _split_front_matter(text, source=source, limits=limits)
    fields = _load_front_matter(front, source=source, first_line=2)
    fields.check_keys(_FRONT_MATTER_KEYS, "front matter key(s)")
    problem, solution = _split_body(body, source=source, first_line=body_line)
    if not solution:
        raise KnowledgeFileError(source, "the article has no solution text", line=body_line)
    return _build_document(fields, problem=problem, solution=solution)


def _read_limited(handle: IO[bytes], limit: int, *, source: str) -> bytes:
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise KnowledgeFileError(source, f"the file is larger than the limit of {limit} bytes")
    return data


def _decode(data: bytes, *, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise KnowledgeFileError(source, "the file is not valid UTF-8", line=line) from None


def _as_traversable(path: Traversable | os.PathLike[str] | str) -> Traversable:
    if isinstance(path, str | os.PathLike):
        return Path(path)
    return path


def read_markdown_file(
    path: Traversable | os.PathLike[str] | str,
    *,
    limits: KbLimits = DEFAULT_LIMITS,
    categories: Set[str] | None = None,
) -> ArticleDocument:
    """Read one `.md` file; reads at most the size limit, so a huge file costs nothing."""
    file = _as_traversable(path)
    source = str(file)
    try:
        with file.open("rb") as handle:
            data = _read_limited(handle, limits.max_article_bytes, source=source)
    except OSError as exc:
        raise KnowledgeFileError(source, f"cannot read the file: {exc.strerror}") from None
    return read_markdown(
        _decode(data, source=source), source=source, limits=limits, categories=categories
    )


def read_markdown_dir(
    path: Traversable | os.PathLike[str] | str,
    *,
    limits: KbLimits = DEFAULT_LIMITS,
    categories: Set[str] | None = None,
) -> list[ArticleDocument]:
    """Read every `*.md` file directly in a folder (not in sub-folders), sorted by file name.

    Hidden files (starting with a dot) are skipped. Two files with the same slug are an error
    naming both. Accepts a plain path or an `importlib.resources` traversable, so the starter
    knowledge base can be read from the installed package.
    """
    folder = _as_traversable(path)
    source = str(folder)
    try:
        if not folder.is_dir():
            raise KnowledgeFileError(source, "not a folder")
        entries = sorted(
            (entry for entry in folder.iterdir() if _is_article_file(entry)),
            key=lambda entry: entry.name,
        )
    except OSError as exc:
        raise KnowledgeFileError(source, f"cannot list the folder: {exc.strerror}") from None
    if len(entries) > limits.max_documents:
        raise KnowledgeFileError(
            source, f"more than {limits.max_documents} article files in the folder"
        )
    docs: list[ArticleDocument] = []
    first_seen: dict[str, str] = {}
    for entry in entries:
        doc = read_markdown_file(entry, limits=limits, categories=categories)
        if doc.slug in first_seen:
            raise KnowledgeFileError(
                str(entry), f"slug {doc.slug!r} is already used by {first_seen[doc.slug]}"
            )
        first_seen[doc.slug] = str(entry)
        docs.append(doc)
    return docs


def _is_article_file(entry: Traversable) -> bool:
    return entry.name.endswith(".md") and not entry.name.startswith(".") and entry.is_file()


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _jsonl_lines(
    source: Traversable | os.PathLike[str] | str | Iterable[str],
    *,
    limits: KbLimits,
) -> tuple[str, Iterator[str]]:
    if isinstance(source, str | os.PathLike | Traversable):
        file = _as_traversable(source)
        return str(file), _file_lines(file, limits=limits)
    return "<jsonl>", iter(source)


def _file_lines(file: Traversable, *, limits: KbLimits) -> Iterator[str]:
    name = str(file)
    try:
        with file.open("rb") as handle:
            number = 0
            while True:
                number += 1
                raw = handle.readline(limits.max_article_bytes + 1)
                if not raw:
                    return
                if len(raw) > limits.max_article_bytes:
                    raise KnowledgeFileError(
                        name,
                        f"the line is larger than the limit of {limits.max_article_bytes} bytes",
                        line=number,
                    )
                try:
                    yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    raise KnowledgeFileError(name, "not valid UTF-8", line=number) from None
    except OSError as exc:
        raise KnowledgeFileError(name, f"cannot read the file: {exc.strerror}") from None


def read_jsonl(
    source: Traversable | os.PathLike[str] | str | Iterable[str],
    *,
    limits: KbLimits = DEFAULT_LIMITS,
    categories: Set[str] | None = None,
) -> list[ArticleDocument]:
    """Read articles from JSON lines: one object per line with the `ArticleDocument` fields.

    `source` is a path (`str`, `os.PathLike` or traversable) or an iterable of lines (a list of
    strings, an open text file). Required per object: `title` and `solution`; `slug` defaults to
    one derived from the title, `problem` to "", the rest as in Markdown front matter. Blank lines
    are skipped; a slug used twice is an error.
    """
    name, lines = _jsonl_lines(source, limits=limits)
    docs: list[ArticleDocument] = []
    first_line_of: dict[str, int] = {}
    for number, raw_line in enumerate(lines, start=1):
        if not isinstance(raw_line, str):
            raise KnowledgeFileError(name, "lines must be text", line=number)
        if number > limits.max_documents:
            raise KnowledgeFileError(name, f"more than {limits.max_documents} lines", line=number)
        if len(raw_line) > limits.max_article_bytes:
            raise KnowledgeFileError(
                name,
                f"the line is larger than the limit of {limits.max_article_bytes} bytes",
                line=number,
            )
        line = raw_line.removeprefix("\ufeff") if number == 1 else raw_line
        if not line.strip():
            continue
        doc = _jsonl_document(line, source=name, number=number, limits=limits)
        if doc.slug in first_line_of:
            raise KnowledgeFileError(
                name,
                f"slug {doc.slug!r} is already used on line {first_line_of[doc.slug]}",
                line=number,
            )
        if categories is not None:
            check_category(doc, categories, source=f"{name}:{number}")
        first_line_of[doc.slug] = number
        docs.append(doc)
    return docs


def _jsonl_document(line: str, *, source: str, number: int, limits: KbLimits) -> ArticleDocument:
    try:
        values = json.loads(line, object_pairs_hook=_reject_duplicate_keys)
    except RecursionError:
        raise KnowledgeFileError(source, "JSON nested too deeply", line=number) from None
    except ValueError as exc:  # json.JSONDecodeError and duplicate keys
        raise KnowledgeFileError(source, f"bad JSON: {exc}", line=number) from None
    if not isinstance(values, dict):
        raise KnowledgeFileError(source, "each line must be a JSON object", line=number)
    fields = _RawFields(values, source=source, default_line=number)
    fields.check_keys(_JSONL_KEYS, "field(s)")
    texts: dict[str, str] = {}
    for key in ("problem", "solution"):
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            raise KnowledgeFileError(source, f"{key} must be text", line=number)
        text = _normal_newlines(value or "")
        bad = _bad_char(text, allow_newlines=True)
        if bad is not None:
            raise KnowledgeFileError(
                source, f"{key} contains the control character U+{ord(bad):04X}", line=number
            )
        texts[key] = _trim_block(text)
    if not texts["solution"]:
        raise KnowledgeFileError(source, "the article has no solution text", line=number)
    doc = _build_document(fields, problem=texts["problem"], solution=texts["solution"])
    # Keep the module's invariant: whatever we accept can be exported as Markdown again.
    _markdown_text(doc, source=source, line=number)
    return doc


def read_path(
    path: os.PathLike[str] | str,
    *,
    limits: KbLimits = DEFAULT_LIMITS,
    categories: Set[str] | None = None,
) -> list[ArticleDocument]:
    """Read a folder of `.md` files, one `.md` file, or one `.jsonl` file (for `kb import`)."""
    target = Path(path)
    if target.is_dir():
        return read_markdown_dir(target, limits=limits, categories=categories)
    suffix = target.suffix.lower()
    if suffix == ".md":
        return [read_markdown_file(target, limits=limits, categories=categories)]
    if suffix == ".jsonl":
        return read_jsonl(target, limits=limits, categories=categories)
    raise KnowledgeFileError(
        str(target), "expected a folder of .md files, a .md file or a .jsonl file"
    )


# --- Categories -----------------------------------------------------------------------------


def check_category(doc: ArticleDocument, categories: Set[str], *, source: str) -> None:
    """Raise if the document's category is not one of the given keys (None is allowed)."""
    if doc.category is not None and doc.category not in categories:
        raise KnowledgeFileError(source, f"category {doc.category!r} is not in the category tree")


def check_categories(docs: Iterable[ArticleDocument], categories: Set[str]) -> None:
    """Raise one error listing every document whose category is not one of the given keys."""
    bad = [
        f"{doc.slug} ({doc.category})"
        for doc in docs
        if doc.category is not None and doc.category not in categories
    ]
    if bad:
        raise KnowledgeFileError(
            "knowledge base", f"categories not in the category tree: {', '.join(bad)}"
        )


# --- Writers --------------------------------------------------------------------------------


_UNREPRESENTABLE = (
    "the problem or solution text cannot be stored as Markdown unchanged: it contains a "
    "Problem/Solution heading of its own or ends inside an open block (such as an unclosed "
    "``` code fence)"
)


def _markdown_text(doc: ArticleDocument, *, source: str, line: int | None = None) -> str:
    fields: dict[str, Any] = {"slug": doc.slug, "title": doc.title}
    if doc.category is not None:
        fields["category"] = doc.category
    fields["tags"] = list(doc.tags)
    fields["audience"] = doc.audience.value
    fields["status"] = doc.status.value
    front = yaml.safe_dump(
        fields, sort_keys=False, allow_unicode=True, default_flow_style=None, width=4096
    )
    parts = [_FRONT_MATTER_FENCE, "\n", front, _FRONT_MATTER_FENCE, "\n\n## Problem\n\n"]
    if doc.problem:
        parts += [doc.problem, "\n\n"]
    parts += ["## Solution\n\n", doc.solution, "\n"]
    text = "".join(parts)
    # Markdown is context-sensitive: an unclosed code fence or a "## Solution" heading inside the
    # problem text would change how the file reads. Reading our own output back is the one
    # check that covers every such case.
    try:
        same = _parse_markdown(text, source=source, limits=_NO_LIMITS) == doc
    except KnowledgeFileError:
        same = False
    if not same:
        raise KnowledgeFileError(source, _UNREPRESENTABLE, line=line)
    return text


def write_markdown(doc: ArticleDocument) -> str:
    """The Markdown file for one document (front matter, `## Problem`, `## Solution`).

    `read_markdown` of the result gives an equal document; if the texts would not survive
    (see `_markdown_text`), this raises `KnowledgeFileError` instead of writing a lossy file.
    """
    return _markdown_text(doc, source=f"article {doc.slug!r}")


def _jsonl_line(doc: ArticleDocument) -> str:
    # Raw U+2028/U+2029 would survive ensure_ascii=False and break readers that split on
    # Unicode line breaks (str.splitlines); documents cannot hold them (see `_bad_char`).
    return json.dumps(
        {
            "slug": doc.slug,
            "title": doc.title,
            "problem": doc.problem,
            "solution": doc.solution,
            "category": doc.category,
            "tags": list(doc.tags),
            "audience": doc.audience.value,
            "status": doc.status.value,
        },
        ensure_ascii=False,
    )


def write_jsonl(docs: Iterable[ArticleDocument]) -> str:
    """JSON lines for the documents, one object per line, each line ending in a newline."""
    return "".join(_jsonl_line(doc) + "\n" for doc in docs)
