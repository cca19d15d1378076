"""Every Lua script is a .lua file found through importlib.resources (so an installed distribution
finds it), is loaded by a module of its own package, and names its KEYS and ARGV at its top."""

from __future__ import annotations

import importlib
import pkgutil
import re
from importlib.resources import files
from importlib.resources.abc import Traversable

import pytest

import smsq

# Run on import (settings, a command line), and hold no scripts.
NOT_IMPORTED = {"smsq.workers.main", "smsq.cli.__main__"}


def lua_files(folder: Traversable, package: str) -> list[tuple[str, str, str]]:
    """(package, file name, text) of every .lua file in the package tree, read as a resource."""
    found = []
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            found.extend(lua_files(entry, f"{package}.{entry.name}"))
        elif entry.name.endswith(".lua"):
            found.append((package, entry.name, entry.read_text(encoding="utf-8")))
    return found


SCRIPTS = lua_files(files("smsq"), "smsq")


def all_modules() -> list[object]:
    names = [info.name for info in pkgutil.walk_packages(smsq.__path__, "smsq.")]
    return [importlib.import_module(name) for name in names if name not in NOT_IMPORTED]


def test_the_scripts_are_found_as_package_resources() -> None:
    names = {f"{package}/{name}" for package, name, _ in SCRIPTS}
    assert {"smsq.producers.core.lua/records.lua", "smsq.producers.core.lua/gcra.lua",
            "smsq.workers.limits/pace.lua"} <= names  # fmt: skip
    assert len(names) >= 15


def test_every_script_is_loaded_by_a_module_of_its_package() -> None:
    held: dict[str, set[str]] = {}
    for module in all_modules():
        package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
        texts = {value for value in vars(module).values() if isinstance(value, str) and "redis.call" in value}
        held.setdefault(package, set()).update(texts)
    orphans = [f"{package}/{name}" for package, name, text in SCRIPTS if text not in held.get(package, set())]
    assert orphans == []


def test_no_module_holds_lua_of_its_own() -> None:
    """Scripts live in .lua files: no Python string holds Redis Lua (none glued from pieces)."""
    texts = {text for _, _, text in SCRIPTS}
    inline = [
        f"{module.__name__}.{name}"
        for module in all_modules()
        for name, value in vars(module).items()
        if isinstance(value, str) and "redis.call" in value and value not in texts
    ]
    assert inline == []


@pytest.mark.parametrize(("package", "name", "text"), SCRIPTS, ids=[f"{p}/{n}" for p, n, _ in SCRIPTS])
def test_a_script_says_what_it_does_and_names_its_keys_and_arguments(
    package: str, name: str, text: str
) -> None:
    assert text.startswith("--"), f"{name} starts with a comment saying what it does"
    indexed = [line.strip() for line in text.splitlines() if re.search(r"\b(KEYS|ARGV)\[\d+\]", line)]
    assert indexed, f"{name} names its KEYS and ARGV"
    not_named = [line for line in indexed if not line.startswith(("local ", "--"))]
    assert not_named == [], f"{name}: KEYS[n] and ARGV[n] are read only into named locals"
