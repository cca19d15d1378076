"""The SMS-pumping guard (issue 16): a country allowlist for high-priority SMS, velocity limits per
number and per number range per hour; each refusal clear, counted, and nothing stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import redis

from smsq.config.cost_settings import CostSettings, PumpingSettings
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.cost import events
from smsq.producers.errors import PumpingGuard
from tests.support.fakes import FakeClock, RecordingPublisher


def otp(to: str = "+37251234567", priority: str = "high") -> dict[str, Any]:
    return {"to": to, "priority": priority, "messages": [{"channel": "sms", "text": "Your code is 1234"}]}


def guarded(store: MessageStore, **pumping: Any) -> Smsq:
    cost = CostSettings(pumping=PumpingSettings(**pumping))
    return Smsq(store, RecordingPublisher(), schedule_horizon=timedelta(days=1), cost=cost)


def refused(smsq: Smsq, client: redis.Redis, message: dict[str, Any]) -> str:
    before = {key: client.get(key) for key in client.keys("t:*") if client.type(key) == "string"}
    records = len(client.keys("t:msg:*"))
    with pytest.raises(PumpingGuard) as error:
        smsq.send(message)
    assert len(client.keys("t:msg:*")) == records
    assert {key: client.get(key) for key in client.keys("t:*") if client.type(key) == "string"} == before
    return str(error.value)


def counted(name: str, limit: str) -> int:
    return sum(
        n for (event, labels), n in events.snapshot().items() if event == name and ("limit", limit) in labels
    )


def test_a_country_not_allowed_is_refused_for_otp_only(
    store: MessageStore, redis_client: redis.Redis
) -> None:
    smsq = guarded(store, allowed_countries=["EE", "LV"])
    smsq.send(otp("+37126000003"))
    before = counted("pumping_refused", "country")
    error = refused(smsq, redis_client, otp("+2399912345"))  # São Tomé: a favourite of SMS pumping
    assert error.startswith("refused by the SMS-pumping guard: high-priority SMS may not go to ST ")
    assert "(allowed: EE, LV; SMSQ_COST__PUMPING__ALLOWED_COUNTRIES)" in error
    assert counted("pumping_refused", "country") == before + 1
    assert "may not go to US" in refused(smsq, redis_client, otp("+12125550104"))
    smsq.send(otp("+12125550104", priority="regular"))  # not OTP traffic: not guarded


def test_velocity_per_number(store: MessageStore, redis_client: redis.Redis, clock: FakeClock) -> None:
    smsq = guarded(store, per_number_per_hour=3)
    for _ in range(3):
        smsq.send(otp())
    error = refused(smsq, redis_client, otp())
    assert error.startswith(
        "refused by the SMS-pumping guard: 3 an hour to +372*****567 (3) is reached; resets "
    )
    assert error.endswith(":00:00Z")
    smsq.send(otp("+37251234568"))  # another number
    clock.advance(3600)
    smsq.send(otp())  # the next hour


def test_velocity_per_prefix(store: MessageStore, redis_client: redis.Redis) -> None:
    smsq = guarded(store, per_prefix_per_hour=4, prefix_digits=8)
    for n in range(4):
        smsq.send(otp(f"+3725123400{n}"))
    before = counted("pumping_refused", "4 an hour to the range +37251234*")
    assert "4 an hour to the range +37251234*" in refused(smsq, redis_client, otp("+37251234099"))
    assert counted("pumping_refused", "4 an hour to the range +37251234*") == before + 1
    smsq.send(otp("+37251235000"))  # another range
