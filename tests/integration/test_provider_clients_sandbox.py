"""smsq's SMSAPI, Direct Messenger and Direct Messenger 2FA clients against the sandbox over loopback:
every call the clients offer, with the sandbox's real request and answer shapes (the Messente
clients have theirs in test_messente_sdk_sandbox.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import DirectMessengerSettings, SmsapiSettings
from smsq.producers.messages.models import parse_omnimessage
from smsq.workers.providers.base import BlacklistEntry, OutboundMessage
from smsq.workers.providers.direct_messenger.sms import DirectMessengerClient
from smsq.workers.providers.direct_messenger.two_factor import DirectMessenger2FAClient, VerifyOutcome
from smsq.workers.providers.smsapi.sms import SmsapiClient

pytestmark = pytest.mark.integration

TOKEN = SecretStr("sandbox-token")


@pytest.fixture
def smsapi(sandbox: httpx.Client, sandbox_url: str) -> Iterator[SmsapiClient]:
    settings = SmsapiSettings(base_url=f"{sandbox_url}/smsapi", token=TOKEN)
    client = SmsapiClient.from_settings(settings, native_schedule=True)
    yield client
    client.close()


@pytest.fixture
def dm(sandbox: httpx.Client, sandbox_url: str) -> Iterator[DirectMessengerClient]:
    client = DirectMessengerClient.from_settings(
        DirectMessengerSettings(base_url=f"{sandbox_url}/dm", api_token=TOKEN), native_schedule=True
    )
    yield client
    client.close()


@pytest.fixture
def twofa(sandbox: httpx.Client, sandbox_url: str) -> Iterator[DirectMessenger2FAClient]:
    settings = DirectMessengerSettings(two_factor_base_url=f"{sandbox_url}/dm2fa", api_token=TOKEN)
    client = DirectMessenger2FAClient.from_settings(settings)
    yield client
    client.close()


def outbound(to: str, callback_url: str | None = None, **fields: Any) -> OutboundMessage:
    data = {"to": to, "messages": [{"channel": "sms", "text": "hello", "sender": "Acme"}], **fields}
    return OutboundMessage(str(uuid.uuid4()), parse_omnimessage(data), callback_url)


def advance(sandbox: httpx.Client, seconds: float) -> None:
    sandbox.post("/_admin/clock", json={"advance": seconds}).raise_for_status()


# --- SMSAPI sms.do --------------------------------------------------------------------------------


def test_smsapi_send_then_status_moves_to_delivered(smsapi: SmsapiClient, sandbox: httpx.Client) -> None:
    result = smsapi.send(outbound("+48500600700"))
    assert (result.provider, result.duplicate) == ("smsapi", False)
    first = smsapi.status(result.provider_message_id)
    assert first.to == "+48500600700"  # digits on the wire, E.164 back
    assert [(c.provider_message_id, c.status) for c in first.channels] == [
        (result.provider_message_id, "QUEUE")
    ]
    advance(sandbox, 10)
    (final,) = smsapi.status(result.provider_message_id).channels
    assert final.status == "DELIVERED"


def test_smsapi_a_repeated_idx_is_a_duplicate_and_sends_nothing_new(
    smsapi: SmsapiClient, sandbox: httpx.Client
) -> None:
    message = outbound("+48500600700")
    first, again = smsapi.send(message), smsapi.send(message)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.provider_message_id == message.message_id
    assert len(sandbox.get("/_admin/messages", params={"provider": "smsapi"}).json()["smsapi"]) == 1
    # The smsq id standing in for the SMSAPI id reads as NOT_FOUND, never as an error.
    (gone,) = smsapi.status(again.provider_message_id).channels
    assert gone.status == "NOT_FOUND"


def test_smsapi_a_scheduled_send_can_be_cancelled_once(smsapi: SmsapiClient) -> None:
    due = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    result = smsapi.send(outbound("+48500600700", time_to_send=due))
    assert smsapi.cancel(result.provider_message_id) is True
    assert smsapi.cancel(result.provider_message_id) is False  # already cancelled
    assert smsapi.cancel("4242") is False  # unknown


# --- SMSAPI Blacklist API -------------------------------------------------------------------------


def test_smsapi_blacklist_round_trip(smsapi: SmsapiClient, sandbox: httpx.Client) -> None:
    numbers = [f"+3725100{i:04d}" for i in range(25)]
    for number in numbers:
        assert smsapi.blacklist_add(number) is True
    assert smsapi.blacklist_add(numbers[0]) is False  # already listed: an outcome
    smsapi.page_size = 10
    assert sorted(entry.phone for entry in smsapi.iter_blacklist()) == numbers  # three pages
    page = smsapi.list_blacklist(q="37251000002", limit=5)
    assert (page.size, [e.phone for e in page.entries]) == (1, ["+37251000002"])

    assert smsapi.blacklist_remove(BlacklistEntry("+37251000003")) is True  # found by number
    assert smsapi.delete_blacklist_entry(page.entries[0].provider_id or "") is True
    assert smsapi.delete_blacklist_entry("no-such-id") is False

    assert "37251000004" in smsapi.export_blacklist_csv(q="37251000004")
    chunk = smsapi.export_blacklist_csv(offset=0, limit=3).strip().splitlines()
    assert len(chunk) == 1 + 3  # header and three rows
    file_id = smsapi.start_blacklist_export()
    assert "37251000005" in sandbox.get(f"/_admin/smsapi/exports/{file_id}").text

    smsapi.import_blacklist_csv("phone_number\n48500600701\n")
    assert smsapi.list_blacklist(q="48500600701").size == 1
    with pytest.raises(ValueError, match="confirm=True"):
        smsapi.delete_all_blacklist()
    smsapi.delete_all_blacklist(confirm=True)
    assert smsapi.blacklist() == []


def test_smsapi_add_with_expiry_keeps_it(smsapi: SmsapiClient) -> None:
    entry = smsapi.add_blacklist_entry("+48500600700", expire_at="2099-01-01")
    assert entry is not None and (entry.phone, entry.expires_at) == ("+48500600700", "2099-01-01")


# --- Direct Messenger ------------------------------------------------------------------------------


def test_dm_send_with_a_callback_labels_reports_with_the_smsq_id(
    dm: DirectMessengerClient, sandbox: httpx.Client
) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    message = outbound("+37251234567", "https://smsq.example/dlr/dm", time_to_send=due.isoformat())
    result = dm.send(message)
    assert result.provider_message_id == message.message_id  # dlrid = smsq id, echoed as dlr_id
    (request,) = sandbox.get("/_admin/requests", params={"provider": "dm"}).json()["requests"]
    form = request["body"]
    assert (form["receiver"], form["dlrid"]) == ("37251234567", message.message_id)
    assert form["deliverytime"] == due.strftime("%Y-%m-%d %H:%M:%S")
    assert (
        form["dlruri"] == "https://smsq.example/dlr/dm?id=%smsid%&dlr=%dlr%&receiver=%receiver%&time=%time%"
    )
    (sent,) = sandbox.get("/_admin/messages", params={"provider": "dm"}).json()["dm"]
    assert sent["send_at"] == due.timestamp()


def test_dm_blacklist_round_trip(dm: DirectMessengerClient) -> None:
    assert dm.blacklist_add("+37251234567") is True
    assert dm.blacklist_add("+37251234567") is False  # "has already been taken": an outcome
    assert dm.blacklist_add("+37251234568") is True
    listed = dm.blacklist()
    assert [entry.phone for entry in listed] == ["+37251234567", "+37251234568"]  # back as E.164
    assert dm.blacklist_remove(listed[0]) is True  # by id
    assert dm.blacklist_remove(BlacklistEntry("+37251234568")) is True  # looked up by number
    assert dm.delete_blacklist_entry(listed[0].provider_id or "") is False  # gone
    assert dm.blacklist() == []


# --- Direct Messenger 2FA -------------------------------------------------------------------------


def test_dm_2fa_every_verify_outcome(twofa: DirectMessenger2FAClient, sandbox: httpx.Client) -> None:
    code = twofa.send_code("+37251234567", pin_length=8)
    other = twofa.send_code("+37251234568")
    assert (len(code.pin), len(other.pin)) == (8, 6)
    assert twofa.verify_code(code.pin, other.pin_id).outcome is VerifyOutcome.MISMATCH
    assert twofa.verify_code("ZZZZZZZZ", code.pin_id).outcome is VerifyOutcome.NOT_FOUND
    assert twofa.verify_code(code.pin, code.pin_id).authenticated
    assert twofa.verify_code(code.pin, code.pin_id).outcome is VerifyOutcome.ALREADY_AUTHENTICATED
    advance(sandbox, 301)  # PINs live 5 minutes
    assert twofa.verify_code(other.pin, other.pin_id).outcome is VerifyOutcome.EXPIRED
