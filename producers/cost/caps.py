"""Spend caps and velocity limits as counters charged atomically at acceptance (records.lua's
``charge``, inside ``create`` for one message and ``charge`` for a whole campaign).

A cap is a limit on SMS parts, or on cost where prices are known, per UTC day or month, for all
traffic (global) or per API key (``key_id``; the Python producer API's own traffic has none and
is under the global caps only). A velocity limit (the SMS-pumping guard, smsq.producers.cost.pumping)
is the same kind of counter per number or number prefix per hour. Each counter is one Redis key per
period, expiring a day after its period ends (bounded keys). A refusal names the limit and when it
resets; a counter that crosses ``warn_at`` of its limit logs a warning and counts an event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from smsq.config.cost_settings import CapSettings, CostSettings
from smsq.producers.core.keys import Keys
from smsq.producers.cost import events
from smsq.producers.cost.prices import MICROS
from smsq.producers.errors import CapExceeded, PumpingGuard, SmsqError

log = logging.getLogger(__name__)

SEGMENTS: Final = "segments"
COST: Final = "cost"
DAY: Final = "day"
MONTH: Final = "month"
HOUR: Final = "hour"
EXPIRY_MARGIN_S: Final = 86400


@dataclass(frozen=True)
class Charge:
    """One counter to add ``amount`` to, refused past ``limit``."""

    key: str
    amount: int
    limit: int
    expire_at: int  # unix seconds
    label: str  # "the daily SMS-parts cap of key k1"
    unit: str  # segments, cost (millionths), messages
    resets_at: datetime
    kind: str = "cap"  # cap | velocity
    # Which limit this is, from a fixed set (a metric's label: never a key id or a number).
    cap: str = "other"  # global_daily_segments, key_monthly_cost, ..., per_number_hourly, per_prefix_hourly

    def args(self) -> list[int]:
        return [self.amount, self.limit, self.expire_at]

    def refused(self, used: int) -> SmsqError:
        resets = self.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.kind == "velocity":
            events.count("pumping_refused", limit=self.label, cap=self.cap)
            return PumpingGuard(
                f"refused by the SMS-pumping guard: {self.label} ({self.limit}) is reached; resets {resets}",
                limit=self.label,
                resets_at=self.resets_at,
            )
        events.count("cap_refused", limit=self.label, cap=self.cap)
        limit, needs = _shown(self.limit, self.unit), _shown(self.amount, self.unit)
        return CapExceeded(
            f"{self.label} of {limit} would be exceeded: {_shown(used, self.unit)} used, this needs {needs}; "
            f"resets {resets}",
            limit=self.label,
            resets_at=self.resets_at,
        )


def _shown(value: int, unit: str) -> str:
    if unit == COST:
        return f"{value / MICROS:,.2f}"  # in the price table's currency
    return f"{value:,} SMS parts" if unit == SEGMENTS else f"{value:,}"


def period(now: datetime, name: str) -> tuple[str, datetime]:
    """The UTC period containing ``now``: (its name in a key, when the next one starts)."""
    if name == HOUR:
        start = now.replace(minute=0, second=0, microsecond=0)
        return start.strftime("%Y%m%d%H"), start + timedelta(hours=1)
    if name == DAY:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y%m%d"), start + timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start.strftime("%Y%m"), following


def counter(keys: Keys, scope: str, name: str, unit: str, now: datetime) -> tuple[str, datetime]:
    bucket, resets = period(now, name)
    return f"{keys.prefix}:caps:{scope}:{name}:{unit}:{bucket}", resets


def cap_charges(
    settings: CostSettings, keys: Keys, *, key_id: str | None, segments: int, cost_micros: int, now_s: float
) -> list[Charge]:
    """The charges of accepting ``segments`` SMS parts costing ``cost_micros`` (0: unpriced)."""
    if segments <= 0:
        return []
    now = datetime.fromtimestamp(now_s, tz=UTC)
    scopes: list[tuple[str, str, CapSettings]] = [("global", "the global", settings.caps)]
    if key_id:
        caps = settings.key_caps_by_id.get(key_id, settings.key_caps)
        scopes.append((f"key:{key_id}", f"key {key_id}'s", caps))
    out = []
    for scope, whose, caps in scopes:
        kind = scope.split(":", 1)[0]  # global | key
        for name, adjective in ((DAY, "daily"), (MONTH, "monthly")):
            parts_limit = getattr(caps, f"{adjective}_segments")
            if parts_limit is not None:
                key, resets = counter(keys, scope, name, SEGMENTS, now)
                label = f"{whose} {adjective} SMS-parts cap"
                cap = f"{kind}_{adjective}_segments"
                out.append(
                    Charge(key, segments, parts_limit, _expiry(resets), label, SEGMENTS, resets, cap=cap)
                )
            cost_limit = getattr(caps, f"{adjective}_cost")
            if cost_limit is not None and cost_micros > 0:
                key, resets = counter(keys, scope, name, COST, now)
                label = f"{whose} {adjective} cost cap"
                most, cap = round(cost_limit * MICROS), f"{kind}_{adjective}_cost"
                out.append(Charge(key, cost_micros, most, _expiry(resets), label, COST, resets, cap=cap))
    return out


def _expiry(resets: datetime) -> int:
    return int(resets.timestamp()) + EXPIRY_MARGIN_S


def charge_args(charges: Sequence[Charge]) -> tuple[list[str], list[int]]:
    """The counter keys and (amount, limit, expire at) arguments of records.lua's charge."""
    args: list[int] = []
    for item in charges:
        args.extend(item.args())
    return [item.key for item in charges], args


def settle(charges: Sequence[Charge], reply: Sequence[Any], warn_at: float) -> None:
    """Raise the refusal of records.lua's charge reply, or warn of counters that crossed ``warn_at``."""
    if int(reply[0]) != 0:
        raise charges[int(reply[0]) - 1].refused(int(reply[1]))
    warn(charges, [int(value) for value in reply[1]], warn_at)


def warn(charges: Sequence[Charge], after: Sequence[int], warn_at: float) -> None:
    for item, value in zip(charges, after, strict=True):
        if item.kind == "cap" and value - item.amount < warn_at * item.limit <= value:
            log.warning(
                "%s: %s of %s used (%.0f %%); resets %s",
                item.label, _shown(value, item.unit), _shown(item.limit, item.unit), 100 * value / item.limit,
                item.resets_at.isoformat(),
            )  # fmt: skip
            events.count("cap_warning", limit=item.label, cap=item.cap)


def charge_now(store: Any, charges: Sequence[Charge], warn_at: float) -> None:
    """Charge a campaign's counters at once (records.lua ``charge``)."""
    if not charges:
        return
    keys, args = charge_args(charges)
    settle(charges, store.records_script(keys=keys, args=["charge", len(charges), *args]), warn_at)
