"""Lua scripts of the local blacklist (``smsq.producers.blacklist.store``), one ``.lua`` file each
beside this module: each write is one atomic script."""

from __future__ import annotations

from typing import Final

from smsq.producers.core.lua import read

ENTRIES: Final = read(__name__, "entries.lua")  # operations 'add' and 'remove'
EXPIRE_DUE: Final = read(__name__, "expire_due.lua")
PRUNE_TOMBSTONES: Final = read(__name__, "prune_tombstones.lua")
