"""When marketing SMS may reach a recipient: per country, allowed local hours, weekdays and whether
public holidays are allowed (``SMSQ_COST__WINDOWS__RULES`` replaces or adds countries; ``*`` is
every country not listed). The defaults follow the rules the issue cites and common practice; they
are a starting point, not legal advice: check each market's law.

- FR: no promotional SMS at night, on Sundays or public holidays (08:00-20:00, Monday-Saturday).
- US: 08:00-21:00 in the recipient's local time (TCPA practice), every day.
- any other country: 09:00-20:00, Monday-Saturday, not on public holidays (the cautious reading).
"""

from __future__ import annotations

from datetime import time
from typing import Final

from smsq.config.cost_settings import WEEKDAYS, WindowRule

__all__ = ["ANY_COUNTRY", "DEFAULT_RULES", "WEEKDAYS", "WindowRule"]

ANY_COUNTRY: Final = "*"

DEFAULT_RULES: Final[dict[str, WindowRule]] = {
    "FR": WindowRule(start=time(8), end=time(20), days=list(WEEKDAYS[:6]), holidays=False),
    "US": WindowRule(start=time(8), end=time(21), days=list(WEEKDAYS), holidays=True),
    ANY_COUNTRY: WindowRule(),
}
