"""The simulated provider: each reserved number's outcome through its status call and the registry's
status table, delivered late only after its delay, a foreign id refused as unknown there; and the
send path routes a test message to it alone, whatever the routing says."""

from __future__ import annotations

import pytest

from smsq.config.settings import Routing
from smsq.producers.client import Smsq
from smsq.producers.core.records import PROVIDER, PROVIDER_MESSAGE_ID
from smsq.producers.core.store import MessageStore
from smsq.producers.messages.models import parse_omnimessage
from smsq.workers.providers import registry
from smsq.workers.providers.base import OutboundMessage, SendResult
from smsq.workers.providers.errors import UnknownToProvider
from smsq.workers.providers.simulated.client import SimulatedClient
from smsq.workers.sending.batch import BatchOptions, BatchOutcome, send_chunk
from smsq.workers.sending.single import send_message
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.support.sending import make_sender

LATE = 60.0


def outbound(to: str, channels: tuple[str, ...] = ("sms",)) -> OutboundMessage:
    parts = [{"channel": channel, "text": "hi"} for channel in channels]
    return OutboundMessage("m-1", parse_omnimessage({"to": to, "messages": parts}))


def reported(client: SimulatedClient, provider_message_id: str) -> list[tuple[str, str | None]]:
    status = client.status(provider_message_id)
    table = registry.entry("simulated").statuses
    return [(c.channel, table(c.status) if c.status else None) for c in status.channels]


@pytest.mark.parametrize(
    ("to", "outcome"),
    [
        ("+37251230001", "failed"),
        ("+37251230002", "undeliverable"),
        ("+37251230003", "unknown"),
        ("+37251239999", "delivered"),
        ("+37251234567", "delivered"),
    ],
)
def test_each_reserved_ending_reports_its_outcome(clock: FakeClock, to: str, outcome: str) -> None:
    client = SimulatedClient(late_seconds=LATE, clock=clock)
    sent = client.send(outbound(to))
    assert sent.provider == "simulated" and sent.provider_message_id.startswith(f"sim.{outcome}.")
    assert reported(client, sent.provider_message_id) == [("sms", outcome)]


def test_delivered_late_is_in_progress_until_its_delay(clock: FakeClock) -> None:
    client = SimulatedClient(late_seconds=LATE, clock=clock)
    sent = client.send(outbound("+37251230004"))
    assert reported(client, sent.provider_message_id) == [("sms", None)]  # PENDING: in progress
    clock.advance(LATE - 1)
    assert reported(client, sent.provider_message_id) == [("sms", None)]
    clock.advance(1)
    assert reported(client, sent.provider_message_id) == [("sms", "delivered")]


def test_a_failure_reports_every_channel_of_the_chain_and_a_delivery_the_first(clock: FakeClock) -> None:
    client = SimulatedClient(clock=clock)
    failed = client.send(outbound("+37251230001", ("viber", "sms")))
    assert reported(client, failed.provider_message_id) == [("viber", "failed"), ("sms", "failed")]
    delivered = client.send(outbound("+37251230000", ("viber", "sms")))
    assert reported(client, delivered.provider_message_id) == [("viber", "delivered")]
    assert [part.channel for part in delivered.parts] == ["viber", "sms"]


@pytest.mark.parametrize(
    "foreign", ["omni-1", "sim.lost.1.sms.m-1", "sim.late.soon.sms.m-1", "sim.failed.1..m"]
)
def test_an_id_it_did_not_make_is_unknown_to_it(foreign: str) -> None:
    with pytest.raises(UnknownToProvider) as caught:
        SimulatedClient().status(foreign)
    assert caught.value.provider == "simulated" and "not a simulated message id" in str(caught.value)


class Refusing:
    """A live provider that must never be called for a test message."""

    name = "messente"
    channels = frozenset({"sms"})
    idempotent_send = False

    def send(self, message: OutboundMessage) -> object:
        raise AssertionError("a test message reached a live provider")

    def close(self) -> None:
        pass


def test_a_test_message_goes_to_the_simulated_provider_whatever_the_routing(
    store: MessageStore, clock: FakeClock
) -> None:
    sender = make_sender(store, Refusing(), SimulatedClient(clock=clock))  # type: ignore[arg-type]
    sender.routing = Routing(sms=["messente"])  # the simulated provider is not in the routing
    smsq = Smsq(store, RecordingPublisher())
    sms = {"to": "+37251230002", "messages": [{"channel": "sms", "text": "hi"}]}
    test_id = smsq.send(sms, test=True).message_id
    assert send_message(test_id, sender).status == "sent"
    record = store.get(test_id)
    assert record is not None and record[PROVIDER] == "simulated"
    assert record[PROVIDER_MESSAGE_ID].startswith("sim.undeliverable.")


def test_a_test_message_with_the_simulated_provider_disabled_fails_saying_so(store: MessageStore) -> None:
    sender = make_sender(store, Refusing())  # type: ignore[arg-type]
    test_id = (
        Smsq(store, RecordingPublisher())
        .send({"to": "+37251230000", "messages": [{"channel": "sms", "text": "hi"}]}, test=True)
        .message_id
    )
    outcome = send_message(test_id, sender)
    assert outcome.status == "failed"
    assert outcome.detail == "a test message goes to the simulated provider only, and it is disabled"


class Accepting(Refusing):
    """A live provider that takes what it is given."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: OutboundMessage) -> SendResult:  # type: ignore[override]
        self.sent.append(message.message_id)
        return SendResult(provider=self.name, provider_message_id=f"live-{message.message_id}")


def test_in_one_chunk_test_messages_go_to_the_simulated_provider_and_the_others_follow_the_routing(
    store: MessageStore, clock: FakeClock
) -> None:
    live = Accepting()
    sender = make_sender(store, live, SimulatedClient(clock=clock))  # type: ignore[arg-type]
    sender.routing = Routing(sms=["messente"])
    smsq = Smsq(store, RecordingPublisher())
    sms = [{"channel": "sms", "text": "hi"}]
    ids = [
        smsq.send({"to": f"+3725123000{n}", "messages": sms}, test=n % 2 == 1).message_id for n in range(4)
    ]
    send_chunk(ids, sender, BatchOptions(), None, BatchOutcome())
    providers = [(store.get(mid) or {}).get(PROVIDER) for mid in ids]
    assert providers == ["messente", "simulated", "messente", "simulated"]
    assert live.sent == [ids[0], ids[2]]
