from __future__ import annotations

from dataclasses import dataclass, field

from smsq.producers.core.store import MessageStore
from smsq.workers.sending.cancelling import cancel_at_provider

ID = "00000000-0000-4000-8000-000000000001"


@dataclass
class Cancellable:
    name: str = "messente"
    agrees: bool = True
    asked: list[str] = field(default_factory=list)

    def cancel(self, provider_message_id: str) -> bool:
        self.asked.append(provider_message_id)
        return self.agrees


def sent(store: MessageStore, **fields: str) -> None:
    store.create(ID, {"id": ID, "status": "queued"}, idempotency_key=None, due_ms=None)
    store.transition(ID, "sending")
    store.transition(ID, "sent", fields={"provider": "messente", "provider_message_id": "omni-1", **fields})


def test_the_provider_agrees_and_the_message_is_cancelled(store: MessageStore) -> None:
    sent(store, provider_scheduled="1")
    provider = Cancellable()
    answer = cancel_at_provider(ID, store, {"messente": provider})  # type: ignore[dict-item]
    assert answer == {"cancelled": True, "status": "cancelled", "reason": ""}
    assert provider.asked == ["omni-1"] and store.get(ID)["status"] == "cancelled"  # type: ignore[index]


def test_the_provider_already_sent_it(store: MessageStore) -> None:
    sent(store, provider_scheduled="1")
    answer = cancel_at_provider(ID, store, {"messente": Cancellable(agrees=False)})  # type: ignore[dict-item]
    assert answer["cancelled"] is False and answer["reason"] == "the provider already sent it"
    assert store.get(ID)["status"] == "sent"  # type: ignore[index]


def test_a_message_the_provider_does_not_hold_is_never_asked_about(store: MessageStore) -> None:
    sent(store)
    provider = Cancellable()
    answer = cancel_at_provider(ID, store, {"messente": provider})  # type: ignore[dict-item]
    assert answer["cancelled"] is False and provider.asked == []


def test_a_provider_without_cancel(store: MessageStore) -> None:
    sent(store, provider_scheduled="1")
    answer = cancel_at_provider(ID, store, {"messente": object()})  # type: ignore[dict-item]
    assert answer == {"cancelled": False, "status": "sent", "reason": "messente cannot cancel"}
