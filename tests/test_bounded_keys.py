"""Bounded memory: every Redis key smsq writes has a bounded lifetime or size, except the documented
durable ones (README "What survives what" lists them). Messages (sent, refused, cancelled, lost with
their worker), a campaign with blocked, duplicate and invalid recipients, status polls, a blacklist
sync, two-factor sessions and dead letters are taken through their whole life with the real code on a
real Redis; then the retention (1 s here) passes and only the durable keys, and keys whose expiry is
set and bounded, are left."""

from __future__ import annotations

import base64
import json
import random
import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import redis

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.config.celery import make_celery
from smsq.config.settings import (
    BlacklistSettings,
    RecoverySettings,
    RetrySettings,
    Routing,
    Settings,
    Timeouts,
)
from smsq.config.status_settings import PollingSettings, WebhookSettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.batches import Batches
from smsq.producers.campaigns.janitor import tidy_campaigns
from smsq.producers.client import PUBLISH_GRACE_MS, Smsq
from smsq.producers.core.store import IDEMPOTENCY_EXTRA_SECONDS, MessageStore
from smsq.producers.publisher import CeleryPublisher
from smsq.workers.blacklist.sync import SyncOptions, run_sync
from smsq.workers.campaigns.messages import CampaignTemplates
from smsq.workers.campaigns.sending import BatchLease, BatchOptions, send_batch
from smsq.workers.limits.health import HealthPolicy, ProviderHealth
from smsq.workers.limits.ratelimit import Limit, RateLimiter
from smsq.workers.providers import http
from smsq.workers.providers.base import BlacklistEntry, ChannelStatus, DeliveryStatus
from smsq.workers.providers.direct_messenger.two_factor import VerifyOutcome
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.sending.recovery import LaneWatch
from smsq.workers.sending.release import release_due, settle_expired_leases
from smsq.workers.sending.single import Sender, send_message
from smsq.workers.status.followup import Followup
from smsq.workers.status.polling import Poller, poll_messages
from smsq.workers.status.schedule import PollSchedule
from smsq.workers.two_factor.service import PIN_LIFETIME_SECONDS, send_code, verify_code
from tests.conftest import FakeClock
from tests.workers.campaigns.test_sending import FakeMessente

RETENTION = 1  # seconds: real Redis expiries are what this test waits for
REFUSED = "+37251000099"  # FakeMessente refuses it: a permanent error
BLOCKED = "+37251000066"

# Keys with no expiry, by design (README "What survives what"): the blacklist and its sync records.
DURABLE = {
    "t:blacklist:entries",
    "t:blacklist:active",
    "t:blacklist:sync:state",
    "t:blacklist:sync:runs",  # the last 100 run ids
    "t:blacklist:sync:synced:fake",
    "t:metrics:smsq_dead_letters_written",  # a counter (smsq.telemetry): one field
}


class FakeBlacklistProvider:
    name = "fake"

    def __init__(self, numbers: list[str]) -> None:
        self.numbers = set(numbers)

    def blacklist(self) -> list[BlacklistEntry]:
        return [BlacklistEntry(phone=number) for number in sorted(self.numbers)]

    def blacklist_add(self, phone: str) -> bool:
        added = phone not in self.numbers
        self.numbers.add(phone)
        return added

    def blacklist_remove(self, entry: BlacklistEntry) -> bool:
        found = entry.phone in self.numbers
        self.numbers.discard(entry.phone)
        return found


class Delivered:
    """A status source that reports every message delivered."""

    name = "messente"  # a StatusProvider has a name: the poller checks the Protocol with isinstance

    def status(self, provider_message_id: str) -> DeliveryStatus:
        return DeliveryStatus(
            provider_message_id, "+37251234567", (ChannelStatus("sms", provider_message_id, "DELIVRD"),)
        )


class TwoFactorFake:
    def send_code(self, receiver: str, *, pin_length: int | None = None) -> Any:
        return SimpleNamespace(pin="1234", pin_id="pin-1", sms="sent")

    def verify_code(self, pin: str, pin_id: str) -> Any:
        return SimpleNamespace(outcome=VerifyOutcome.AUTHENTICATED, detail="")


def take(client: redis.Redis, lane: str) -> dict[str, Any]:
    raw = client.rpop(lane)
    assert raw is not None, f"nothing queued in {lane}"
    return dict(json.loads(base64.b64decode(json.loads(raw)["body"]))[1])  # type: ignore[arg-type]


