"""The seams count what happens: every provider answer (decide), each call's duration, the limiter's
waits, circuits, and what polls and reports settle. Providers faked at the HTTP seam."""

from __future__ import annotations

import httpx
import pytest

from smsq.config.settings import RetrySettings, Timeouts
from smsq.producers.core.store import MessageStore
from smsq.telemetry.exporter import SmsqCollector
from smsq.telemetry.hooks import OFF, Telemetry
from smsq.telemetry.recorder import Recorder
from smsq.workers.limits.ratelimit import Limit, RateLimiter
from smsq.workers.providers import http
from smsq.workers.providers.base import ChannelStatus
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.sending.single import Sender, send_message
from smsq.workers.status.settle import Settler
from tests.support.fakes import FakeClock, Wire
from tests.support.sending import accept, make_sender
from tests.telemetry.support import exposition, samples, value

OK = httpx.Response(
    201,
    json={"messages": [{"message_id": "m-1", "channel": "sms", "sender": "Acme"}], "to": "+37251234567",
          "omnimessage_id": "omni-1"},
)  # fmt: skip


def error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"title": "x", "detail": "bad", "code": code}]})


def sender_for(store: MessageStore, wire: Wire, telemetry: Telemetry, **options: object) -> Sender:
    client = http.make_client("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(wire))
    retry = RetrySettings(max_attempts=2, base_delay=1, max_delay=1, jitter=0)
    return make_sender(store, MessenteClient(client), retry=retry, telemetry=telemetry, **options)


def scrape(recorder: Recorder, collector: SmsqCollector) -> dict:
    recorder.flush()
    return samples(exposition(collector))


def test_a_sent_message_is_counted_with_provider_channel_and_duration(
    store: MessageStore, telemetry: Telemetry, recorder: Recorder, collector: SmsqCollector
) -> None:
    send_message(accept(store), sender_for(store, Wire(OK, OK), telemetry))
    send_message(accept(store, to="+37251234568"), sender_for(store, Wire(OK), telemetry))
    found = scrape(recorder, collector)
    assert value(found, "smsq_messages_total", status="sent", provider="messente", channel="sms") == 2
    assert value(found, "smsq_send_duration_seconds_count", provider="messente") == 2


@pytest.mark.parametrize(
    ("reply", "error_class", "code", "status"),
    [
        (httpx.Response(429), "rate_limited", "429", None),
        (error(400, "105"), "permanent", "105", "failed"),
        (httpx.Response(503), "transient", "503", None),
    ],
)
def test_errors_are_counted_by_class_and_code(
    store: MessageStore,
    telemetry: Telemetry,
    recorder: Recorder,
    collector: SmsqCollector,
    reply: httpx.Response,
    error_class: str,
    code: str,
    status: str | None,
) -> None:
    send_message(accept(store), sender_for(store, Wire(reply), telemetry))
    found = scrape(recorder, collector)
    labels = {"provider": "messente", "class": error_class, "code": code}
    assert value(found, "smsq_provider_errors_total", **labels) == 1
    rate_limited = value(found, "smsq_provider_rate_limited_total", provider="messente")
    assert rate_limited == (1 if error_class == "rate_limited" else None)
    failed = value(found, "smsq_messages_total", status="failed", provider="messente", channel="sms")
    assert failed == (1 if status == "failed" else None)


def test_giving_up_after_the_last_transient_attempt_counts_failed(
    store: MessageStore, telemetry: Telemetry, recorder: Recorder, collector: SmsqCollector, clock: FakeClock
) -> None:
    message_id = accept(store)
    sender = sender_for(store, Wire(httpx.Response(500), httpx.Response(500)), telemetry)
    send_message(message_id, sender)
    clock.advance(5)
    store.claim_due(10, 1000)  # the retry comes due: queued again
    assert send_message(message_id, sender).status == "failed"
    found = scrape(recorder, collector)
    assert value(found, "smsq_messages_total", status="failed", provider="messente", channel="sms") == 1
    assert (
        value(found, "smsq_provider_errors_total", provider="messente", **{"class": "transient"}, code="500")
        == 2
    )


def test_limiter_waits_and_deferrals_are_counted(
    store: MessageStore, telemetry: Telemetry, recorder: Recorder, collector: SmsqCollector
) -> None:
    # One token every 100 s: the first send goes, the second is put back (more than the inline wait).
    limiter = RateLimiter(store.redis, {"messente": Limit(0.01, burst=1)}, prefix="t")
    sender = sender_for(store, Wire(OK), telemetry, limiter=limiter, sleep=lambda _: None)
    assert send_message(accept(store), sender).status == "sent"
    assert send_message(accept(store, to="+37251234568"), sender).status == "queued"
    found = scrape(recorder, collector)
    assert value(found, "smsq_limiter_deferred_total", provider="messente") == 1
    assert value(found, "smsq_limiter_wait_seconds_count", provider="messente") == 2


def test_a_scheduled_message_records_its_lateness(
    store: MessageStore, telemetry: Telemetry, recorder: Recorder, collector: SmsqCollector, clock: FakeClock
) -> None:
    message_id = accept(store, time_to_send=clock.iso(10))
    clock.advance(12.5)
    store.claim_due(10, 1000)
    send_message(message_id, sender_for(store, Wire(OK), telemetry))
    found = scrape(recorder, collector)
    assert value(found, "smsq_schedule_lateness_seconds_count") == 1
    assert value(found, "smsq_schedule_lateness_seconds_sum") == pytest.approx(2.5)


def test_a_settled_message_counts_its_final_status_and_report_lag(
    store: MessageStore, telemetry: Telemetry, recorder: Recorder, collector: SmsqCollector, clock: FakeClock
) -> None:
    message_id = accept(store)
    send_message(message_id, sender_for(store, Wire(OK), OFF))
    clock.advance(42)
    delivered = ChannelStatus(channel="sms", status="DELIVRD", provider_message_id="m-1")
    assert Settler(store, telemetry).settle(message_id, "messente", [delivered], via="report").moved_to
    found = scrape(recorder, collector)
    assert value(found, "smsq_messages_total", status="delivered", provider="messente", channel="sms") == 1
    assert value(found, "smsq_delivery_report_lag_seconds_sum", provider="messente", via="report") == 42
    assert (
        value(found, "smsq_delivery_report_lag_seconds_bucket", provider="messente", via="report", le="60.0")
        == 1
    )


def test_metrics_off_records_nothing(
    store: MessageStore, recorder: Recorder, collector: SmsqCollector
) -> None:
    send_message(accept(store), sender_for(store, Wire(OK), OFF))
    found = scrape(recorder, collector)
    assert not [key for key in found if key[0] == "smsq_messages_total"]


def test_requests_that_missed_their_pacing_slot_are_counted(
    store: MessageStore, telemetry: Telemetry, recorder: Recorder, collector: SmsqCollector
) -> None:
    import dataclasses

    from smsq.workers.campaigns.sending import BatchOptions, send_batch
    from smsq.workers.sending.loop_http import LATE_RETRIES, AsyncHttp
    from tests.workers.campaigns.test_sending import FakeMessente, campaign
    from tests.workers.campaigns.test_sending import sender_for as campaign_sender

    fake = FakeMessente()
    # Nothing can leave within a nanosecond of its slot: every request is late, none is sent.
    client = AsyncHttp(
        "https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(fake), late_after=1e-9
    )
    # Tokens to spare, so every retry gets its new slot.
    limiter = RateLimiter(store.redis, {"messente": Limit(100_000, burst=1000, high_reserve=0.0)}, prefix="t")
    sender = dataclasses.replace(campaign_sender(store, fake), limiter=limiter, telemetry=telemetry)
    try:
        _, cid = campaign(store)
        send_batch(cid, 1, 5, sender, BatchOptions(chunk=5, use_bulk=False, async_http=client), None)
    finally:
        client.close()
    assert fake.requests == []
    # Each took a new slot LATE_RETRIES times, late every time, and was then put back.
    assert (
        value(scrape(recorder, collector), "smsq_pacing_late_total", provider="messente") == 5 * LATE_RETRIES
    )
