"""The SMS-pumping guard: a bot that triggers OTPs to premium-rate ranges is stopped by where
high-priority SMS may go (a country allowlist) and how fast (per number and per number range per
hour, counters charged atomically with the message, smsq.producers.cost.caps). Each refusal is a
PumpingGuard error naming the rule, and an event (``pumping_refused``)."""

from __future__ import annotations

from datetime import UTC, datetime

from smsq.config.cost_settings import PumpingSettings
from smsq.producers.core.keys import Keys
from smsq.producers.cost import events
from smsq.producers.cost.caps import HOUR, Charge, _expiry, period
from smsq.producers.cost.prices import country_of
from smsq.producers.errors import PumpingGuard


def pumping_charges(
    settings: PumpingSettings, keys: Keys, *, to: str, priority: str, now_s: float
) -> list[Charge]:
    """The guard's counters for one SMS to ``to``; a country not allowed is refused here at once."""
    if priority not in settings.priorities:
        return []
    if settings.allowed_countries is not None:
        country = country_of(to)
        if country not in settings.allowed_countries:
            events.count("pumping_refused", limit="country", cap="country")
            allowed = ", ".join(settings.allowed_countries) or "none"
            raise PumpingGuard(
                f"refused by the SMS-pumping guard: {priority}-priority SMS may not go to {country} "
                f"(allowed: {allowed}; SMSQ_COST__PUMPING__ALLOWED_COUNTRIES)",
                limit="country",
            )
    now = datetime.fromtimestamp(now_s, tz=UTC)
    bucket, resets = period(now, HOUR)
    out = []
    base = f"{keys.prefix}:caps:velocity"
    if (most := settings.per_number_per_hour) is not None:
        label = f"{most} an hour to {_masked(to)}"
        key = f"{base}:number:{to}:{bucket}"
        out.append(Charge(key, 1, most, _expiry(resets), label, "messages", resets, kind="velocity",
                          cap="per_number_hourly"))  # fmt: skip
    if (most := settings.per_prefix_per_hour) is not None:
        prefix = to[: settings.prefix_digits + 1]
        label = f"{most} an hour to the range {prefix}*"
        key = f"{base}:prefix:{prefix}:{bucket}"
        out.append(Charge(key, 1, most, _expiry(resets), label, "messages", resets, kind="velocity",
                          cap="per_prefix_hourly"))  # fmt: skip
    return out


def _masked(number: str) -> str:
    """Logged and shown numbers are masked: the country code and the last three digits."""
    return number[:4] + "*" * max(0, len(number) - 7) + number[-3:]
