"""Spend-cap warnings and refusals and pumping-guard refusals reach the metrics, labelled by which
limit from a fixed set (never a key id or a number)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsq.config.cost_settings import CapSettings, PumpingSettings
from smsq.producers.cost import events
from smsq.producers.errors import CapExceeded, PumpingGuard
from smsq.telemetry.cost_events import count_cost_events
from smsq.telemetry.exporter import SmsqCollector
from smsq.telemetry.hooks import OFF, Telemetry
from smsq.telemetry.recorder import Recorder
from tests.producers.cost.test_caps import sms, smsq_with
from tests.telemetry.support import exposition, samples, value


@pytest.fixture
def hooked(telemetry: Telemetry) -> Iterator[None]:
    hook = count_cost_events(telemetry)
    assert hook is not None
    yield
    events.remove_hook(hook)


def test_cap_and_guard_events_are_counted_by_kind_of_limit(
    store: object, hooked: None, recorder: Recorder, collector: SmsqCollector
) -> None:
    smsq = smsq_with(
        store,  # type: ignore[arg-type]
        caps=CapSettings(daily_segments=4),
        pumping=PumpingSettings(per_number_per_hour=1, priorities=["regular"]),
    )
    smsq.send(sms())  # 2 of 4 parts, 1 of 1 to this number
    with pytest.raises(PumpingGuard):
        smsq.send(sms())
    smsq.send(sms(to="+37251234568"))  # 4 of 4: the 80 % warning
    with pytest.raises(CapExceeded):
        smsq.send(sms(to="+37251234569"))
    recorder.flush()
    found = samples(exposition(collector))
    assert value(found, "smsq_cost_events_total", event="pumping_refused", cap="per_number_hourly") == 1
    assert value(found, "smsq_cost_events_total", event="cap_warning", cap="global_daily_segments") == 1
    assert value(found, "smsq_cost_events_total", event="cap_refused", cap="global_daily_segments") == 1


def test_metrics_off_installs_nothing() -> None:
    assert count_cost_events(OFF) is None
