"""The state store's Lua scripts, one ``.lua`` file each beside this module, read with
importlib.resources so an installed distribution finds them (pyproject ships ``*.lua`` as package
data). Each runs atomically in Redis, so no two clients interleave; each names its KEYS and ARGV as
locals at its top, and none is assembled from pieces: what Redis runs is the file as it reads.

``records.lua`` holds every write that creates a record or moves its status (one create and one
transition function, and the counters they keep), as operations named by ARGV[1].
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final


def read(package: str, name: str) -> str:
    """The text of the script ``name`` shipped in ``package`` (a dotted module name)."""
    return files(package).joinpath(name).read_text(encoding="utf-8")


RECORDS: Final = read(__name__, "records.lua")
REMOVE_IF_SCORE: Final = read(__name__, "remove_if_score.lua")
CLAIM_EXPIRED_LEASES: Final = read(__name__, "claim_expired_leases.lua")
MARK_PUBLISHED: Final = read(__name__, "mark_published.lua")
MARK_CALLING: Final = read(__name__, "mark_calling.lua")
LANE_MARKS: Final = read(__name__, "lane_marks.lua")
# GCRA: the API keys' limits (smsq.producers.keys.limits). The providers' limiters pace requests at
# slots and adapts to 429s in their own script (smsq.workers.limits, pace.lua).
GCRA: Final = read(__name__, "gcra.lua")
