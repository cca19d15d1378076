"""The simulated provider: sends nothing, and answers status calls with the outcome its reserved
numbers stand for, so a test API key (and anyone trying smsq out) sees every ending a real message
can have, through the same status polls and settle path as a real provider.

The outcome is fixed at send time from the last four digits of the number and carried in the
provider message id (``sim.<outcome>.<sent ms>.<channels>.<smsq id>``), so any worker process can
answer a status call for it without shared state:

    ...0001  failed          the delivery report says FAILED
    ...0002  undeliverable   UNDELIVERABLE
    ...0003  unknown         UNKNOWN: the provider cannot tell (the message ends `unknown`)
    ...0004  delivered late  PENDING until SMSQ_SIMULATED__LATE_SECONDS after the send, then DELIVERED
    any other number: delivered (DELIVERED at the first status poll)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from smsq.workers.providers.base import ChannelStatus, DeliveryStatus, OutboundMessage, SendResult, SentPart
from smsq.workers.providers.errors import UnknownToProvider

NAME: Final = "simulated"
ID_PREFIX: Final = "sim"
DELIVERED, FAILED, UNDELIVERABLE, UNKNOWN, LATE = "delivered", "failed", "undeliverable", "unknown", "late"
# The last four digits of a number -> its outcome; every other number is delivered.
RESERVED: Final[dict[str, str]] = {"0001": FAILED, "0002": UNDELIVERABLE, "0003": UNKNOWN, "0004": LATE}
# The delivery status each outcome reports, as a provider spells it (PENDING: still in progress).
REPORTS: Final[dict[str, str]] = {
    DELIVERED: "DELIVERED",
    FAILED: "FAILED",
    UNDELIVERABLE: "UNDELIVERABLE",
    UNKNOWN: "UNKNOWN",
}
PENDING: Final = "PENDING"
# Its status table: raw status -> smsq status (None: in progress).
STATUSES: Final[dict[str, str | None]] = {
    "DELIVERED": "delivered",
    "FAILED": "failed",
    "UNDELIVERABLE": "undeliverable",
    "UNKNOWN": "unknown",
    PENDING: None,
}


def outcome_of(number: str) -> str:
    return RESERVED.get(number[-4:], DELIVERED)


def smsq_status(status: str) -> str | None:
    return STATUSES.get(status.upper())


class SimulatedClient:
    name: Final = NAME
    channels: Final = frozenset({"sms", "viber", "whatsapp", "telegram"})
    idempotent_send: Final = True  # nothing goes out, so sending again can never duplicate anything

    def __init__(self, *, late_seconds: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.late_ms = int(late_seconds * 1000)
        self.clock = clock

    def send(self, message: OutboundMessage) -> SendResult:
        chain = message.omnimessage.channels
        outcome = outcome_of(message.omnimessage.to)
        sent_ms = int(self.clock() * 1000)
        provider_id = f"{ID_PREFIX}.{outcome}.{sent_ms}.{'+'.join(chain)}.{message.message_id}"
        parts = tuple(
            SentPart(channel=channel, provider_message_id=f"{provider_id}:{channel}") for channel in chain
        )
        return SendResult(provider=NAME, provider_message_id=provider_id, parts=parts)

    def status(self, provider_message_id: str) -> DeliveryStatus:
        try:
            prefix, outcome, sent, chain, _ = provider_message_id.split(".", 4)
            sent_ms = int(sent)
        except ValueError:
            prefix, outcome, sent_ms, chain = "", "", 0, ""
        if prefix != ID_PREFIX or (outcome not in REPORTS and outcome != LATE) or not chain:
            raise UnknownToProvider(NAME, f"not a simulated message id: {provider_message_id[:100]}")
        channels = chain.split("+")
        if outcome == LATE:
            due = self.clock() * 1000 >= sent_ms + self.late_ms
            raw = REPORTS[DELIVERED] if due else PENDING
            reported = [channels[0]]
        elif outcome == DELIVERED:
            raw, reported = REPORTS[DELIVERED], [channels[0]]
        else:
            # A failure is every channel of the chain failing in turn; the last one decides.
            raw, reported = REPORTS[outcome], channels
        return DeliveryStatus(
            provider_message_id=provider_message_id,
            to="",  # not kept: the poller reads the channels only
            channels=tuple(
                ChannelStatus(
                    channel=channel, provider_message_id=f"{provider_message_id}:{channel}", status=raw
                )
                for channel in reported
            ),
        )

    def close(self) -> None:
        """Nothing to close: no connections."""
