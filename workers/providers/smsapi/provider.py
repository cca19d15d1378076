"""SMSAPI's registry entry: sms.do for sending, status and cancel; its Blacklist API (SMSQ_SMSAPI__*)."""

from __future__ import annotations

from smsq.config.settings import Settings
from smsq.workers.providers.base import CancelProvider, LoopSingles, StatusProvider
from smsq.workers.providers.entry import ProviderEntry, Transport
from smsq.workers.providers.smsapi.codes import NAME, smsq_status
from smsq.workers.providers.smsapi.reports import READER
from smsq.workers.providers.smsapi.sms import SmsapiClient


def client(settings: Settings, transport: Transport) -> SmsapiClient:
    smsapi = settings.smsapi
    return SmsapiClient.from_settings(
        smsapi,
        transport=transport,
        sender=smsapi.sender,
        fast_for_high=smsapi.fast_for_high,
        native_schedule=settings.schedule.at_provider,
    )


def blacklist(settings: Settings, transport: Transport) -> SmsapiClient:
    # Its own client: a sync run holds many calls in flight and must not crowd the send path's pool.
    lister = SmsapiClient.from_settings(settings.smsapi, transport=transport)
    lister.page_size = settings.blacklist.smsapi_page_size
    return lister


def statuses(status: str) -> str | None:
    return smsq_status(status)


PROVIDER = ProviderEntry(
    name=NAME,
    settings=lambda settings: settings.smsapi,
    client=client,
    capabilities=frozenset({StatusProvider, CancelProvider, LoopSingles}),
    idempotent_send=True,
    statuses=statuses,
    blacklist=blacklist,
    reports=READER,
)
