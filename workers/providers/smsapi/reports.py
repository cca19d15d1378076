"""SMSAPI's delivery reports: the notify_url callback (query or form fields, GET or POST), which may
carry several reports, each parameter a comma-separated list in step."""

from __future__ import annotations

from collections.abc import Mapping

from smsq.config.contract import DeliveryReport
from smsq.producers.errors import InvalidInput
from smsq.workers.providers.entry import ReportReader, ReportRequest
from smsq.workers.providers.smsapi.codes import NAME
from smsq.workers.providers.smsapi.sms import parse_callback
from smsq.workers.webhooks.parsing import report, request_fields

SMSAPI_LIST_PARAMS = ("MsgId", "status", "status_name", "idx", "donedate", "to")
MAX_REPORTS_PER_CALLBACK = 1000


def read(message_id: str, request: ReportRequest) -> list[DeliveryReport]:
    return smsapi_reports(message_id, request_fields(request))


def smsapi_reports(message_id: str, params: Mapping[str, str]) -> list[DeliveryReport]:
    """SMSAPI's notify_url callback: MsgId, status (numeric) / status_name, idx, donedate, to, ..."""
    reports = []
    for one in split_smsapi_params(params):
        if not (one.get("status") or one.get("status_name")):
            raise InvalidInput([("status", "is required")])
        channel = parse_callback(one)
        reports.append(report(message_id, NAME, channel, provider_message_id=one.get("MsgId")))
    return reports


def split_smsapi_params(params: Mapping[str, str]) -> list[dict[str, str]]:
    counts = {name: len(params[name].split(",")) for name in SMSAPI_LIST_PARAMS if params.get(name)}
    size = max(counts.values(), default=1)
    if size > MAX_REPORTS_PER_CALLBACK:
        raise InvalidInput([("MsgId", f"more than {MAX_REPORTS_PER_CALLBACK} reports in one callback")])
    uneven = sorted(name for name, count in counts.items() if count not in (1, size))
    if uneven:
        raise InvalidInput([(uneven[0], f"has a different number of comma-separated values than {size}")])
    if size == 1:
        return [dict(params)]
    split = [dict(params) for _ in range(size)]
    for name in counts:
        values = params[name].split(",")
        for index, one in enumerate(split):
            one[name] = values[index] if len(values) == size else values[0]
    return split


READER = ReportReader(method=None, read=read)
