from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.workers.limits.health import HealthPolicy, ProviderHealth
from smsq.workers.limits.ratelimit import Limit, RateLimiter
from smsq.workers.providers.base import OutboundMessage, SendResult
from smsq.workers.providers.errors import PermanentError, RateLimited, TransientError
from smsq.workers.sending.single import Sender, send_message
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.support.sending import accept, make_sender


@dataclass
class FakeProvider:
    """A provider at the Protocol seam; the HTTP seam is covered by each provider's own tests."""

    name: str
    fail_with: Exception | None = None
    channels: frozenset[str] = frozenset({"sms"})
    idempotent_send: bool = False
    sent: list[str] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message.message_id)
        if self.fail_with is not None:
            raise self.fail_with
        return SendResult(provider=self.name, provider_message_id=f"{self.name}-1")

    def close(self) -> None:
        pass


def down(name: str) -> FakeProvider:
    return FakeProvider(name, TransientError(name, "server error 500", code="500"))


def resend_when_due(
    store: MessageStore, clock: FakeClock, message_id: str, sender: Sender, *, outcome: bool = False
) -> Any:
    clock.advance(60)
    assert [r.message_id for r in store.claim_due(10, 1000)] == [message_id]
    sent = send_message(message_id, sender)
    return sent if outcome else sent.status


def test_a_retry_fails_over_to_the_next_provider_at_once(store: MessageStore, clock: FakeClock) -> None:
    messente, dm = down("messente"), FakeProvider("direct_messenger")
    sender = make_sender(store, messente, dm)
    message_id = accept(store)
    assert send_message(message_id, sender).status == "queued"
    assert resend_when_due(store, clock, message_id, sender) == "sent"
    result = Smsq(store, RecordingPublisher()).result(message_id)
    assert result.provider == "direct_messenger"
    assert [(a.provider, a.outcome) for a in result.attempt_log] == [
        ("messente", "transient"),
        ("direct_messenger", "sent"),
    ]


