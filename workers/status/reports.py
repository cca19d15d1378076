"""Delivery reports pushed by providers, after the webhook receiver checked and normalised them: one
report = one channel's status for one smsq message. Applied through the same settle path as polls."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsq.config.status_settings import PollingSettings
from smsq.producers.core.store import MessageStore, to_ms
from smsq.workers.providers.base import ChannelStatus
from smsq.workers.status.schedule import PollSchedule
from smsq.workers.status.settle import Settler

log = logging.getLogger(__name__)

ReportProvider = Literal["messente", "smsapi", "direct_messenger"]
Channel = Literal["sms", "viber", "whatsapp", "telegram", "rcs"]
# A report for a message whose send is not recorded yet (the provider was faster than our own
# bookkeeping): the channel result is kept and the message looked at again shortly.
NOT_YET_SENT = frozenset({"queued", "sending"})


class DeliveryReport(BaseModel):
    """The payload of the delivery-report task. Task payloads are untrusted input: validated here."""

    model_config = ConfigDict(extra="forbid")

    message_id: uuid.UUID
    provider: ReportProvider
    channel: Channel = "sms"
    status: str | None = Field(None, max_length=40)  # the provider's word (DELIVRD, 404, 1...)
    # Messente omnimessage_id / SMSAPI MsgId / Direct Messenger %smsid%.
    provider_message_id: str | None = Field(None, max_length=200)
    part_id: str | None = Field(None, max_length=200)  # Messente: the channel's message_id
    err: int | None = None
    error: str | None = Field(None, max_length=500)
    timestamp: str | None = Field(None, max_length=64)

    def channel_status(self) -> ChannelStatus:
        return ChannelStatus(
            channel=self.channel,
            provider_message_id=self.part_id or self.provider_message_id,
            status=self.status,
            err=self.err,
            error=self.error,
            timestamp=self.timestamp,
        )


@dataclass(frozen=True)
class ReportOutcome:
    result: str  # applied | settled | unknown-message | mismatch | recheck
    status: str | None = None


def apply_report(report: DeliveryReport, store: MessageStore, polling: PollingSettings) -> ReportOutcome:
    message_id = str(report.message_id)
    # Messente reports name their omnimessage: one from another omnimessage (a resend of the same
    # smsq message that we did not record) must not settle this one.
    expected = report.provider_message_id if report.provider == "messente" else None
    settled = Settler(store).settle(
        message_id,
        report.provider,
        [report.channel_status()],
        via="report",
        expect_provider_message_id=expected,
    )
    if not settled.found:
        log.warning("delivery report from %s for unknown message %s dropped", report.provider, message_id)
        return ReportOutcome("unknown-message")
    if settled.mismatch:
        log.warning("delivery report for message %s dropped: %s", message_id, settled.mismatch)
        return ReportOutcome("mismatch", settled.status)
    if settled.status in NOT_YET_SENT:
        PollSchedule(store, polling).recheck(message_id, store.now_ms() + to_ms(polling.report_recheck))
        return ReportOutcome("recheck", settled.status)
    return ReportOutcome("settled" if settled.moved_to else "applied", settled.status)
