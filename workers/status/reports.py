"""Delivery reports pushed by providers, after the webhook receiver checked and normalised them: one
report = one channel's status for one smsq message. Applied through the same settle path as polls."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from smsq.config.contract import DeliveryReport
from smsq.config.status_settings import PollingSettings
from smsq.producers.core.store import MessageStore, to_ms
from smsq.telemetry.hooks import OFF, Telemetry
from smsq.workers.providers import registry
from smsq.workers.providers.base import ChannelStatus
from smsq.workers.status.schedule import PollSchedule
from smsq.workers.status.settle import Settler

log = logging.getLogger(__name__)

# A report for a message whose send is not recorded yet (the provider was faster than our own
# bookkeeping): the channel result is kept and the message looked at again shortly.
NOT_YET_SENT = frozenset({"queued", "sending"})


def channel_status(report: DeliveryReport) -> ChannelStatus:
    return ChannelStatus(
        channel=report.channel,
        provider_message_id=report.part_id or report.provider_message_id,
        status=report.status,
        err=report.err,
        error=report.error,
        timestamp=report.timestamp,
    )


@dataclass(frozen=True)
class ReportOutcome:
    result: str  # applied | settled | unknown-message | mismatch | recheck
    status: str | None = None


def apply_report(
    report: DeliveryReport, store: MessageStore, polling: PollingSettings, telemetry: Telemetry = OFF
) -> ReportOutcome:
    message_id = str(report.message_id)
    # Messente reports name their omnimessage: one from another omnimessage (a resend of the same
    # smsq message that we did not record) must not settle this one.
    entry = registry.find(report.provider)
    names_send = entry is not None and entry.reports is not None and entry.reports.names_send
    expected = report.provider_message_id if names_send else None
    settled = Settler(store, telemetry).settle(
        message_id,
        report.provider,
        [channel_status(report)],
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
