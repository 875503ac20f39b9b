"""The project's shape: our top-level names are ours, the package list is complete, and the
four domain packages import only `models` (DESIGN.md, Layout)."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP_LEVEL = ["intake", "classifier", "knowledge", "responder", "models", "deskmail"]
DOMAIN = ["intake", "classifier", "knowledge", "responder"]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name_resolves_to_our_tree(name: str) -> None:
    # Five of these names are also unrelated PyPI projects; ours must win.
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPO / name


def test_package_list_names_every_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in TOP_LEVEL
        for init in (REPO / top).rglob("__init__.py")
    }
    assert listed == found


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", [*DOMAIN, "models"])
def test_imports_run_one_way(package: str) -> None:
    allowed = {"models"} if package != "models" else set()
    forbidden = (set(TOP_LEVEL) - {package}) - allowed
    for path in (REPO / package).rglob("*.py"):
        if "migrations" in path.parts and package == "models":
            continue
        wrong = _imports(path) & forbidden
        assert not wrong, f"{path.relative_to(REPO)} imports {sorted(wrong)}"
