"""Every provider smsq can send through: one entry each, declared in its own folder
(``<provider>/provider.py``) and listed here once. This list is the only place outside a provider's
folder that names it (its settings group in ``smsq.config.settings`` aside); README "Adding a
provider" gives the steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from smsq.config.settings import Settings
from smsq.config.status_settings import PollingSettings
from smsq.workers.providers.base import BlacklistProvider, Provider
from smsq.workers.providers.direct_messenger.provider import PROVIDER as DIRECT_MESSENGER
from smsq.workers.providers.entry import ProviderEntry, Transport

__all__ = ["BY_NAME", "ENTRIES", "NAMES", "TEST_PROVIDER", "ProviderEntry"]
from smsq.workers.providers.errors import UnknownProvider
from smsq.workers.providers.messente.provider import PROVIDER as MESSENTE
from smsq.workers.providers.simulated.provider import PROVIDER as SIMULATED
from smsq.workers.providers.smsapi.provider import PROVIDER as SMSAPI

ENTRIES: Final[tuple[ProviderEntry, ...]] = (MESSENTE, SMSAPI, DIRECT_MESSENGER, SIMULATED)
BY_NAME: Final[Mapping[str, ProviderEntry]] = {entry.name: entry for entry in ENTRIES}
NAMES: Final[tuple[str, ...]] = tuple(BY_NAME)
# A message accepted by a test API key (record field `test` = "1") goes here and nowhere else,
# whatever SMSQ_ROUTING__* says.
TEST_PROVIDER: Final = SIMULATED.name


def entry(name: str) -> ProviderEntry:
    """The entry of provider ``name``; UnknownProvider (naming the known ones) when there is none."""
    found = BY_NAME.get(name)
    if found is None:
        raise UnknownProvider(name, NAMES)
    return found


def find(name: str) -> ProviderEntry | None:
    """The entry of ``name``, or None: for names read from records and requests, which may be stale."""
    return BY_NAME.get(name)


def enabled(settings: Settings) -> list[ProviderEntry]:
    return [one for one in ENTRIES if one.enabled(settings)]


def build_clients(settings: Settings, *, transport: Transport = None) -> dict[str, Provider]:
    """One send client per enabled provider, each with its own connection pool."""
    return {one.name: one.client(settings, transport) for one in enabled(settings)}


def build_blacklist_clients(
    settings: Settings, *, transport: Transport = None
) -> dict[str, BlacklistProvider]:
    """Blacklist clients of every enabled provider that keeps a blacklist. Whoever asks closes them."""
    clients: dict[str, BlacklistProvider] = {}
    try:
        for one in enabled(settings):
            if one.blacklist is not None:
                clients[one.name] = one.blacklist(settings, transport)
    except BaseException:
        close_all(clients.values())
        raise
    return clients


def close_all(clients: Iterable[BlacklistProvider | Provider]) -> None:
    for client in clients:
        client.close()


def polled(name: str, polling: PollingSettings) -> bool:
    """Whether messages sent through ``name`` get status polls (a poll needs a StatusProvider too)."""
    found = BY_NAME.get(name)
    return name in polling.providers or (found is not None and found.always_polled)
