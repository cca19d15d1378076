"""The provider registry: every provider of the settings is registered once, each entry's declared
capabilities are what its client really implements (checked with the Protocols), the builders build
only what is enabled, and an unknown name is one clear error."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from smsq.config.settings import POLLABLE, PROVIDER_NAMES, Settings
from smsq.producers.errors import SmsqError
from smsq.workers.providers import registry
from smsq.workers.providers.base import (
    BlacklistProvider,
    BulkProvider,
    CancelProvider,
    ExpiringBlacklistProvider,
    LoopSingles,
    Provider,
    StatusProvider,
)
from smsq.workers.providers.errors import UnknownProvider

CAPABILITIES = (StatusProvider, CancelProvider, BulkProvider, LoopSingles)
WORKERS = Path(__file__).resolve().parents[3] / "workers"


def nowhere(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no call expected, got {request.method} {request.url}")


@pytest.fixture
def every_provider() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        messente={"enabled": True},
        smsapi={"enabled": True},
        direct_messenger={"enabled": True, "base_url": "https://dm.test/api"},
    )


def test_every_provider_the_settings_name_is_registered_once() -> None:
    assert sorted(registry.NAMES) == sorted(PROVIDER_NAMES)
    assert len(registry.NAMES) == len(registry.ENTRIES)


@pytest.mark.parametrize("entry", registry.ENTRIES, ids=lambda entry: entry.name)
def test_declared_capabilities_are_what_the_client_implements(
    entry: registry.ProviderEntry, every_provider: Settings
) -> None:
    client = entry.client(every_provider, httpx.MockTransport(nowhere))
    try:
        assert isinstance(client, Provider) and client.name == entry.name
        assert client.idempotent_send is entry.idempotent_send
        implemented = {capability for capability in CAPABILITIES if isinstance(client, capability)}
        assert implemented == set(entry.capabilities)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("messente", ("Authorization", "Basic dTpw")),  # base64 of "u:p"
        ("smsapi", ("Authorization", "Bearer tok")),
        ("direct_messenger", ("Accept", "application/json")),  # its token travels in the body
    ],
)
def test_the_event_loop_sends_with_the_providers_own_url_credentials_and_timeouts(
    name: str, credential: tuple[str, str]
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        messente={"enabled": True, "username": "u", "password": "p", "timeouts": {"read": 7.5}},
        smsapi={"enabled": True, "token": "tok", "timeouts": {"read": 7.5}},
        direct_messenger={"enabled": True, "base_url": "https://dm.test/api", "timeouts": {"read": 7.5}},
    )
    entry = registry.BY_NAME[name]
    client = entry.client(settings, httpx.MockTransport(nowhere))
    try:
        assert isinstance(client, LoopSingles)
        target = client.loop_target()
        assert target.base_url.rstrip("/") == str(entry.settings(settings).base_url).rstrip("/")  # type: ignore[attr-defined]
        assert target.headers[credential[0]] == credential[1]
        assert target.timeouts.read == 7.5
    finally:
        client.close()


def test_the_capabilities_as_declared() -> None:
    declared = {entry.name: {c.__name__ for c in entry.capabilities} for entry in registry.ENTRIES}
    assert declared["messente"] == {"StatusProvider", "CancelProvider", "BulkProvider", "LoopSingles"}
    assert declared["smsapi"] == {"StatusProvider", "CancelProvider", "LoopSingles"}
    assert declared["direct_messenger"] == {"LoopSingles"}
    assert declared["simulated"] == {"StatusProvider"}


def test_the_providers_that_keep_a_blacklist_webhooks_and_polls() -> None:
    assert [e.name for e in registry.ENTRIES if e.blacklist] == ["messente", "smsapi", "direct_messenger"]
    assert [e.name for e in registry.ENTRIES if e.reports] == ["messente", "smsapi", "direct_messenger"]
    assert [e.name for e in registry.ENTRIES if e.always_polled] == ["simulated"]
    assert registry.TEST_PROVIDER == "simulated"


def test_the_pollable_names_of_the_settings_are_the_status_providers_not_always_polled() -> None:
    # The settings check SMSQ_POLLING__PROVIDERS at load time, before any worker code is imported.
    status = [e.name for e in registry.ENTRIES if StatusProvider in e.capabilities and not e.always_polled]
    assert list(POLLABLE) == status


@pytest.mark.parametrize(
    "entry", [e for e in registry.ENTRIES if e.blacklist is not None], ids=lambda entry: entry.name
)
def test_each_blacklist_client_is_a_blacklist_provider(
    entry: registry.ProviderEntry, every_provider: Settings
) -> None:
    assert entry.blacklist is not None
    client = entry.blacklist(every_provider, httpx.MockTransport(nowhere))
    try:
        assert isinstance(client, BlacklistProvider) and client.name == entry.name
        # Only SMSAPI keeps an expiry itself; the sync removes expired numbers elsewhere.
        assert isinstance(client, ExpiringBlacklistProvider) is (entry.name == "smsapi")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("name", "raw", "status"),
    [
        ("messente", "DELIVRD", "delivered"),
        ("messente", "ACK", None),
        ("smsapi", "UNDELIVERED", "undeliverable"),
        ("direct_messenger", "16", "failed"),
        ("simulated", "UNDELIVERABLE", "undeliverable"),
        ("simulated", "PENDING", None),
    ],
)
def test_each_entry_reads_its_own_status_table(name: str, raw: str, status: str | None) -> None:
    assert registry.entry(name).statuses(raw) == status


def test_only_enabled_providers_are_built(every_provider: Settings) -> None:
    only_smsapi = every_provider.model_copy(
        update={
            "messente": every_provider.messente.model_copy(update={"enabled": False}),
            "direct_messenger": every_provider.direct_messenger.model_copy(update={"enabled": False}),
            "simulated": every_provider.simulated.model_copy(update={"enabled": False}),
        }
    )
    clients = registry.build_clients(only_smsapi, transport=httpx.MockTransport(nowhere))
    blacklists = registry.build_blacklist_clients(only_smsapi, transport=httpx.MockTransport(nowhere))
    try:
        assert list(clients) == ["smsapi"] and list(blacklists) == ["smsapi"]
        assert clients["smsapi"] is not blacklists["smsapi"]  # its own pool for the sync
    finally:
        registry.close_all([*clients.values(), *blacklists.values()])


def test_an_unknown_provider_is_one_clear_error() -> None:
    with pytest.raises(UnknownProvider) as caught:
        registry.entry("twilio")
    assert isinstance(caught.value, SmsqError) and isinstance(caught.value, LookupError)
    assert str(caught.value) == (
        "no provider named 'twilio' is registered (known: " + ", ".join(registry.NAMES) + ")"
    )
    assert registry.find("twilio") is None


def provider_literals(path: Path) -> list[str]:
    """String constants in a module that are exactly a provider's name."""
    tree = ast.parse(path.read_text())
    return [
        f"{path.relative_to(WORKERS)}:{node.lineno} {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in registry.NAMES
    ]


def test_no_worker_module_outside_the_providers_folder_names_a_provider() -> None:
    # The registry is the one list: context, blacklist sync, send, poll, cancel and status mapping
    # read entries and capabilities instead of branching on names.
    outside = [p for p in sorted(WORKERS.rglob("*.py")) if "providers" not in p.relative_to(WORKERS).parts]
    assert len(outside) > 30  # the walk saw the package
    named = [hit for path in outside for hit in provider_literals(path)]
    assert named == []
