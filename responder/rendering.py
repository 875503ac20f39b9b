"""Rendering: a mail's dataclass through its three Jinja2 templates into subject, text and HTML.

Templates live one folder per mail (`<kind>/subject.txt`, `body.txt`, `body.html`); the help
desk overrides any of them by putting a file of the same name under
`<data_dir>/templates/<kind>/`, which wins over the packaged one. Overrides are edited by
people who are not developers, so every template runs in Jinja2's immutable sandbox (no
attribute tricks, no mutation of the values), with `StrictUndefined` (a misspelt variable is an
error, not an empty string) and autoescape for `.html` only.

A broken override does not stop mail: the whole mail (all three parts, so they stay
consistent) falls back to the packaged templates, a warning is logged and the returned
`RenderedMail.fallback` says why, so the outbox records it on the ticket. `Renderer.check`
finds such problems before they matter (run it when an override is saved). A broken packaged
template is a bug and raises `TemplateRenderError`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from responder.errors import ResponderError, TemplateRenderError
from responder.headers import body_text, header_text, one_line, shorten
from responder.mails import MAIL_KINDS, Mail
from responder.samples import sample_mails

log = logging.getLogger(__name__)

PACKAGED_TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_FILES = ("subject.txt", "body.txt", "body.html")
MAX_SUBJECT_CHARS = 200  # RFC 5322 §2.1.1 asks for 78-character lines; folding handles more
MAX_BODY_CHARS = 512 * 1024  # a runaway loop in an edited template stops here


@dataclass(frozen=True)
class Helpdesk:
    """What the templates know about the help desk itself (`{{ helpdesk.name }}`)."""

    name: str
    address: str


@dataclass(frozen=True)
class RenderConfig:
    """Where the help desk's own templates are and how times are shown."""

    override_dir: Path | None = None  # `<data_dir>/templates`
    timezone: str = "UTC"
    max_subject_chars: int = MAX_SUBJECT_CHARS
    max_body_chars: int = MAX_BODY_CHARS


@dataclass(frozen=True)
class RenderedMail:
    """The three parts of one mail, ready to be put into MIME."""

    kind: str
    subject: str  # one line, capped, with the ticket tag
    text: str
    html: str
    overrides: tuple[str, ...] = ()  # the help desk's files that were used ("kind/body.txt")
    fallback: str = ""  # why the help desk's templates were not used; "" when they were


@dataclass(frozen=True)
class TemplateProblem:
    """A template that does not render, and why."""

    template: str
    error: str


def describe(exc: BaseException) -> str:
    """A one-line account of a template error, naming the file and line when Jinja knows them."""
    if isinstance(exc, TemplateSyntaxError):
        where = f"{exc.name or exc.filename or 'template'} line {exc.lineno}: "
        return one_line(f"{where}{exc.message}")[:500]
    return one_line(f"{type(exc).__name__}: {exc}")[:500]


def subject_with_tag(rendered: str, tag: str, max_chars: int) -> str:
    """The subject as one capped line that always carries the ticket tag.

    The tag is what leads a reply back to its ticket when every header is lost (DESIGN.md,
    Threading), so an edited template that drops it, or a long subject that would cut it off,
    gets it put in front.
    """
    subject = one_line(rendered)
    capped = shorten(subject, max_chars)
    if tag in capped:
        return capped
    rest = one_line(subject.replace(tag, " "))
    return f"{tag} {shorten(rest, max(max_chars - len(tag) - 1, 1))}".strip()


def _nl2br(value: object) -> Markup:
    """Text with its line breaks as `<br>`, escaped first (for HTML templates)."""
    return escape(str(value)).replace("\n", Markup("<br>\n"))


