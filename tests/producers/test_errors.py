"""The one error tree: every exception class smsq defines sits under SmsqError, the drawing at the top
of smsq.producers.errors is exactly that tree, and every raise in the package raises one of its
classes (so catching the documented class catches every raise site)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import smsq
from smsq.producers import errors
from smsq.producers.errors import SmsqError
from smsq.workers.providers import errors as provider_errors

# The sandbox stands in for the providers' own servers: its exceptions are the fakes' refusals,
# turned into HTTP answers inside the sandbox, never raised to anyone using smsq.
NOT_SMSQ = ("smsq.sandbox",)
ERROR_MODULES = (errors, provider_errors)


def smsq_modules() -> list[ModuleType]:
    names = (info.name for info in pkgutil.walk_packages(smsq.__path__, "smsq."))
    return [
        importlib.import_module(name)
        for name in names
        if not name.startswith(NOT_SMSQ) and not name.endswith("__main__")  # __main__ runs the CLI
    ]


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined (not imported) in a smsq module, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for module in smsq_modules():
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def drawn_tree() -> dict[str, str | None]:
    """The drawing in the module docstring as {class name: parent name}, read from its indentation."""
    assert errors.__doc__ is not None
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in errors.__doc__.splitlines():
        match = re.match(r"^( *)([A-Z][A-Za-z]+)(\s{2,}|$)", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        del path[depth:]
        parents[match.group(2)] = path[-1] if path else None
        path.append(match.group(2))
    return parents


def test_every_exception_class_in_the_package_is_under_the_one_root() -> None:
    found = defined_exceptions()
    assert "smsq.producers.errors.SmsqError" in found and len(found) > 10  # the walk saw the package
    outside = [name for name, cls in found.items() if not issubclass(cls, SmsqError)]
    assert outside == []


def test_every_error_is_defined_once_in_an_errors_module() -> None:
    found = defined_exceptions()
    elsewhere = [
        name for name, cls in found.items() if cls.__module__ not in {m.__name__ for m in ERROR_MODULES}
    ]
    assert elsewhere == []
    short = [name.rsplit(".", 1)[1] for name in found]
    assert sorted(n for n in short if short.count(n) > 1) == []


def test_the_drawing_is_the_tree() -> None:
    drawn = drawn_tree()
    actual: dict[str, str | None] = {}
    for cls in defined_exceptions().values():
        parent = next((base for base in cls.__bases__ if issubclass(base, SmsqError)), None)
        actual[cls.__name__] = parent.__name__ if parent else None
    assert drawn == actual


def raised_names(module: ModuleType) -> list[tuple[str, int]]:
    """The names raised in a module's source (``raise Name(...)``, ``raise Name``), with their lines."""
    source = Path(inspect.getfile(module)).read_text()
    raised = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                raised.append((f"{target.value.id}.{target.attr}", node.lineno))
            elif isinstance(target, ast.Name):
                raised.append((target.id, node.lineno))
    return raised


def resolve(module: ModuleType, dotted: str) -> object:
    value: object = module
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def test_every_raise_of_a_smsq_class_raises_the_documented_class() -> None:
    checked = 0
    wrong = []
    for module in smsq_modules():
        for dotted, line in raised_names(module):
            value = resolve(module, dotted)
            ours = (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__.startswith("smsq.")
            )
            if ours:
                checked += 1
                if getattr(value, "__module__", "") not in {m.__name__ for m in ERROR_MODULES}:
                    wrong.append(f"{module.__name__}:{line} raises {dotted}")
    assert checked > 50 and wrong == []


@pytest.mark.parametrize("name", sorted(drawn_tree()))
def test_every_drawn_class_is_exported_by_its_errors_module(name: str) -> None:
    owners = [module for module in ERROR_MODULES if isinstance(getattr(module, name, None), type)]
    assert owners, f"{name} is drawn but defined nowhere"
    assert issubclass(getattr(owners[0], name), SmsqError)


def test_a_bad_setting_is_caught_as_an_smsq_error() -> None:
    from smsq.config.settings import load_settings

    with pytest.raises(SmsqError, match="SMSQ_MESSENTE__TIMEOUTS__CONNECT") as caught:
        load_settings(_env_file=None, messente={"timeouts": {"connect": 0}})
    assert type(caught.value) is errors.SettingsError


def test_every_error_crosses_a_process_boundary_as_itself() -> None:
    """Celery pickles a task's exception for its result: the caller must get the same class back."""
    import pickle

    from smsq.workers.providers.errors import RateLimited

    samples = [
        errors.InvalidInput([("to", "not a number")]),
        errors.MissingVariable(["name"]),
        errors.CannotCancel("m-1", "sent"),
        errors.CampaignNotFound("c-1", "gone"),
        errors.TwoFactorFailed("expired", "too late"),
        errors.UnsendableRecord("corrupt", "no body"),
        RateLimited("smsapi", "slow down", retry_after=2.5, code="429", maybe_sent=False),
    ]
    for error in samples:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error) and vars(copy) == vars(error)
