"""The sandbox over real loopback HTTP: running_sandbox, the official Messente SDK, timeouts, DLR pushes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import messente_api
import pytest

from smsq.sandbox import SandboxConfig
from smsq.sandbox.server import running_sandbox
from tests.sandbox.conftest import DM_TOKEN, MESSENTE_AUTH, SMSAPI_HEADERS
from tests.support.fakes import START, FakeClock


@pytest.fixture
def served(clock: FakeClock) -> Iterator[str]:
    with running_sandbox(SandboxConfig(clock=clock)) as base_url:
        yield base_url


def test_running_sandbox_serves_on_loopback_and_stops_on_exit() -> None:
    with running_sandbox() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx.post(
            f"{base_url}/v1/omnimessage",
            json={"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}]},
            auth=MESSENTE_AUTH,
        )
        assert response.status_code == 201

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/_admin/health", timeout=1)


def sdk_client(base_url: str) -> messente_api.ApiClient:
    configuration = messente_api.Configuration(host=f"{base_url}/v1", username="sandbox", password="sandbox")
    return messente_api.ApiClient(configuration)


def test_official_sdk_sends_reads_status_and_cancels(served: str, clock: FakeClock) -> None:
    api_client = sdk_client(served)
    omnimessages = messente_api.OmnimessageApi(api_client)
    sms = messente_api.OmnimessageMessagesInner(messente_api.SMS(text="hello", sender="smsq"))

    created = omnimessages.send_omnimessage(messente_api.Omnimessage(to="+37251234567", messages=[sms]))
    clock.advance(5)
    report = messente_api.DeliveryReportApi(api_client).retrieve_delivery_report(created.omnimessage_id)

    assert created.messages[0].sender == "smsq"
    assert report.statuses[0].status.value == "DELIVRD"

    later = datetime.fromtimestamp(START + 3600, tz=UTC)
    scheduled = omnimessages.send_omnimessage(
        messente_api.Omnimessage(to="+37251234567", messages=[sms], time_to_send=later)
    )
    omnimessages.cancel_scheduled_message(scheduled.omnimessage_id)
    with pytest.raises(messente_api.ApiException) as refused:
        omnimessages.cancel_scheduled_message(created.omnimessage_id)
    assert refused.value.status == 404


def test_official_sdk_bulk_send(served: str) -> None:
    api = messente_api.BulkMessagingApi(sdk_client(served))
    sms = messente_api.OmnimessageMessagesInner(messente_api.SMS(text="hi"))
    bulk = messente_api.BulkOmnimessage(
        messages=[messente_api.Omnimessage(to=to, messages=[sms]) for to in ("+37251234567", "+37251234568")]
    )

    result = api.send_bulk_omnimessage(bulk)

    assert [entry.actual_instance.to for entry in result.messages] == ["+37251234567", "+37251234568"]


def test_official_sdk_manages_blacklist_groups_and_contacts(served: str) -> None:
    api_client = sdk_client(served)
    blacklist = messente_api.BlacklistApi(api_client)
    groups = messente_api.GroupsApi(api_client)
    contacts = messente_api.ContactsApi(api_client)

    blacklist.add_to_blacklist(messente_api.NumberToBlacklist(phone_number="+37251000000"))
    blacklist.is_blacklisted("+37251000000")
    assert blacklist.fetch_blacklist().phone_numbers == ["+37251000000"]
    blacklist.delete_from_blacklist("+37251000000")
    with pytest.raises(messente_api.ApiException) as missing:
        blacklist.is_blacklisted("+37251000000")
    assert missing.value.status == 404

    group = groups.create_group(messente_api.GroupName(name="Customers")).group
    contacts.create_contact(messente_api.ContactFields(phone_number="+37251000001", first_name="Ann"))
    contacts.add_contact_to_group(group.id, "+37251000001")
    contacts.update_contact("+37251000001", messente_api.ContactUpdateFields(company="ACME"))

    assert groups.fetch_group(group.id).group.contacts_count == 1
    listed = contacts.fetch_contacts(group_ids=[group.id]).contacts
    assert [(c.phone_number, c.first_name, c.company) for c in listed] == [("+37251000001", "Ann", "ACME")]
    assert [g.name for g in contacts.fetch_contact_groups("+37251000001").groups] == ["Customers"]
    contacts.remove_contact_from_group(group.id, "+37251000001")
    groups.update_group(group.id, messente_api.GroupName(name="Former"))
    assert groups.fetch_groups().groups[0].contacts_count == 0
    contacts.delete_contact("+37251000001")
    groups.delete_group(group.id)


def test_bad_credentials_raise_401_in_the_sdk(served: str) -> None:
    configuration = messente_api.Configuration(host=f"{served}/v1", username="sandbox", password="wrong")
    api = messente_api.GroupsApi(messente_api.ApiClient(configuration))

    with pytest.raises(messente_api.ApiException) as refused:
        api.fetch_groups()

    assert refused.value.status == 401


def test_timeout_fault_outlasts_the_client_read_timeout(served: str) -> None:
    httpx.post(
        f"{served}/_admin/faults", json={"provider": "smsapi", "kind": "timeout", "timeout_seconds": 1.0}
    )

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{served}/smsapi/sms.do", headers=SMSAPI_HEADERS, timeout=0.2)


def test_shutdown_does_not_wait_for_a_held_request() -> None:
    started = time.monotonic()
    with running_sandbox() as base_url:
        httpx.post(f"{base_url}/_admin/faults", json={"provider": "dm", "kind": "timeout"})  # default 30 s
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base_url}/dm/", timeout=0.2)

    assert time.monotonic() - started < 5


def reports_received(base_url: str) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = httpx.get(f"{base_url}/_admin/dlr_sink/reports").json()["reports"]
    return reports


def send_one_of_each(base_url: str) -> None:
    sink = f"{base_url}/_admin/dlr_sink"
    httpx.post(
        f"{base_url}/v1/omnimessage",
        auth=MESSENTE_AUTH,
        json={"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}], "dlr_url": sink},
    ).raise_for_status()
    httpx.post(
        f"{base_url}/smsapi/sms.do",
        headers=SMSAPI_HEADERS,
        data={"to": "48500000000", "message": "hi", "format": "json", "idx": "k", "notify_url": sink},
    ).raise_for_status()
    dm = {"api_token": DM_TOKEN, "smstext": "hi", "receiver": "37255555555", "sender": "Bar", "dlrid": "d-1"}
    dm["dlruri"] = f"{sink}?id=%smsid%&dlr=%dlr%&receiver=%receiver%&time=%time%"
    httpx.post(f"{base_url}/dm/", data=dm).raise_for_status()


def test_delivery_reports_are_pushed_on_flush(served: str, clock: FakeClock) -> None:
    httpx.post(f"{served}/_admin/outcomes", json={"phone": "+48500000000", "outcome": "undeliverable"})
    send_one_of_each(served)
    clock.advance(10)

    flushed = httpx.post(f"{served}/_admin/delivery_reports/flush").json()
    assert flushed == {"sent": 6}
    assert httpx.post(f"{served}/_admin/delivery_reports/flush").json() == {"sent": 0}  # each change once

    reports = reports_received(served)
    messente = [r for r in reports if r["method"] == "POST"]
    assert [r["body"]["status"] for r in messente] == ["ACK", "DELIVRD"]
    assert messente[1]["body"]["to"] == "+37251234567"
    assert "x-messente-signature" in messente[1]["headers"]
    smsapi = [r["query"] for r in reports if "MsgId" in r["query"]]
    assert [(q["status"], q["status_name"], q["idx"]) for q in smsapi] == [
        ("403", "SENT", "k"),
        ("405", "UNDELIVERED", "k"),
    ]
    dm = [r["query"] for r in reports if "dlr" in r["query"]]
    assert [(q["id"], q["dlr"], q["receiver"]) for q in dm] == [
        ("d-1", "8", "37255555555"),
        ("d-1", "1", "37255555555"),
    ]


def test_background_loop_pushes_when_switched_on(clock: FakeClock) -> None:
    config = SandboxConfig(clock=clock, delivery_report_interval_seconds=0.02)
    with running_sandbox(config) as base_url:
        send_one_of_each(base_url)
        clock.advance(10)
        time.sleep(0.1)
        assert reports_received(base_url) == []  # off by default

        httpx.post(f"{base_url}/_admin/delivery_reports", json={"enabled": True}).raise_for_status()
        deadline = time.monotonic() + 5
        while len(reports_received(base_url)) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)

        assert len(reports_received(base_url)) == 6
        log = httpx.get(f"{base_url}/_admin/delivery_reports").json()
        assert log["enabled"] is True
        assert {entry["status"] for entry in log["reports"]} == {204}
