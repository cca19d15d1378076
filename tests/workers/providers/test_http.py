"""The HTTP boundary every provider client goes through: explicit timeouts on every client, and
Retry-After read in each of its forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import DirectMessengerSettings, MessenteSettings, SmsapiSettings, Timeouts
from smsq.workers.providers import http
from smsq.workers.providers.direct_messenger.sms import DirectMessengerClient
from smsq.workers.providers.direct_messenger.two_factor import DirectMessenger2FAClient
from smsq.workers.providers.errors import RateLimited
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.providers.messente.phonebook import MessentePhonebookClient
from smsq.workers.providers.smsapi.sms import SmsapiClient

TIMEOUTS = Timeouts(connect=1.5, read=4.0, write=5.0, pool=2.0)
NOW = 1_800_000_000.0

CLIENTS: dict[str, Callable[[httpx.BaseTransport], Any]] = {
    "messente": lambda t: MessenteClient.from_settings(MessenteSettings(timeouts=TIMEOUTS), transport=t),
    "messente_phonebook": lambda t: MessentePhonebookClient.from_settings(MessenteSettings(timeouts=TIMEOUTS), transport=t),
    "smsapi": lambda t: SmsapiClient.from_settings(SmsapiSettings(token=SecretStr("t"), timeouts=TIMEOUTS), transport=t),
    "direct_messenger": lambda t: DirectMessengerClient.from_settings(
        DirectMessengerSettings(base_url="https://dm.test", timeouts=TIMEOUTS), transport=t),
    "direct_messenger_2fa": lambda t: DirectMessenger2FAClient.from_settings(
        DirectMessengerSettings(two_factor_base_url="https://dm.test/2fa", timeouts=TIMEOUTS), transport=t),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CLIENTS))
def test_every_client_has_explicit_connect_read_write_and_pool_timeouts(name: str) -> None:
    client = CLIENTS[name](httpx.MockTransport(lambda request: httpx.Response(500)))
    assert client.http.timeout == httpx.Timeout(connect=1.5, read=4.0, write=5.0, pool=2.0)
    client.close()


def test_a_settings_default_is_never_unbounded() -> None:
    defaults = Timeouts()
    assert all(value is not None and value > 0 for value in defaults.model_dump().values())


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),  # not in the RFC, but the sandbox and some gateways send it
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),  # past: now
        ("-1", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_forms(header: str | None, seconds: float | None) -> None:
    assert http.retry_after_seconds(header, now=lambda: NOW) == seconds


@pytest.mark.parametrize(("header", "seconds"), [({"Retry-After": "2.5"}, 2.5), ({}, None)])
def test_a_429_carries_its_retry_after(header: dict[str, str], seconds: float | None) -> None:
    client = http.make_client("https://p.test", TIMEOUTS, transport=httpx.MockTransport(
        lambda request: httpx.Response(429, headers=header)))  # fmt: skip
    with pytest.raises(RateLimited) as caught:
        http.request(client, "p", "POST", "send")
    assert (caught.value.retry_after, caught.value.code, caught.value.status_code) == (seconds, "429", 429)