class Renderer:
    """Renders mails with the packaged templates and the help desk's overrides (thread-safe)."""

    def __init__(self, config: RenderConfig | None = None) -> None:
        self.config = config or RenderConfig()
        try:
            self._zone = ZoneInfo(self.config.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ResponderError(f"unknown time zone {self.config.timezone!r}") from exc
        packaged = FileSystemLoader(PACKAGED_TEMPLATES)
        self._packaged = self._environment(packaged)
        self._with_overrides = None
        if self.config.override_dir is not None:
            self._with_overrides = self._environment(
                ChoiceLoader([FileSystemLoader(self.config.override_dir), packaged])
            )
        self._seen: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def _environment(self, loader: BaseLoader) -> ImmutableSandboxedEnvironment:
        env = ImmutableSandboxedEnvironment(
            loader=loader,
            autoescape=select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=True,  # an edited override is picked up without a restart
        )
        filters: dict[str, Callable[..., Any]] = {"when": self.when, "nl2br": _nl2br}
        env.filters.update(filters)
        return env

    # Filters --------------------------------------------------------------------------

    def when(self, value: datetime | None) -> str:
        """A time as people read it, in the help desk's zone: "Tuesday 14 May 2024, 11:30 CEST"."""
        if value is None:
            return ""
        local = value.astimezone(self._zone)
        return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname() or ''}".strip()

    # Rendering ------------------------------------------------------------------------

    def overrides_for(self, kind: str) -> tuple[str, ...]:
        """The help desk's template files for mail `kind` ("kind/body.html", ...)."""
        folder = self.config.override_dir
        if folder is None:
            return ()
        return tuple(
            f"{kind}/{name}" for name in TEMPLATE_FILES if (folder / kind / name).is_file()
        )

    def render(self, mail: Mail, helpdesk: Helpdesk) -> RenderedMail:
        """Subject, text and HTML of `mail`; falls back to the packaged templates (see module)."""
        variables = {**mail.variables(), "helpdesk": helpdesk}
        overrides = self.overrides_for(mail.kind)
        if self._with_overrides is not None:
            self._forget_if_changed(mail.kind, overrides)
        if self._with_overrides is None or not overrides:
            parts = self._render_parts(self._packaged, mail.kind, variables)
            return self._finish(mail, parts, (), "")
        try:
            parts = self._render_parts(self._with_overrides, mail.kind, variables)
        except Exception as exc:  # any failure of an edited template falls back
            reason = describe(exc)
            log.warning(
                "template override for %s is broken, using the default: %s", mail.kind, reason
            )
            parts = self._render_parts(self._packaged, mail.kind, variables)
            return self._finish(mail, parts, (), reason)
        return self._finish(mail, parts, overrides, "")

    def _forget_if_changed(self, kind: str, overrides: tuple[str, ...]) -> None:
        # Jinja's cache checks a cached template's own file for changes, but not whether an
        # override appeared in front of (or vanished from before) a packaged one.
        with self._lock:
            if self._seen.get(kind, ()) != overrides:
                self._seen[kind] = overrides
                if self._with_overrides is not None and self._with_overrides.cache is not None:
                    self._with_overrides.cache.clear()

    def _render_parts(
        self, env: ImmutableSandboxedEnvironment, kind: str, variables: dict[str, Any]
    ) -> tuple[str, str, str]:
        parts: list[str] = []
        for name in TEMPLATE_FILES:
            try:
                template = env.get_template(f"{kind}/{name}")
                parts.append(self._capped(template.generate(variables), f"{kind}/{name}"))
            except TemplateError as exc:
                if env is self._packaged:
                    raise TemplateRenderError(f"packaged template {describe(exc)}") from exc
                raise
        return parts[0], parts[1], parts[2]

    def _capped(self, chunks: Iterator[str], name: str) -> str:
        # Streamed, so a runaway loop in an edited template stops at the limit instead of
        # filling memory first.
        pieces: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.config.max_body_chars:
                raise TemplateRenderError(
                    f"{name} renders more than {self.config.max_body_chars} characters"
                )
            pieces.append(chunk)
        return "".join(pieces)

    def _finish(
        self, mail: Mail, parts: tuple[str, str, str], overrides: tuple[str, ...], fallback: str
    ) -> RenderedMail:
        subject, text, html = parts
        return RenderedMail(
            kind=mail.kind,
            subject=subject_with_tag(
                header_text(subject, 10_000), mail.ticket.tag, self.config.max_subject_chars
            ),
            text=body_text(text),
            html=body_text(html),
            overrides=overrides,
            fallback=fallback,
        )

    # Checking -------------------------------------------------------------------------

    def check(self) -> list[TemplateProblem]:
        """Render every overridden template with sample values; the problems found."""
        problems: list[TemplateProblem] = []
        if self._with_overrides is None:
            return problems
        helpdesk = Helpdesk("IT Help Desk", "help@example.org")
        samples = [*sample_mails(full=True), *sample_mails(full=False)]
        for kind in MAIL_KINDS:
            for name in self.overrides_for(kind):
                failed = False
                for mail in (m for m in samples if m.kind == kind):
                    try:
                        template = self._with_overrides.get_template(name)
                        template.render({**mail.variables(), "helpdesk": helpdesk})
                    except Exception as exc:  # reported, never raised
                        problems.append(TemplateProblem(name, describe(exc)))
                        failed = True
                    if failed:
                        break
        problems.extend(self._stray_files())
        return problems

    def _stray_files(self) -> list[TemplateProblem]:
        folder = self.config.override_dir
        if folder is None or not folder.is_dir():
            return []
        stray: list[TemplateProblem] = []
        for path in sorted(folder.iterdir()):
            if path.is_dir() and path.name not in MAIL_KINDS:
                stray.append(TemplateProblem(path.name, "no mail of this name (a typo?)"))
            elif path.is_dir():
                for item in sorted(path.iterdir()):
                    if item.name not in TEMPLATE_FILES:
                        stray.append(
                            TemplateProblem(f"{path.name}/{item.name}", "not a template file name")
                        )
        return stray
