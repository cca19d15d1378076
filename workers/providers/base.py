"""What provider clients offer, as Protocols. Every send client is a ``Provider``; what else it can do
(poll a status, cancel, send in bulk, be sent by the event loop) is one more Protocol each, declared
in its registry entry (``smsq.workers.providers.registry``) and checked with ``isinstance``, never by
probing for methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from smsq.config.settings import Timeouts
from smsq.producers.messages.models import Omnimessage

if TYPE_CHECKING:
    import httpx

    from smsq.workers.providers.errors import ProviderError


@dataclass(frozen=True)
class OutboundMessage:
    """A message as handed to a provider: the validated omnimessage plus smsq's own id."""

    message_id: str  # smsq's id: the idempotency key where the provider has one (SMSAPI idx, DM dlrid)
    omnimessage: Omnimessage
    callback_url: str | None = None  # where this provider should push delivery reports, if anywhere


@dataclass(frozen=True)
class SentPart:
    channel: str
    provider_message_id: str
    sender: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_message_id: str  # the id to poll status or cancel with (Messente omnimessage_id)
    parts: tuple[SentPart, ...] = ()
    # True: the provider refused this send as a repeat of one it already accepted (SMSAPI code 53,
    # a repeated idx), so nothing new went out; the message counts as sent by that earlier request.
    duplicate: bool = False


@runtime_checkable
class Provider(Protocol):
    """Sends messages. ``channels`` lists what it can deliver; ``idempotent_send`` is True when the
    provider itself drops a repeated send of the same smsq message id, making a resend safe."""

    @property
    def name(self) -> str: ...

    @property
    def channels(self) -> frozenset[str]: ...

    @property
    def idempotent_send(self) -> bool: ...

    def send(self, message: OutboundMessage) -> SendResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BlacklistEntry:
    phone: str  # E.164
    provider_id: str | None = None  # SMSAPI and Direct Messenger delete by id
    created_at: str | None = None
    expires_at: str | None = None


@runtime_checkable
class BlacklistProvider(Protocol):
    """Blacklist operations. ``add`` returns False when the number was already listed (409);
    ``remove`` returns False when it was not listed (404): both are outcomes, not errors."""

    @property
    def name(self) -> str: ...

    def blacklist(self) -> list[BlacklistEntry]: ...

    def blacklist_add(self, phone: str) -> bool: ...

    def blacklist_remove(self, entry: BlacklistEntry) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class ExpiringBlacklistProvider(Protocol):
    """A blacklist that keeps an expiry itself (SMSAPI's expire_at): the number stays listed through
    ``last_day`` and the provider drops it after. Elsewhere the sync removes an expired number."""

    @property
    def name(self) -> str: ...

    def blacklist_add_until(self, phone: str, last_day: date) -> bool: ...


@dataclass(frozen=True)
class ChannelStatus:
    """One channel's delivery result, as the provider reports it (raw status, e.g. DELIVRD)."""

    channel: str
    provider_message_id: str | None
    status: str | None  # None while the provider is still processing
    err: int | None = None
    error: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True)
class DeliveryStatus:
    provider_message_id: str
    to: str
    channels: tuple[ChannelStatus, ...]


@runtime_checkable
class StatusProvider(Protocol):
    """Answers a status call for a message it sent (polled by ``smsq.workers.status.polling``)."""

    @property
    def name(self) -> str: ...

    def status(self, provider_message_id: str) -> DeliveryStatus: ...


@runtime_checkable
class CancelProvider(Protocol):
    """``cancel`` returns False when the provider says the message was already sent or is unknown."""

    @property
    def name(self) -> str: ...

    def cancel(self, provider_message_id: str) -> bool: ...


@runtime_checkable
class BulkProvider(Protocol):
    """Sends many messages in one request. One result per input, in order: a SendResult or that
    entry's error; a request-level failure raises for the whole batch."""

    @property
    def name(self) -> str: ...

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ProviderError]: ...


@runtime_checkable
class LoopSingles(Protocol):
    """A provider whose single send is one POST that the worker's event loop makes itself
    (``smsq.workers.sending.event_loop``): the body of ``single_body`` to ``single_path``, encoded as
    ``single_encoding`` ("json", or "form" for a form-encoded body), the answer read by ``read_single``
    (status and content first, so the usual answer costs no httpx.Response; ``response`` builds one
    for the rest; ``message`` is the one it answers). ``read_single`` raises the provider's
    ProviderError."""

    @property
    def name(self) -> str: ...

    @property
    def single_path(self) -> str: ...

    @property
    def single_encoding(self) -> str: ...

    def single_body(self, message: OutboundMessage) -> object: ...

    def read_single(
        self, status: int, content: bytes, response: Callable[[], httpx.Response], message: OutboundMessage
    ) -> SendResult: ...

    def loop_target(self) -> LoopTarget: ...


@dataclass(frozen=True)
class LoopTarget:
    """Where the event loop's own client sends a ``LoopSingles`` provider's singles: the base URL, the
    headers (credentials included) and the timeouts of the provider's own sync client."""

    base_url: str
    headers: dict[str, str]
    timeouts: Timeouts
