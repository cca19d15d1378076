"""Messente's registry entry: Omnichannel for sending, status and cancel; the Phonebook for the
blacklist (SMSQ_MESSENTE__*)."""

from __future__ import annotations

from smsq.config.settings import Settings
from smsq.workers.providers.base import BulkProvider, CancelProvider, LoopSingles, StatusProvider
from smsq.workers.providers.entry import ProviderEntry, Transport
from smsq.workers.providers.messente.omnichannel import NAME, MessenteClient, smsq_status
from smsq.workers.providers.messente.phonebook import MessentePhonebookClient
from smsq.workers.providers.messente.reports import READER


def client(settings: Settings, transport: Transport) -> MessenteClient:
    return MessenteClient.from_settings(
        settings.messente, transport=transport, native_schedule=settings.schedule.at_provider
    )


def blacklist(settings: Settings, transport: Transport) -> MessentePhonebookClient:
    return MessentePhonebookClient.from_settings(settings.messente, transport=transport)


PROVIDER = ProviderEntry(
    name=NAME,
    settings=lambda settings: settings.messente,
    client=client,
    capabilities=frozenset({StatusProvider, CancelProvider, BulkProvider, LoopSingles}),
    idempotent_send=False,
    statuses=smsq_status,
    blacklist=blacklist,
    reports=READER,
)