def test_only_documented_durable_keys_outlive_the_retention(
    redis_server: RedisServer, redis_client: redis.Redis, clock: FakeClock
) -> None:
    store = MessageStore(redis_client, prefix="t", clock=clock, retention_seconds=RETENTION)
    app = make_celery(Settings(_env_file=None, redis_url=redis_server.url))  # type: ignore[call-arg]
    publisher = CeleryPublisher(app, clock=clock)
    smsq = Smsq(store, publisher, recovery=RecoverySettings())
    blacklist = Blacklist(redis_client, prefix="t", clock=clock)
    fake = FakeMessente(refuse={REFUSED})
    client = http.make_client("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(fake))
    sender = Sender(
        store=store,
        providers={"messente": MessenteClient(client)},
        routing=Routing(),
        retry=RetrySettings(max_attempts=3),
        lease_seconds=30,
        rng=random.Random(1),
        limiter=RateLimiter(redis_client, {"messente": Limit(1000, burst=100)}, prefix="t"),
        health=ProviderHealth(redis_client, HealthPolicy(), prefix="t", clock=clock),
        is_blacklisted=blacklist.is_blocked,
        blocked_among=blacklist.blocked_among,
        templates=CampaignTemplates(redis_client, store.keys),
        followup=Followup(PollingSettings(), WebhookSettings()),
    )
    broker = redis.Redis.from_url(redis_server.url)
    watch = LaneWatch(broker, RecoverySettings())

    # Messages: sent (with an idempotency key), refused by the provider, scheduled then cancelled,
    # and one whose worker died mid-call (ends `unknown`).
    sms = {"messages": [{"channel": "sms", "text": "hi"}]}
    ok = smsq.send({**sms, "to": "+37251234567", "priority": "high"}, idempotency_key="order-1").message_id
    refused = smsq.send({**sms, "to": REFUSED}).message_id
    later = datetime.fromtimestamp(clock() + 3600, tz=UTC).isoformat()
    scheduled = smsq.send({**sms, "to": "+37251234568", "time_to_send": later}).message_id
    lost = smsq.send({**sms, "to": "+37251234569", "priority": "low"}).message_id
    for lane in ("high", "regular"):
        send_message(take(broker, lane)["message_id"], sender)
    smsq.cancel(scheduled)
    take(broker, "low")
    store.transition(lost, "sending", fields={"lease_token": "t"}, lease_until_ms=store.now_ms() + 1000,
                     unschedule=True)  # fmt: skip
    store.mark_calling([lost], "t", "messente")
    clock.advance(2)
    settle_expired_leases(store, {"low": "unknown"})

    # A campaign: a blocked recipient, a duplicate, an invalid number, an idempotency key.
    blacklist.add(BLOCKED, reason="asked")
    progress = smsq.campaigns.create(
        name="spring",
        template={"messages": [{"channel": "sms", "text": "sale"}]},
        recipients=["+37251000001", BLOCKED, "+37251000001", "not a number", "+37251000002"],
        idempotency_key="spring-1",
    )
    batch = take(broker, "low")
    send_batch(batch["campaign_id"], batch["first"], batch["last"], sender, BatchOptions(), None,
               BatchLease(Batches(store), 60))  # fmt: skip

    # Status polls settle every sent message.
    clock.advance(31)
    schedule = PollSchedule(store, PollingSettings())
    due = schedule.claim(100)
    assert len(due) == 3  # the OTP and the campaign's two
    poll_messages(due, Poller(store, {"messente": Delivered()}, PollingSettings()))
    counts = smsq.campaign_counts(progress.id)
    assert (counts.get("delivered"), counts.get("blocked")) == (2, 1)

    # A blacklist sync, two-factor sessions, a dead letter.
    report = run_sync(blacklist, {"fake": FakeBlacklistProvider(["+37251000077"])}, BlacklistSettings(),
                      SyncOptions(task_id="run-1"))  # fmt: skip
    assert report.status == "ok"
    session = send_code(TwoFactorFake(), redis_client, "t", "+37251234567", None)  # type: ignore[arg-type]
    assert verify_code(TwoFactorFake(), redis_client, "t", session["session_id"], "1234")["outcome"] == (  # type: ignore[arg-type]
        "authenticated"
    )
    unverified = send_code(TwoFactorFake(), redis_client, "t", "+37251234567", None)  # type: ignore[arg-type]
    store.dead_letter("smsq.send", {"kwargs": {"message_id": "nope"}}, "message_id: not a UUID")

    # The release loop's and the janitor's passes after everything finished.
    release_due(store, publisher, batch=100, claim_lease_ms=30_000, watch=watch)
    assert tidy_campaigns(store, smsq.campaigns.expander, expansion_seconds=300).expired == 1
    finals = smsq.results([ok, refused, scheduled, lost])
    assert [r.status for r in finals.values() if r] == ["delivered", "failed", "cancelled", "unknown"]

    # The retention passes (Redis's own clock: the expiries are real).
    short_lived = re.compile(r"^t:(msg|campaign|campaign-idem|dead|batches)[:]?")

    def unexpired() -> list[str]:
        return sorted(k for k in redis_client.keys("t:*") if short_lived.match(k))

    try:
        wait_until(
            lambda: not unexpired(), timeout=15, what="records, campaign keys and dead letters to expire"
        )
    except TimeoutError:
        raise AssertionError(
            f"still there past the retention, with their ttl: {[(k, redis_client.ttl(k)) for k in unexpired()]}"
        ) from None

    left = {key: redis_client.ttl(key) for key in redis_client.keys("*")}
    assert {key for key, ttl in left.items() if ttl == -1} == DURABLE
    bounds = {
        r"^t:stats:\d+$": store.stats_ttl_seconds,  # hourly counts: the retention + 120 days
        r"^t:idem:": PUBLISH_GRACE_MS // 1000 + RETENTION + IDEMPOTENCY_EXTRA_SECONDS,
        r"^t:2fa:": PIN_LIFETIME_SECONDS,  # the unverified session only
        r"^t:health:messente:\d+$": HealthPolicy().window_seconds * 2,
        r"^t:rate:messente$": 5,
    }
    for key, ttl in left.items():
        if key in DURABLE:
            continue
        bound = next((limit for pattern, limit in bounds.items() if re.match(pattern, key)), None)
        assert bound is not None, f"{key} is neither durable nor known to be bounded"
        assert 0 < ttl <= bound, f"{key}: ttl {ttl} s, bound {bound} s"
    assert f"t:2fa:{unverified['session_id']}" in left and f"t:2fa:{session['session_id']}" not in left
    assert not {key for key in left if key.startswith(("high", "regular", "low", "unacked"))}
