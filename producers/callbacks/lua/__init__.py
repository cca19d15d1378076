"""Lua scripts of callback events (``smsq.producers.callbacks.events``), one ``.lua`` file each."""

from __future__ import annotations

from typing import Final

from smsq.producers.core.lua import read

REPLAY: Final = read(__name__, "replay.lua")
