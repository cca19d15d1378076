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
from typing import Final

from smsq.producers.errors import MissingVariable

PLACEHOLDER: Final = re.compile(r"%%|%([A-Za-z_][A-Za-z0-9_]*)%")


def placeholders(template: str) -> list[str]:
    """The variable names a template uses, in order of first appearance."""
    found = (match.group(1) for match in PLACEHOLDER.finditer(template))
    return list(dict.fromkeys(name for name in found if name))


def render(template: str, variables: Mapping[str, object]) -> str:
    missing = [name for name in placeholders(template) if variables.get(name) is None]
    if missing:
        raise MissingVariable(missing)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return "%" if name is None else str(variables[name])

    return PLACEHOLDER.sub(fill, template)
