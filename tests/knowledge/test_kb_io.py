"""Tests for knowledge/kb_io.py: reading and writing knowledge-base files.

Round trips (examples and generated documents), the body-splitting rules, JSON lines, and hostile
input: huge files, YAML tags that would construct Python objects, alias bombs, control characters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.kb_io import (
    MAX_TAGS,
    ArticleDocument,
    ArticleStatus,
    Audience,
    KbLimits,
    KnowledgeFileError,
    check_categories,
    read_jsonl,
    read_markdown,
    read_markdown_dir,
    read_markdown_file,
    read_path,
    slug_from_title,
    write_jsonl,
    write_markdown,
)
from models.errors import DeskmailError

VPN = """---
slug: vpn-does-not-connect
title: VPN does not connect
category: network/vpn
tags: [vpn, Remote, home  office, vpn]
audience: public
---
## Problem

The VPN client says "Connection attempt timed out".

## Solution

1. Check the internet connection.
2. Restart the VPN client.
"""


def make_doc(**changes: object) -> ArticleDocument:
    fields: dict[str, object] = {
        "slug": "printer-offline",
        "title": "Printer shows as offline",
        "problem": "The printer says *offline*.",
        "solution": "1. Switch it on.\n2. Print again.",
        "category": "hardware/printer",
        "tags": ("printer", "offline"),
        "audience": Audience.PUBLIC,
        "status": ArticleStatus.PUBLISHED,
    }
    fields.update(changes)
    return ArticleDocument(**fields)  # type: ignore[arg-type]


def error_of(text: str, source: str = "bad.md") -> KnowledgeFileError:
    with pytest.raises(KnowledgeFileError) as caught:
        read_markdown(text, source=source)
    return caught.value


# --- Reading --------------------------------------------------------------------------------


def test_reads_front_matter_and_sections() -> None:
    doc = read_markdown(VPN, source="vpn.md")
    assert doc == ArticleDocument(
        slug="vpn-does-not-connect",
        title="VPN does not connect",
        problem='The VPN client says "Connection attempt timed out".',
        solution="1. Check the internet connection.\n2. Restart the VPN client.",
        category="network/vpn",
        tags=("vpn", "remote", "home office"),
        audience=Audience.PUBLIC,
        status=ArticleStatus.PUBLISHED,
    )


def test_defaults_for_optional_fields() -> None:
    doc = read_markdown("---\ntitle: Café opening hours\n---\nAsk reception.\n", source="x.md")
    assert doc.slug == "cafe-opening-hours"
    assert doc.category is None
    assert doc.tags == ()
    assert doc.audience is Audience.PUBLIC
    assert doc.status is ArticleStatus.PUBLISHED


def test_plain_scalars_stay_text() -> None:
    # YAML 1.1 would turn these into False, 2024, 1.0 and a date.
    text = "---\ntitle: no\nslug: on\ntags: [yes, 2024, 1.0, 2024-01-01]\n---\nBody.\n"
    doc = read_markdown(text, source="x.md")
    assert doc.title == "no"
    assert doc.slug == "on"
    assert doc.tags == ("yes", "2024", "1.0", "2024-01-01")


def test_null_category_and_status_case() -> None:
    text = "---\ntitle: T\ncategory: ~\nstatus: Draft\naudience: INTERNAL\n---\nBody.\n"
    doc = read_markdown(text, source="x.md")
    assert doc.category is None
    assert doc.status is ArticleStatus.DRAFT
    assert doc.audience is Audience.INTERNAL


def test_headings_are_recognised_loosely() -> None:
    text = "---\ntitle: T\n---\n\n# problem:\n\nP text\n\nSolution\n--------\n\nS text\n"
    doc = read_markdown(text, source="x.md")
    assert (doc.problem, doc.solution) == ("P text", "S text")


def test_solution_may_have_its_own_sub_headings() -> None:
    text = (
        "---\ntitle: T\n---\n## Problem\nP\n## Solution\n### Windows\n1. a\n"
        "## When to call us\nAlways.\n"
    )
    doc = read_markdown(text, source="x.md")
    assert doc.solution == "### Windows\n1. a\n## When to call us\nAlways."


def test_headings_in_code_or_quotes_do_not_count() -> None:
    text = (
        "---\ntitle: T\n---\n## Problem\n```\n## Solution\n```\n> ## Solution\n## Solution\nReal.\n"
    )
    doc = read_markdown(text, source="x.md")
    assert doc.problem == "```\n## Solution\n```\n> ## Solution"
    assert doc.solution == "Real."


def test_body_without_sections_derives_problem_from_first_paragraph() -> None:
    text = "---\ntitle: T\n---\n\n# Heading\n\nMy screen\nis black.\n\n1. Press a key.\n"
    doc = read_markdown(text, source="x.md")
    assert doc.problem == "My screen\nis black."
    assert doc.solution == "# Heading\n\nMy screen\nis black.\n\n1. Press a key."


def test_body_without_any_paragraph_has_empty_problem() -> None:
    doc = read_markdown("---\ntitle: T\n---\n- step one\n- step two\n", source="x.md")
    assert doc.problem == ""
    assert doc.solution == "- step one\n- step two"


def test_crlf_and_bom_are_accepted() -> None:
    text = "\ufeff" + VPN.replace("\n", "\r\n")
    assert read_markdown(text, source="x.md") == read_markdown(VPN, source="x.md")


# --- Round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        make_doc(),
        make_doc(problem="", category=None, tags=()),
        make_doc(audience=Audience.INTERNAL, status=ArticleStatus.ARCHIVED),
        make_doc(title="null"),
        make_doc(title="Agents: unlock # an account 'quoted' \"double\" - [x] {y}"),
        make_doc(tags=("yes", "2024", "home office", "ümlaut")),
        make_doc(problem="    indented code", solution="```\ncode\n```\n\n---\n\ntext  \nmore"),
        make_doc(solution="## Windows\n1. a\n\n## Mac\n2. b"),
    ],
)
def test_markdown_and_jsonl_round_trip(doc: ArticleDocument) -> None:
    assert read_markdown(write_markdown(doc), source="w.md") == doc
    assert read_jsonl(write_jsonl([doc]).splitlines()) == [doc]


def test_written_markdown_looks_like_the_documented_format() -> None:
    text = write_markdown(make_doc())
    assert text.startswith("---\nslug: printer-offline\ntitle: Printer shows as offline\n")
    assert "tags: [printer, offline]\n" in text
    assert "\n---\n\n## Problem\n\nThe printer says *offline*.\n\n## Solution\n\n1." in text
    assert text.endswith("Print again.\n")


def test_unrepresentable_documents_are_refused_not_written_lossily() -> None:
    for problem in ("```\nunclosed fence", "## Solution\nnested", "Problem\n======="):
        with pytest.raises(KnowledgeFileError, match="cannot be stored"):
            write_markdown(make_doc(problem=problem))


_SAFE_CHARS = st.characters(
    blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\ufeff"
)
_MARKDOWN_LINES = st.one_of(
    st.text(_SAFE_CHARS, max_size=30),
    st.sampled_from(
        ["", "```", "~~~", "---", "===", "## Problem", "# Solution", "> quote", "- item", "    x"]
    ),
    st.sampled_from(["1. step", "<div>", "<pre>", "Problem", "Solution:", "\tTab"]),
)


def _trim(text: str) -> str:
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines).rstrip()


@st.composite
def documents(draw: st.DrawFn) -> ArticleDocument:
    title = draw(st.text(_SAFE_CHARS, min_size=1, max_size=60).map(str.strip).filter(bool))
    problem = _trim("\n".join(draw(st.lists(_MARKDOWN_LINES, max_size=6))))
    solution = _trim("\n".join(draw(st.lists(_MARKDOWN_LINES, max_size=6)))) or "Restart."
    tags = draw(
        st.lists(
            st.from_regex(r"[a-z0-9äö]{1,8}( [a-z0-9]{1,5})?", fullmatch=True),
            max_size=5,
            unique=True,
        )
    )
    return ArticleDocument(
        slug=draw(st.from_regex(r"[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,3}", fullmatch=True)),
        title=title,
        problem=problem,
        solution=solution,
        category=draw(st.sampled_from([None, "network", "network/vpn", "files/restore"])),
        tags=tuple(tags),
        audience=draw(st.sampled_from(list(Audience))),
        status=draw(st.sampled_from(list(ArticleStatus))),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents_round_trip_or_are_refused(doc: ArticleDocument) -> None:
    try:
        text = write_markdown(doc)
    except KnowledgeFileError:
        # Only text that really changes the structure may be refused.
        structural = ("```", "~~~", "<", "Problem", "Solution", "===", "---")
        assert any(mark in doc.problem + doc.solution for mark in structural)
        return
    assert read_markdown(text, source="w.md") == doc
    assert read_jsonl(write_jsonl([doc]).splitlines()) == [doc]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(_SAFE_CHARS, min_size=1, max_size=40), min_size=1, max_size=4))
def test_plain_paragraphs_always_round_trip(paragraphs: list[str]) -> None:
    body = "\n\n".join(p.strip() or "x" for p in paragraphs)
    safe = "".join(c if c.isalnum() or c in " .,;!?'" else " " for c in body)
    text = _trim(safe) or "x"
    doc = make_doc(problem=text, solution=text)
    assert read_markdown(write_markdown(doc), source="w.md") == doc


# --- Errors ---------------------------------------------------------------------------------


def test_error_is_a_deskmail_error_naming_file_and_line() -> None:
    err = error_of("---\ntitle: T\naudience: secret\n---\nBody\n", source="kb/a.md")
    assert isinstance(err, DeskmailError)
    assert (err.source, err.line) == ("kb/a.md", 3)
    assert str(err) == "kb/a.md:3: unknown audience 'secret' (use one of: public, internal)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter\n", "must start with a '---' line"),
        ("---\ntitle: T\nBody\n", "not closed"),
        ("---\n- a\n- b\n---\nBody\n", "must be 'key: value' lines"),
        ("---\ntitle: [unclosed\n---\nBody\n", "bad front matter"),
        ("---\ntitle: T: U\n---\nBody\n", "bad front matter"),
        ("---\n---\nBody\n", "no title"),
        ("---\ntitle:\n---\nBody\n", "no title"),
        ("---\ntitle: '   '\n---\nBody\n", "no title"),
        ("---\ntitle: [a, b]\n---\nBody\n", "title must be text"),
        ("---\ntitle: !!int 5\n---\nBody\n", "title must be text"),
        ("---\ntitle: T\nstatus: live\n---\nBody\n", "unknown status 'live'"),
        ("---\ntitle: T\nauthor: me\n---\nBody\n", "unknown front matter key(s): author"),
        ("---\ntitle: T\nslug: Not_A_Slug\n---\nBody\n", "slug must be lower-case"),
        ("---\ntitle: ログイン\n---\nBody\n", "title gives no slug"),
        ("---\ntitle: T\ncategory: Network VPN\n---\nBody\n", "is not a category key"),
        ("---\ntitle: T\ncategory: a/b/c\n---\nBody\n", "is not a category key"),
        ("---\ntitle: T\ntags: vpn\n---\nBody\n", "tags must be a list"),
        ("---\ntitle: T\ntags: [[vpn]]\n---\nBody\n", "every tag must be text"),
        ("---\ntitle: T\ntags: ['a,b']\n---\nBody\n", "contains a comma"),
        ("---\ntitle: T\ntags: ['  ']\n---\nBody\n", "a tag is empty"),
        ("---\ntitle: T\ntitle: U\n---\nBody\n", "duplicate key 'title'"),
        ("---\ntitle: T\n---\n", "no solution text"),
        ("---\ntitle: T\n---\n## Problem\nP\n## Solution\n\n", "no solution text"),
        ("---\ntitle: T\n---\nIntro\n## Problem\nP\n## Solution\nS\n", "text before"),
        ("---\ntitle: T\n---\n## Solution\nS\n## Problem\nP\n", "found: solution, problem"),
        ("---\ntitle: T\n---\n## Solution\nS\n", "found: solution"),
        ("---\ntitle: T\n---\n## Problem\nP\n## Problem\nQ\n## Solution\nS\n", "found: problem"),
        ("---\ntitle: T\n---\nNUL \x00 here\n", "control character U+0000"),
        ("---\ntitle: T\n---\nescape \x1b[31m\n", "control character U+001B"),
    ],
)
def test_bad_files_are_rejected_with_a_clear_message(text: str, message: str) -> None:
    assert message in error_of(text).problem


def test_too_many_tags() -> None:
    tags = ", ".join(f"t{i}" for i in range(MAX_TAGS + 1))
    assert "more than" in error_of(f"---\ntitle: T\ntags: [{tags}]\n---\nBody\n").problem


def test_control_character_error_names_its_line() -> None:
    assert error_of("---\ntitle: T\n---\nok\nbad \x07\n").line == 5


@pytest.mark.parametrize(
    "front",
    [
        "title: !!python/object/apply:os.system ['echo pwned']",
        "title: !!python/object:collections.OrderedDict {}",
        "title: !!python/name:os.system",
        "title: !!python/object/new:tuple [[1]]",
        "title: !ruby/object {}",
    ],
)
def test_yaml_object_tags_are_refused(front: str) -> None:
    err = error_of(f"---\n{front}\n---\nBody\n")
    assert "bad front matter" in err.problem
    assert "constructor" in err.problem


def test_yaml_alias_bomb_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    assert "anchors and aliases" in error_of(f"---\ntitle: T\n{bomb}---\nBody\n").problem


@pytest.mark.parametrize(
    "value", ["[" * 7000 + "]" * 7000, "{a: " * 3000 + "b" + "}" * 3000, "[[[x]]]"]
)
def test_deeply_nested_yaml_is_refused_without_recursion_error(value: str) -> None:
    err = error_of(f"---\ntitle: T\ntags: {value}\n---\nBody\n")
    assert "nested too deeply" in err.problem
    assert err.line == 3


def test_yaml_merge_keys_are_not_special() -> None:
    err = error_of("---\ntitle: T\n<<: {slug: x}\n---\nBody\n")
    assert "unknown front matter key(s): <<" in err.problem


def test_huge_text_is_refused_before_parsing() -> None:
    huge = "---\ntitle: T\n---\n" + "word " * 100_000
    assert "larger than the limit" in error_of(huge).problem


def test_huge_front_matter_is_refused() -> None:
    front = "title: T\n" + "#" * 20_000 + "\n"
    assert "front matter is longer" in error_of(f"---\n{front}---\nBody\n").problem


def test_missing_closing_fence_in_huge_file_is_bounded() -> None:
    err = error_of("---\ntitle: T\n" + "x: y\n" * 10_000)
    assert "closing '---' line missing" in err.problem


def test_limits_are_configurable() -> None:
    with pytest.raises(KnowledgeFileError, match="larger than the limit of 50 bytes"):
        read_markdown(VPN, source="x.md", limits=KbLimits(max_article_bytes=50))


def test_document_construction_checks_every_field() -> None:
    bad_fields: list[dict[str, object]] = [
        {"slug": "Upper"},
        {"slug": "a--b"},
        {"slug": "x" * 101},
        {"title": " padded"},
        {"title": "two\nlines"},
        {"title": "x" * 201},
        {"solution": ""},
        {"problem": "\n\nleading blank line"},
        {"solution": "bell \x07"},
        {"solution": "lone \ud800 surrogate"},
        {"category": "Network"},
        {"tags": ["list"]},
        {"tags": ("Upper",)},
        {"tags": ("a", "a")},
        {"tags": ("two  spaces",)},
        {"audience": "public"},
        {"status": "published"},
    ]
    for fields in bad_fields:
        with pytest.raises(KnowledgeFileError, match="article"):
            make_doc(**fields)


# --- Categories -----------------------------------------------------------------------------


def test_categories_are_checked_against_the_given_keys() -> None:
    keys = {"network", "network/vpn"}
    assert read_markdown(VPN, source="x.md", categories=keys).category == "network/vpn"
    with pytest.raises(KnowledgeFileError, match="not in the category tree"):
        read_markdown(VPN, source="x.md", categories={"network"})


def test_check_categories_lists_every_offender() -> None:
    docs = [
        make_doc(slug="a", category="x/y"),
        make_doc(slug="b"),
        make_doc(slug="c", category="z"),
    ]
    with pytest.raises(KnowledgeFileError) as caught:
        check_categories(docs, {"hardware/printer"})
    assert "a (x/y)" in str(caught.value)
    assert "c (z)" in str(caught.value)
    check_categories([make_doc(category=None)], set())


# --- Folders and files ----------------------------------------------------------------------


def test_read_markdown_dir(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text(VPN, encoding="utf-8")
    (tmp_path / "a.md").write_text(write_markdown(make_doc()), encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("not an article", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not an article", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("not read", encoding="utf-8")
    docs = read_markdown_dir(tmp_path)
    assert [doc.slug for doc in docs] == ["printer-offline", "vpn-does-not-connect"]
    assert read_path(tmp_path) == docs
    assert read_path(tmp_path / "b.md") == docs[1:]


def test_duplicate_slugs_name_both_files(tmp_path: Path) -> None:
    (tmp_path / "one.md").write_text(VPN, encoding="utf-8")
    (tmp_path / "two.md").write_text(VPN, encoding="utf-8")
    with pytest.raises(KnowledgeFileError) as caught:
        read_markdown_dir(tmp_path)
    assert caught.value.source.endswith("two.md")
    assert "one.md" in caught.value.problem


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeFileError, match="not a folder"):
        read_markdown_dir(tmp_path / "missing")
    for index in range(3):
        (tmp_path / f"{index}.md").write_text(VPN, encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match="more than 2 article files"):
        read_markdown_dir(tmp_path, limits=KbLimits(max_documents=2))


def test_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    with big.open("wb") as handle:
        handle.truncate(1024 * 1024 * 1024)  # a sparse gigabyte: reading it all would hurt
    with pytest.raises(KnowledgeFileError, match="larger than the limit") as caught:
        read_markdown_file(big)
    assert caught.value.source == str(big)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes(b"---\ntitle: T\n---\ncaf\xe9\n")
    with pytest.raises(KnowledgeFileError, match="not valid UTF-8") as caught:
        read_markdown_file(path)
    assert caught.value.line == 4


def test_read_path_rejects_other_files(tmp_path: Path) -> None:
    other = tmp_path / "kb.csv"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match="expected a folder"):
        read_path(other)


# --- JSON lines -----------------------------------------------------------------------------


def test_jsonl_from_path_and_lines(tmp_path: Path) -> None:
    docs = [make_doc(), make_doc(slug="other", audience=Audience.INTERNAL, category=None)]
    path = tmp_path / "kb.jsonl"
    path.write_text("\n" + write_jsonl(docs) + "\n\n", encoding="utf-8")
    assert read_jsonl(path) == docs
    assert read_jsonl(str(path)) == docs
    assert read_path(path) == docs
    with path.open(encoding="utf-8") as handle:
        assert read_jsonl(handle) == docs


def test_jsonl_defaults_and_normalisation() -> None:
    line = json.dumps({"title": "Reset MFA", "solution": "\r\n\r\nStep\r\n", "tags": ["MFA "]})
    (doc,) = read_jsonl([line])
    assert (doc.slug, doc.problem, doc.solution, doc.tags) == ("reset-mfa", "", "Step", ("mfa",))


def test_write_jsonl_is_one_object_per_line() -> None:
    text = write_jsonl([make_doc(solution="a\nb"), make_doc(slug="x")])
    lines = text.splitlines()
    assert len(lines) == 2
    assert text.endswith("\n")
    assert json.loads(lines[0])["solution"] == "a\nb"
    assert set(json.loads(lines[1])) == {
        "slug",
        "title",
        "problem",
        "solution",
        "category",
        "tags",
        "audience",
        "status",
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "bad JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"title": "T", "solution": "S", "title": "U"}', "duplicate key 'title'"),
        ('{"title": "T", "solution": "S", "extra": 1}', "unknown field(s): extra"),
        ('{"title": "T"}', "no solution text"),
        ('{"title": "T", "solution": 5}', "solution must be text"),
        ('{"solution": "S"}', "no title"),
        ('{"title": "T", "solution": "S", "audience": "everyone"}', "unknown audience"),
        ('{"title": "T", "solution": "S\\u0000"}', "control character U+0000"),
        ('{"title": "T\\ud800", "solution": "S"}', "control or line-break character"),
        ('{"title": "T", "solution": "S", "problem": "```\\nopen"}', "cannot be stored"),
        ("[" * 30_000 + "]" * 30_000, "nested too deeply"),
    ],
)
def test_bad_jsonl_lines_name_the_line(line: str, message: str) -> None:
    good = json.dumps({"title": "Good", "solution": "Fine."})
    with pytest.raises(KnowledgeFileError) as caught:
        read_jsonl([good, "", line])
    assert caught.value.line == 3
    assert message in caught.value.problem


def test_jsonl_duplicate_slug_names_first_line() -> None:
    line = json.dumps({"title": "T", "solution": "S"})
    with pytest.raises(KnowledgeFileError, match="already used on line 1"):
        read_jsonl([line, line])


def test_jsonl_limits(tmp_path: Path) -> None:
    line = json.dumps({"title": "T", "solution": "S" * 200})
    with pytest.raises(KnowledgeFileError, match="line is larger than the limit"):
        read_jsonl([line], limits=KbLimits(max_article_bytes=100))
    path = tmp_path / "long.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match="line is larger than the limit"):
        read_jsonl(path, limits=KbLimits(max_article_bytes=100))
    with pytest.raises(KnowledgeFileError, match="more than 3 lines"):
        read_jsonl([""] * 10, limits=KbLimits(max_documents=3))


def test_jsonl_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"title": "T", "solution": "S"}\n{"title": "caf\xe9"}\n')
    with pytest.raises(KnowledgeFileError, match="not valid UTF-8") as caught:
        read_jsonl(path)
    assert caught.value.line == 2


# --- Small helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("VPN does not connect", "vpn-does-not-connect"),
        ("Café résumé — Outlook!", "cafe-resume-outlook"),
        ("  --Wi-Fi: 5 GHz--  ", "wi-fi-5-ghz"),
        ("ログイン", ""),
    ],
)
def test_slug_from_title(title: str, slug: str) -> None:
    assert slug_from_title(title) == slug


def test_long_titles_give_bounded_slugs() -> None:
    slug = slug_from_title("word " * 60)
    assert 0 < len(slug) <= 100
    assert not slug.endswith("-")
