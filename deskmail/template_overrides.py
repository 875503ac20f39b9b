"""Admins' use cases on the mail templates: which are overridden, the effective source, saving
an override into the data folder after checking it, and removing one.

The responder renders `<data_dir>/templates/<kind>/<file>` in preference to the packaged
template (`responder.rendering`). An override is saved only after it renders, in Jinja's
immutable sandbox with strict undefined variables, with the responder's sample mails of that
kind: a copy of the override folder with the new file is checked by a `Renderer` of its own, so
a broken template never reaches the folder the sender reads (docs/decisions/0146). The file is
written atomically (temporary file, then rename). Each change writes an audit `Event`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from deskmail.sender_service import TEMPLATES_NAME
from deskmail.settings import Settings
from models import Event
from models.errors import DeskmailError
from responder.mails import MAIL_KINDS
from responder.rendering import PACKAGED_TEMPLATES, TEMPLATE_FILES, RenderConfig, Renderer

MAX_TEMPLATE_CHARS = 100_000


class TemplateOverrideError(DeskmailError):
    """An override was refused; the message says why (safe to show)."""


@dataclass(frozen=True)
class TemplateFile:
    """One template file of one mail, and whether the help desk overrides it."""

    kind: str
    name: str
    overridden: bool

    @property
    def path(self) -> str:
        """`kind/name`, as the renderer names it."""
        return f"{self.kind}/{self.name}"


def override_dir(settings: Settings) -> Path:
    """Where the help desk's templates live."""
    return settings.data_dir / TEMPLATES_NAME


def _checked_name(kind: str, name: str) -> tuple[str, str]:
    # Only known kinds and file names: the path is built from them, never from free text.
    if kind not in MAIL_KINDS or name not in TEMPLATE_FILES:
        raise TemplateOverrideError(f"no template {kind[:40]}/{name[:40]}")
    return kind, name


def list_templates(settings: Settings) -> list[TemplateFile]:
    """Every template file of every mail, overridden or not."""
    folder = override_dir(settings)
    return [
        TemplateFile(kind, name, (folder / kind / name).is_file())
        for kind in MAIL_KINDS
        for name in TEMPLATE_FILES
    ]


def packaged_source(kind: str, name: str) -> str:
    """The template shipped with Deskmail."""
    kind, name = _checked_name(kind, name)
    return (PACKAGED_TEMPLATES / kind / name).read_text(encoding="utf-8")


def effective_source(settings: Settings, kind: str, name: str) -> tuple[str, bool]:
    """The template the responder uses, and whether it is the help desk's override."""
    kind, name = _checked_name(kind, name)
    path = override_dir(settings) / kind / name
    if path.is_file():
        return path.read_text(encoding="utf-8", errors="replace"), True
    return packaged_source(kind, name), False


def check_override(settings: Settings, kind: str, name: str, source: str) -> list[str]:
    """The problems `source` would have as the override of `kind/name` (empty: fine)."""
    kind, name = _checked_name(kind, name)
    if len(source) > MAX_TEMPLATE_CHARS:
        return [f"a template may have at most {MAX_TEMPLATE_CHARS} characters"]
    current = override_dir(settings)
    with tempfile.TemporaryDirectory(prefix="deskmail-templates-") as scratch:
        trial = Path(scratch) / TEMPLATES_NAME
        if current.is_dir():
            shutil.copytree(current, trial)
        (trial / kind).mkdir(parents=True, exist_ok=True)
        (trial / kind / name).write_text(source, encoding="utf-8")
        renderer = Renderer(RenderConfig(override_dir=trial, timezone=settings.timezone))
        return [
            f"{problem.template}: {problem.error}"
            for problem in renderer.check()
            if problem.template == f"{kind}/{name}"
        ]


def save_override(
    session: Session, settings: Settings, kind: str, name: str, source: str, *, actor: str
) -> None:
    """Check `source` and save it as the override of `kind/name` (TemplateOverrideError)."""
    kind, name = _checked_name(kind, name)
    cleaned = source.replace("\r\n", "\n").replace("\x00", "")
    problems = check_override(settings, kind, name, cleaned)
    if problems:
        raise TemplateOverrideError("; ".join(problems))
    folder = override_dir(settings) / kind
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(cleaned)
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    session.add(
        Event(
            ticket_id=None,
            kind="template_saved",
            actor=actor,
            data={"template": f"{kind}/{name}", "chars": len(cleaned)},
        )
    )


def remove_override(
    session: Session, settings: Settings, kind: str, name: str, *, actor: str
) -> bool:
    """Go back to the packaged template of `kind/name`; False when it was not overridden."""
    kind, name = _checked_name(kind, name)
    path = override_dir(settings) / kind / name
    if not path.is_file():
        return False
    path.unlink()
    session.add(
        Event(
            ticket_id=None, kind="template_reset", actor=actor, data={"template": f"{kind}/{name}"}
        )
    )
    return True
