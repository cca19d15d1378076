"""Direct Messenger's registry entry: its send form and blacklist; no status call (it only pushes
delivery reports to dlruri) and no cancel (SMSQ_DIRECT_MESSENGER__*)."""

from __future__ import annotations

from smsq.config.settings import Settings
from smsq.workers.providers.base import LoopSingles
from smsq.workers.providers.direct_messenger.reports import READER
from smsq.workers.providers.direct_messenger.sms import NAME, DirectMessengerClient, smsq_status
from smsq.workers.providers.entry import ProviderEntry, Transport


def client(settings: Settings, transport: Transport) -> DirectMessengerClient:
    dm = settings.direct_messenger
    return DirectMessengerClient.from_settings(
        dm,
        transport=transport,
        sender=dm.sender,
        conversion=dm.conversion,
        native_schedule=settings.schedule.at_provider,
        delivery_timezone=dm.delivery_timezone,
    )


def blacklist(settings: Settings, transport: Transport) -> DirectMessengerClient:
    return DirectMessengerClient.from_settings(settings.direct_messenger, transport=transport)


def statuses(status: str) -> str | None:
    return smsq_status(status)


PROVIDER = ProviderEntry(
    name=NAME,
    settings=lambda settings: settings.direct_messenger,
    client=client,
    capabilities=frozenset({LoopSingles}),
    idempotent_send=False,
    statuses=statuses,
    blacklist=blacklist,
    reports=READER,
)
