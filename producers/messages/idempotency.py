"""Idempotency keys (a message's, a campaign's): the one check both use."""

from __future__ import annotations

import re
from typing import Final

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.producers.errors import InvalidInput

_KEY: Final = re.compile(r"[\x21-\x7e]+", re.ASCII)  # printable ASCII, no spaces; fullmatched


def checked_idempotency_key(value: object, limits: LimitSettings = DEFAULT_LIMITS) -> str | None:
    """``value`` if it is a usable key (or None), else InvalidInput naming ``idempotency_key``."""
    if value is None:
        return None
    most = limits.idempotency_key_chars
    if not isinstance(value, str):
        raise InvalidInput([("idempotency_key", f"must be a string, not {type(value).__name__}")])
    if not 0 < len(value) <= most or not _KEY.fullmatch(value):
        raise InvalidInput(
            [("idempotency_key", f"must be 1-{most} printable ASCII characters, no spaces or newlines")]
        )
    return value
