"""The official Messente SDK and our own Messente clients, both against the sandbox over loopback.

If the SDK can send, follow status, cancel, and manage the blacklist, groups and contacts through the
sandbox, the sandbox answers like Messente as far as the SDK can tell; our clients doing the same round
trips against the same server closes the triangle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import messente_api as sdk
import pytest
from messente_api.exceptions import ApiException
from pydantic import SecretStr

from smsq.config.settings import MessenteSettings, Timeouts
from smsq.producers.messages.models import Omnimessage, Sms
from smsq.sandbox.config import SandboxConfig
from smsq.sandbox.server import running_sandbox
from smsq.workers.providers.base import BlacklistEntry, OutboundMessage, SendResult
from smsq.workers.providers.errors import PermanentError, RateLimited, TransientError
from smsq.workers.providers.messente import omnichannel as messente
from smsq.workers.providers.messente import phonebook
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.providers.messente.phonebook import Contact, MessentePhonebookClient
from tests.support.fakes import START, FakeClock

pytestmark = pytest.mark.integration

USERNAME = PASSWORD = "sandbox"
TO = "+37251000000"
OTHER = "+37251000001"


CLOCK = FakeClock()  # the sandbox's clock; tests move it by hand


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    config = SandboxConfig(clock=CLOCK, ack_after_seconds=1.0, final_after_seconds=3.0)
    with running_sandbox(config) as url:
        yield url


@pytest.fixture(autouse=True)
def fresh_sandbox(base_url: str) -> None:
    httpx.post(f"{base_url}/_admin/reset").raise_for_status()
    httpx.delete(f"{base_url}/_admin/faults").raise_for_status()
    CLOCK.now = START


def admin(base_url: str, path: str, body: dict[str, Any]) -> None:
    httpx.post(f"{base_url}/_admin/{path}", json=body).raise_for_status()


# The official SDK


@pytest.fixture
def api(base_url: str) -> sdk.ApiClient:
    configuration = sdk.Configuration(host=base_url + "/v1", username=USERNAME, password=PASSWORD)
    return sdk.ApiClient(configuration)


def sdk_sms(to: str, text: str = "hello", **fields: Any) -> sdk.Omnimessage:
    return sdk.Omnimessage(
        to=to, messages=[sdk.OmnimessageMessagesInner(sdk.SMS(text=text, sender="smsq"))], **fields
    )


def test_sdk_sends_and_follows_delivery_status(api: sdk.ApiClient, base_url: str) -> None:
    admin(base_url, "outcomes", {"phone": OTHER, "outcome": "undeliverable"})
    sent = sdk.OmnimessageApi(api).send_omnimessage(sdk_sms(TO))
    failing = sdk.OmnimessageApi(api).send_omnimessage(sdk_sms(OTHER))
    assert (sent.to, sent.messages[0].channel) == (TO, "sms")

    reports = sdk.DeliveryReportApi(api)
    CLOCK.advance(10)
    delivered = reports.retrieve_delivery_report(sent.omnimessage_id)
    undelivered = reports.retrieve_delivery_report(failing.omnimessage_id)
    assert (delivered.omnimessage_id, delivered.statuses[0].status) == (
        sent.omnimessage_id,
        sdk.Status.DELIVRD,
    )
    assert (undelivered.statuses[0].status, undelivered.statuses[0].err) == (sdk.Status.UNDELIV, 1)


def test_sdk_viber_and_whatsapp_chain(api: sdk.ApiClient) -> None:
    viber = sdk.Viber(
        text="hi", image_url="https://cdn.example.com/a.png", button_url="https://e.com/", button_text="Go"
    )
    whatsapp = sdk.WhatsApp(
        template=sdk.WhatsAppTemplate(
            name="order_update",
            language=sdk.WhatsAppLanguage(code="en"),
            components=[sdk.WhatsAppComponent(type="body")],
        )
    )
    message = sdk.Omnimessage(
        to=TO,
        messages=[sdk.OmnimessageMessagesInner(viber), sdk.OmnimessageMessagesInner(whatsapp)],
        text_store=sdk.TextStore.NOSTORE,
        priority=sdk.Priority.HIGH,
    )
    sent = sdk.OmnimessageApi(api).send_omnimessage(message)
    assert [part.channel for part in sent.messages] == ["viber", "whatsapp"]


def test_sdk_bulk_send_with_a_refused_entry(api: sdk.ApiClient) -> None:
    bulk = sdk.BulkOmnimessage(messages=[sdk_sms(TO), sdk_sms("not-a-number"), sdk_sms(OTHER)])
    entries = sdk.BulkMessagingApi(api).send_bulk_omnimessage(bulk).messages
    kinds = [type(entry.actual_instance) for entry in entries]
    assert kinds == [
        sdk.OmniMessageCreateSuccessResponse,
        sdk.ErrorOmnichannel,
        sdk.OmniMessageCreateSuccessResponse,
    ]
    assert entries[1].actual_instance.errors[0].code == sdk.ErrorCodeOmnichannel.ENUM_105


def test_sdk_cancels_a_scheduled_message(api: sdk.ApiClient) -> None:
    scheduled = sdk.OmnimessageApi(api).send_omnimessage(sdk_sms(TO, time_to_send=CLOCK.iso(later=3600)))
    omnimessages = sdk.OmnimessageApi(api)
    omnimessages.cancel_scheduled_message(scheduled.omnimessage_id)
    with pytest.raises(ApiException) as again:
        omnimessages.cancel_scheduled_message(scheduled.omnimessage_id)
    assert again.value.status == 404


def test_sdk_cannot_cancel_a_sent_message_nor_see_an_unknown_one(api: sdk.ApiClient) -> None:
    sent = sdk.OmnimessageApi(api).send_omnimessage(sdk_sms(TO))
    with pytest.raises(ApiException) as cancel:
        sdk.OmnimessageApi(api).cancel_scheduled_message(sent.omnimessage_id)
    with pytest.raises(ApiException) as status:
        sdk.DeliveryReportApi(api).retrieve_delivery_report("00000000-0000-4000-8000-000000000000")
    assert (cancel.value.status, status.value.status) == (404, 404)


def test_sdk_manages_the_blacklist(api: sdk.ApiClient) -> None:
    blacklist = sdk.BlacklistApi(api)
    blacklist.add_to_blacklist(sdk.NumberToBlacklist(phone_number=TO))
    with pytest.raises(ApiException) as duplicate:
        blacklist.add_to_blacklist(sdk.NumberToBlacklist(phone_number=TO))
    assert duplicate.value.status == 409
    assert blacklist.fetch_blacklist().phone_numbers == [TO]
    blacklist.is_blacklisted(TO)  # 204: no exception
    blacklist.delete_from_blacklist(TO)
    with pytest.raises(ApiException) as gone:
        blacklist.is_blacklisted(TO)
    assert gone.value.status == 404


def test_sdk_manages_groups_and_contacts(api: sdk.ApiClient) -> None:
    groups, contacts = sdk.GroupsApi(api), sdk.ContactsApi(api)
    group = groups.create_group(sdk.GroupName(name="Customers")).group
    assert groups.update_group(group.id, sdk.GroupName(name="Best customers")).group.name == "Best customers"
    assert [g.id for g in groups.fetch_groups().groups] == [group.id]

    created = contacts.create_contact(
        sdk.ContactFields(phone_number=TO, first_name="Ada", custom="vip")
    ).contact
    assert (created.phone_number, created.first_name) == (TO, "Ada")
    contacts.add_contact_to_group(group.id, TO)
    assert groups.fetch_group(group.id).group.contacts_count == 1
    assert [c.phone_number for c in contacts.fetch_contacts(group_ids=[group.id]).contacts] == [TO]
    assert [g.id for g in contacts.fetch_contact_groups(TO).groups] == [group.id]
    updated = contacts.update_contact(TO, sdk.ContactUpdateFields(last_name="Lovelace")).contact
    assert (updated.first_name, updated.last_name) == ("Ada", "Lovelace")
    assert contacts.fetch_contact(TO).contact.last_name == "Lovelace"

    contacts.remove_contact_from_group(group.id, TO)
    contacts.delete_contact(TO)
    groups.delete_group(group.id)
    with pytest.raises(ApiException) as gone:
        groups.fetch_group(group.id)
    assert gone.value.status == 404


def test_sdk_with_wrong_credentials_is_refused(base_url: str) -> None:
    wrong = sdk.ApiClient(sdk.Configuration(host=base_url + "/v1", username=USERNAME, password="wrong"))
    with pytest.raises(ApiException) as omnichannel:
        sdk.OmnimessageApi(wrong).send_omnimessage(sdk_sms(TO))
    with pytest.raises(ApiException) as phonebook_refusal:
        sdk.BlacklistApi(wrong).fetch_blacklist()
    assert (omnichannel.value.status, phonebook_refusal.value.status) == (401, 401)


# Our clients


def settings(base_url: str, password: str = PASSWORD) -> MessenteSettings:
    return MessenteSettings(
        base_url=base_url + "/v1",
        username=SecretStr(USERNAME),
        password=SecretStr(password),
        timeouts=Timeouts(connect=1.0, read=0.5, write=1.0, pool=1.0),
    )


@pytest.fixture
def ours(base_url: str) -> Iterator[MessenteClient]:
    client = MessenteClient.from_settings(settings(base_url), native_schedule=True)
    yield client
    client.close()


@pytest.fixture
def our_phonebook(base_url: str) -> Iterator[MessentePhonebookClient]:
    client = MessentePhonebookClient.from_settings(settings(base_url))
    yield client
    client.close()


def outbound(to: str = TO, **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        "m-1",
        Omnimessage.model_validate({"to": to, "messages": [{"channel": "sms", "text": "hi"}], **fields}),
    )


def test_ours_sends_and_follows_delivery_status(ours: MessenteClient, base_url: str) -> None:
    admin(base_url, "outcomes", {"phone": OTHER, "outcome": "expired"})
    sent = ours.send(outbound(TO))
    expiring = ours.send(outbound(OTHER))
    assert ours.status(sent.provider_message_id).channels[0].status is None

    CLOCK.advance(1.5)
    assert ours.status(sent.provider_message_id).channels[0].status == "ACK"
    CLOCK.advance(10)
    delivered = ours.status(sent.provider_message_id)
    (expired,) = ours.status(expiring.provider_message_id).channels
    assert (delivered.to, delivered.channels[0].status) == (TO, "DELIVRD")
    assert (expired.status, expired.err) == ("EXPIRED", 2)
    assert messente.is_final(expired.status)


def test_ours_bulk_send_maps_each_entry(ours: MessenteClient) -> None:
    refused = Omnimessage.model_construct(
        to="not-a-number", messages=[Sms(text="hi")], text_store="plaintext", priority="regular"
    )
    batch = [outbound(TO), OutboundMessage("m-2", refused), outbound(OTHER)]
    first, second, third = ours.send_many(batch)
    assert isinstance(first, SendResult) and isinstance(third, SendResult)
    assert isinstance(second, PermanentError) and second.code == "105"
    assert ours.status(third.provider_message_id).to == OTHER


def test_ours_cancels_a_scheduled_message(ours: MessenteClient) -> None:
    scheduled = ours.send(outbound(TO, time_to_send=CLOCK.iso(later=3600)))
    assert ours.cancel(scheduled.provider_message_id) is True
    assert ours.cancel(scheduled.provider_message_id) is False
    assert ours.status(scheduled.provider_message_id).channels[0].status == "DELETED"


def test_ours_cannot_cancel_a_sent_message_and_reports_unknown_ones(ours: MessenteClient) -> None:
    sent = ours.send(outbound(TO))
    assert ours.cancel(sent.provider_message_id) is False
    with pytest.raises(PermanentError) as unknown:
        ours.status("00000000-0000-4000-8000-000000000000")
    assert messente.is_not_found(unknown.value)


def test_ours_manages_the_blacklist(our_phonebook: MessentePhonebookClient, api: sdk.ApiClient) -> None:
    assert our_phonebook.blacklist_add(TO) is True
    assert our_phonebook.blacklist_add(TO) is False
    assert our_phonebook.blacklist_contains(TO) is True
    assert our_phonebook.blacklist() == [BlacklistEntry(phone=TO)]
    assert sdk.BlacklistApi(api).fetch_blacklist().phone_numbers == [TO]  # both clients see the same list
    assert our_phonebook.blacklist_remove(BlacklistEntry(phone=TO)) is True
    assert our_phonebook.blacklist_remove(BlacklistEntry(phone=TO)) is False
    assert our_phonebook.blacklist_contains(TO) is False


def test_ours_manages_groups_and_contacts(our_phonebook: MessentePhonebookClient) -> None:
    book = our_phonebook
    group = book.create_group("Customers")
    assert book.rename_group(group.id, "Best customers").name == "Best customers"
    assert [g.id for g in book.groups()] == [group.id]

    assert book.create_contact(Contact(phone_number=TO, first_name="Ada")).first_name == "Ada"
    with pytest.raises(PermanentError) as duplicate:
        book.create_contact(Contact(phone_number=TO))
    assert phonebook.is_conflict(duplicate.value)
    assert book.add_to_group(group.id, TO) is True
    assert book.add_to_group(group.id, TO) is False
    assert book.group(group.id).contacts_count == 1
    assert [c.phone_number for c in book.contacts([group.id])] == [TO]
    assert [g.id for g in book.contact_groups(TO)] == [group.id]
    assert book.update_contact(TO, {"last_name": "Lovelace"}).last_name == "Lovelace"
    assert book.contact(TO).first_name == "Ada"

    assert book.remove_from_group(group.id, TO) is True
    assert book.remove_from_group(group.id, TO) is False
    assert book.delete_contact(TO) is True
    assert book.delete_contact(TO) is False
    assert book.delete_group(group.id) is True
    assert book.delete_group(group.id) is False
    with pytest.raises(PermanentError) as missing:
        book.group(group.id)
    assert phonebook.is_missing(missing.value)


def test_ours_with_wrong_credentials(base_url: str) -> None:
    with pytest.raises(PermanentError) as omnichannel:
        MessenteClient.from_settings(settings(base_url, password="wrong")).send(outbound())
    with pytest.raises(PermanentError) as phonebook_refusal:
        MessentePhonebookClient.from_settings(settings(base_url, password="wrong")).blacklist()
    assert (omnichannel.value.code, phonebook_refusal.value.code) == ("103", "202")


@pytest.mark.parametrize("retry_after", [3, None])
def test_ours_under_an_injected_rate_limit(
    ours: MessenteClient, base_url: str, retry_after: int | None
) -> None:
    fault = {"kind": "rate_limit", "provider": "messente", "endpoint": "POST /v1/omnimessage", "count": 1}
    admin(base_url, "faults", {**fault, "retry_after": retry_after})
    with pytest.raises(RateLimited) as caught:
        ours.send(outbound())
    assert caught.value.retry_after == (float(retry_after) if retry_after else None)
    assert isinstance(ours.send(outbound()), SendResult)  # the fault was used up


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"kind": "status", "status": 503}, "503"),
        ({"kind": "malformed"}, "malformed"),
        ({"kind": "timeout", "timeout_seconds": 1.0}, "timeout"),
    ],
    ids=["5xx", "malformed", "timeout"],
)
def test_ours_under_injected_faults(
    ours: MessenteClient, base_url: str, fault: dict[str, Any], code: str
) -> None:
    admin(
        base_url, "faults", {**fault, "provider": "messente", "endpoint": "POST /v1/omnimessage", "count": 1}
    )
    with pytest.raises(TransientError) as caught:
        ours.send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == (code, True)