def test_an_open_circuit_sends_new_messages_to_the_next_provider(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    health = ProviderHealth(redis_client, HealthPolicy(min_requests=2), prefix="t", clock=clock)
    messente, dm = down("messente"), FakeProvider("direct_messenger")
    sender = make_sender(store, messente, dm, health=health)
    for _ in range(2):
        send_message(accept(store), sender)
    assert health.is_open("messente")
    fresh = accept(store)
    assert send_message(fresh, sender).status == "sent"
    assert messente.sent.count(fresh) == 0 and dm.sent == [fresh]


def test_recovery_returns_traffic_to_the_first_provider(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    health = ProviderHealth(redis_client, HealthPolicy(min_requests=2), prefix="t", clock=clock)
    messente, dm = down("messente"), FakeProvider("direct_messenger")
    sender = make_sender(store, messente, dm, health=health)
    for _ in range(2):
        send_message(accept(store), sender)
    assert health.is_open("messente")
    messente.fail_with = None  # Messente recovers...
    redis_client.delete("t:circuit:messente")  # ...and the cool-down runs out
    probe = accept(store)
    assert send_message(probe, sender).status == "sent"
    assert messente.sent[-1] == probe


def test_a_channel_with_no_alternative_retries_until_its_attempts_run_out(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    health = ProviderHealth(redis_client, HealthPolicy(min_requests=1), prefix="t", clock=clock)
    messente = down("messente")
    sender = make_sender(store, messente, health=health)
    message_id = accept(store)
    statuses = [send_message(message_id, sender).status]
    for _ in range(2):
        redis_client.delete("t:circuit:messente")  # the cool-down runs out: the next send probes
        statuses.append(resend_when_due(store, clock, message_id, sender))
    assert statuses == ["queued", "queued", "failed"]
    record = store.get(message_id)
    assert record is not None and record["attempts"] == "3" and len(messente.sent) == 3


def test_an_open_circuit_makes_a_message_wait_without_spending_an_attempt(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    """Issue 12: a message whose every provider has its circuit open waits for the first to close;
    its attempts are spent only on calls, so a long outage cannot fail it untried."""
    health = ProviderHealth(
        redis_client, HealthPolicy(min_requests=1, cooldown_seconds=30), prefix="t", clock=clock
    )
    messente = down("messente")
    sender = make_sender(store, messente, health=health)
    assert health.record("messente", ok=False) and health.is_open("messente")  # Messente is failing
    waiting = accept(store)
    outcomes = [send_message(waiting, sender)]
    for _ in range(5):  # however often it comes due while the circuit stays open
        redis_client.pexpire("t:circuit:messente", 30_000)
        outcomes.append(resend_when_due(store, clock, waiting, sender, outcome=True))
    assert {o.status for o in outcomes} == {"queued"}
    assert all(29 <= (o.retry_in or 0) <= 31 for o in outcomes)  # until it closes, spread by a second
    record = store.get(waiting)
    assert (
        record is not None
        and record.get("attempts", "0") == "0"
        and record["last_error_code"] == "circuit-open"
    )
    assert messente.sent == []  # never called for it
    messente.fail_with = None
    redis_client.delete("t:circuit:messente")
    assert resend_when_due(store, clock, waiting, sender) == "sent"


def test_a_denied_token_requeues_without_spending_an_attempt(
    store: MessageStore, redis_client: redis.Redis
) -> None:
    limiter = RateLimiter(redis_client, {"messente": Limit(0.1, burst=1)}, prefix="t")
    messente = FakeProvider("messente")
    sender = make_sender(store, messente, limiter=limiter)
    first, second = accept(store), accept(store)
    assert send_message(first, sender).status == "sent"
    outcome = send_message(second, sender)
    assert outcome.status == "queued" and outcome.retry_in is not None and outcome.retry_in > 5
    record = store.get(second)
    assert record is not None and record["attempts"] == "0" and messente.sent == [first]


def test_a_short_token_wait_is_slept_in_the_task(store: MessageStore, redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"messente": Limit(20, burst=1)}, prefix="t")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    sender = make_sender(store, FakeProvider("messente"), limiter=limiter, sleep=sleep)
    assert [send_message(accept(store), sender).status for _ in range(2)] == ["sent", "sent"]
    assert len(slept) == 1 and 0 < slept[0] <= 0.05


def test_a_provider_429_pauses_every_worker(store: MessageStore, redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"messente": Limit(100, burst=10)}, prefix="t")
    messente = FakeProvider("messente", RateLimited("messente", "slow down", retry_after=3))
    sender = make_sender(store, messente, limiter=limiter)
    assert send_message(accept(store), sender).retry_in == 3
    assert limiter.acquire("messente", "high") > 2.5  # everyone waits, not just this message


def test_permanent_errors_do_not_count_against_health(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    health = ProviderHealth(redis_client, HealthPolicy(min_requests=1), prefix="t", clock=clock)
    bad_number = FakeProvider("messente", PermanentError("messente", "invalid number", code="105"))
    sender = make_sender(store, bad_number, health=health)
    for _ in range(3):
        assert send_message(accept(store), sender).status == "failed"
    assert not health.is_open("messente")


def test_a_429_without_retry_after_pauses_briefly_cuts_the_rate_and_requeues_after_a_second(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    limiter = RateLimiter(
        redis_client, {"messente": Limit(100, burst=10)}, prefix="t", clock=clock, sleep=clock.advance
    )
    sender = make_sender(
        store, FakeProvider("messente", RateLimited("messente", "slow down")), limiter=limiter
    )
    outcome = send_message(accept(store), sender)
    assert outcome.retry_in == 1.0  # the message itself tries again in a second
    started = clock.now
    while (wait := limiter.acquire("messente", "high")) > 0:
        clock.advance(wait)
    assert abs(clock.now - started - 0.25) < 0.001  # every worker's next request leaves a quarter second on
    # and the rate every worker uses is cut (to 80/s), climbing back 2/s every second since
    assert limiter.rates()["messente"].current == pytest.approx(80 + 0.25 * 2)
