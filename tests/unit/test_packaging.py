"""The packaging config matches the tree, so `make run` installs quietly and installs everything."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools.command.editable_wheel import _simple_layout

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def _packages_on_disk() -> set[str]:
    found = set()
    for module in ROOT.rglob("*.py"):
        parts = module.parent.relative_to(ROOT).parts
        if parts and parts[0] not in {"tests", ".venv", "build"} and not parts[0].startswith("."):
            found.add(".".join(parts))
    return found


def _data_packages() -> set[str]:
    """Directories of package data only (the console's assets): listed as packages too, or setuptools
    warns at every install that it would ignore them."""
    return {
        name
        for name in PYPROJECT["tool"]["setuptools"]["package-data"]
        if not any((ROOT / name.replace(".", "/")).glob("*.py"))
    }


def test_every_package_on_disk_is_installed() -> None:
    assert _data_packages() == {"console.assets"}
    assert _packages_on_disk() | _data_packages() == set(SETUPTOOLS["packages"])


def test_the_editable_install_is_a_plain_path_entry() -> None:
    # setuptools installs a flat project whose root is its import root as one .pth line; any other
    # layout gets the "lenient editable mode" finder and prints a warning block before `make run`.
    assert SETUPTOOLS["package-dir"] == {"": "."}
    assert _simple_layout(SETUPTOOLS["packages"], SETUPTOOLS["package-dir"], str(ROOT))


def test_lint_and_typecheck_see_every_top_level_package() -> None:
    top_level = {name for name in SETUPTOOLS["packages"] if "." not in name}
    assert top_level | {"worker"} <= set(PYPROJECT["tool"]["ruff"]["lint"]["isort"]["known-first-party"])
    assert top_level <= set(PYPROJECT["tool"]["mypy"]["files"])
