"""Direct Messenger's delivery reports: the dlruri GET, built with DLR_QUERY."""

from __future__ import annotations

from collections.abc import Mapping

from smsq.config.contract import DeliveryReport
from smsq.producers.errors import InvalidInput
from smsq.workers.providers.direct_messenger.sms import NAME, parse_dlr
from smsq.workers.providers.entry import ReportReader, ReportRequest
from smsq.workers.webhooks.parsing import report, request_fields


def read(message_id: str, request: ReportRequest) -> list[DeliveryReport]:
    return direct_messenger_reports(message_id, request_fields(request))


def direct_messenger_reports(message_id: str, params: Mapping[str, str]) -> list[DeliveryReport]:
    """Direct Messenger's dlruri GET, built with direct_messenger.DLR_QUERY: id, dlr, receiver, time."""
    if not params.get("dlr"):
        raise InvalidInput([("dlr", "is required")])
    channel = parse_dlr(params)
    return [report(message_id, NAME, channel, provider_message_id=params.get("id"))]


READER = ReportReader(method="GET", read=read)
