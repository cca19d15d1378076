"""``%var%`` personalisation, rendered locally with the rules of Direct Messenger's Personal API.

Rules (left to right, one pass):
- ``%name%``, where name is a letter or underscore followed by letters, digits or underscores, is a
  placeholder and is replaced by ``str(variables[name])``. Names are case-sensitive.
- ``%%`` is a literal ``%``, read before placeholders: ``save 10%%today%%`` renders as
  ``save 10%today%``. DM documents only ``%name%``; the escape is smsq's, for the rare text whose
  percent sign sits right before a word.
- Any other ``%`` (``50% off``, ``100 %``) is left as it is.
- Values are inserted as they are: a value containing ``%x%`` is not rendered again.
- A placeholder with no variable, or whose variable is None, is an error naming every such variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from smsq.producers.errors import MissingVariable

PLACEHOLDER: Final = re.compile(r"%%|%([A-Za-z_][A-Za-z0-9_]*)%")


def placeholders(template: str) -> list[str]:
    """The variable names a template uses, in order of first appearance."""
    return list(_parsed(template)[2])


def render(template: str, variables: Mapping[str, object]) -> str:
    literals, names, used = _parsed(template)
    missing = [name for name in used if variables.get(name) is None]
    if missing:
        raise MissingVariable(missing)
    if not names:
        return template
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        out.append("%" if name is None else str(variables[name]))
        out.append(literal)
    return "".join(out)


@lru_cache(maxsize=256)
def _parsed(template: str) -> tuple[tuple[str, ...], tuple[str | None, ...], tuple[str, ...]]:
    """The template split once into the literal text around each match, each match's name (None for
    ``%%``) and the names in first-appearance order. Cached: a worker renders one campaign template
    for every recipient, and scanning it with the regex each time was a fifth of a campaign
    message's decoding (py-spy, bench/throughput.py scenario 2)."""
    literals: list[str] = []
    names: list[str | None] = []
    last = 0
    for match in PLACEHOLDER.finditer(template):
        literals.append(template[last : match.start()])
        names.append(match.group(1))
        last = match.end()
    literals.append(template[last:])
    return tuple(literals), tuple(names), tuple(dict.fromkeys(name for name in names if name))
