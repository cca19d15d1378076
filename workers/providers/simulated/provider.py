"""The simulated provider's registry entry (SMSQ_SIMULATED__*): every channel, a status call that is
always polled (it has no other way to report), no blacklist, no webhook, no cancel."""

from __future__ import annotations

from smsq.config.settings import Settings
from smsq.workers.providers.base import StatusProvider
from smsq.workers.providers.entry import ProviderEntry, Transport
from smsq.workers.providers.simulated.client import NAME, SimulatedClient, smsq_status


def client(settings: Settings, transport: Transport) -> SimulatedClient:
    return SimulatedClient(late_seconds=settings.simulated.late_seconds)  # no HTTP: no transport


PROVIDER = ProviderEntry(
    name=NAME,
    settings=lambda settings: settings.simulated,
    client=client,
    capabilities=frozenset({StatusProvider}),
    idempotent_send=True,
    statuses=smsq_status,
    always_polled=True,
)
