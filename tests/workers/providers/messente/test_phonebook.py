"""Messente Phonebook client at the HTTP seam: blacklist, groups, contacts; camelCase on the wire.

The canned answers here are also checked against the official SDK (test_messente_contract.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from smsq.workers.providers.base import BlacklistEntry
from smsq.workers.providers.errors import PermanentError, ProviderError, RateLimited, TransientError
from smsq.workers.providers.messente import phonebook
from smsq.workers.providers.messente.phonebook import Contact, Group, MessentePhonebookClient
from tests.workers.providers.messente.test_omnichannel import (
    AUTH_HEADER,
    BASE_URL,
    FakeMessente,
    answer,
    settings,
)

PHONE = "+37251000000"
PHONE_QUOTED = "%2B37251000000"
OTHER_PHONE = "+37251000001"
GROUP_ID = "5792a02a-e5c2-422b-a0a0-0ae65d814663"
OTHER_GROUP_ID = "8e2f6c1a-3b4d-4e5f-9a6b-7c8d9e0f1a2b"
CREATED_ON = "2019-04-22T11:46:23.753613Z"

# Canned answers (each parses with the SDK; see the contract checks).
BLACKLIST = {"phoneNumbers": [PHONE, OTHER_PHONE]}
GROUP = {"id": GROUP_ID, "name": "Customers", "createdOn": CREATED_ON, "contactsCount": 1}
OTHER_GROUP = {"id": OTHER_GROUP_ID, "name": "Staff", "createdOn": CREATED_ON, "contactsCount": 0}
GROUP_ENVELOPE = {"group": GROUP}
RENAMED_GROUP_ENVELOPE = {"group": {**GROUP, "name": "Best customers"}}
GROUP_LIST = {"groups": [GROUP, OTHER_GROUP]}
CONTACT = {
    "phoneNumber": PHONE,
    "email": "ada@example.com",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "company": "Analytical Engines",
    "title": "Countess",
    "custom": "vip",
    "custom2": None,
    "custom3": None,
    "custom4": None,
    "scheduledDeletionDate": None,
}
SPARSE_CONTACT = {"phoneNumber": OTHER_PHONE, "scheduledDeletionDate": "2024-06-01"}
CONTACT_ENVELOPE = {"contact": CONTACT}
UPDATED_CONTACT_ENVELOPE = {"contact": {**CONTACT, "firstName": "Augusta", "custom": None}}
CONTACT_LIST = {"contacts": [CONTACT, SPARSE_CONTACT]}
ADDED_TO_GROUP: dict[str, Any] = {}

ERROR_TITLES = {
    "201": "Invalid data",
    "202": "Unauthorized",
    "203": "Missing resource",
    "204": "Conflict",
    "244": "Client error",
    "205": "General error",
}
# code -> (HTTP status it comes with, error class)
ERROR_ROWS: dict[str, tuple[int, type[ProviderError]]] = {
    "201": (400, PermanentError),
    "202": (401, PermanentError),
    "203": (404, PermanentError),
    "204": (409, PermanentError),
    "244": (422, PermanentError),
    "205": (500, TransientError),
}


def error_body(code: str, detail: str = "something is wrong") -> dict[str, Any]:
    return {"errors": [{"code": code, "title": ERROR_TITLES[code], "detail": detail}]}


def client_for(fake: FakeMessente) -> MessentePhonebookClient:
    return MessentePhonebookClient.from_settings(settings(), transport=httpx.MockTransport(fake))


def sent(fake: FakeMessente) -> tuple[str, str, Any]:
    """(method, raw path, JSON body or None) of the last request; checks the auth header on the way."""
    request = fake.last
    assert request.headers["Authorization"] == AUTH_HEADER
    body = fake.last_json() if request.content else None
    return request.method, request.url.raw_path.decode(), body


# Blacklist


def test_blacklist_lists_numbers() -> None:
    fake = FakeMessente(answer(200, BLACKLIST))
    assert client_for(fake).blacklist() == [BlacklistEntry(phone=PHONE), BlacklistEntry(phone=OTHER_PHONE)]
    assert sent(fake) == ("GET", "/v1/phonebook/blacklist", None)


def test_blacklist_keeps_an_odd_entry_as_given() -> None:
    fake = FakeMessente(answer(200, {"phoneNumbers": ["37251000000", "not-a-number"]}))
    assert [entry.phone for entry in client_for(fake).blacklist()] == [PHONE, "not-a-number"]


def test_blacklist_add_posts_the_number_in_e164() -> None:
    fake = FakeMessente(answer(204))
    assert client_for(fake).blacklist_add("37251000000") is True
    assert sent(fake) == ("POST", "/v1/phonebook/blacklist", {"phoneNumber": PHONE})
    assert fake.last.headers["Content-Type"] == "application/json"


def test_blacklist_add_of_a_listed_number_is_false() -> None:
    assert client_for(FakeMessente(answer(409, error_body("204")))).blacklist_add(PHONE) is False


def test_blacklist_add_of_an_invalid_number_is_refused_before_sending() -> None:
    fake = FakeMessente(answer(204))
    with pytest.raises(ValueError, match=r"not a .*phone number"):
        client_for(fake).blacklist_add("+3721")
    assert fake.requests == []


def test_blacklist_add_refused_by_the_provider() -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(answer(400, error_body("201", "Invalid phone number")))).blacklist_add(PHONE)
    assert (caught.value.code, caught.value.detail) == ("201", "Invalid phone number")


@pytest.mark.parametrize(("status", "listed"), [(204, True), (404, False)])
def test_blacklist_contains(status: int, listed: bool) -> None:
    fake = FakeMessente(answer(status, error_body("203") if status == 404 else None))
    assert client_for(fake).blacklist_contains(PHONE) is listed
    assert sent(fake) == ("GET", f"/v1/phonebook/blacklist/{PHONE_QUOTED}", None)


@pytest.mark.parametrize(("status", "removed"), [(204, True), (404, False)])
def test_blacklist_remove(status: int, removed: bool) -> None:
    fake = FakeMessente(answer(status, error_body("203") if status == 404 else None))
    assert client_for(fake).blacklist_remove(BlacklistEntry(phone=PHONE)) is removed
    assert sent(fake) == ("DELETE", f"/v1/phonebook/blacklist/{PHONE_QUOTED}", None)


# Groups


def test_groups() -> None:
    fake = FakeMessente(answer(200, GROUP_LIST))
    assert client_for(fake).groups() == [
        Group(id=GROUP_ID, name="Customers", contacts_count=1, created_on=CREATED_ON),
        Group(id=OTHER_GROUP_ID, name="Staff", contacts_count=0, created_on=CREATED_ON),
    ]
    assert sent(fake) == ("GET", "/v1/phonebook/groups", None)


def test_group() -> None:
    fake = FakeMessente(answer(200, GROUP_ENVELOPE))
    assert client_for(fake).group(GROUP_ID).name == "Customers"
    assert sent(fake) == ("GET", f"/v1/phonebook/groups/{GROUP_ID}", None)


def test_missing_group_raises_code_203() -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(answer(404, error_body("203")))).group(GROUP_ID)
    assert phonebook.is_missing(caught.value)


def test_create_group() -> None:
    fake = FakeMessente(answer(201, GROUP_ENVELOPE))
    assert client_for(fake).create_group("Customers") == phonebook.group_from_wire(GROUP)
    assert sent(fake) == ("POST", "/v1/phonebook/groups", {"name": "Customers"})


def test_rename_group() -> None:
    fake = FakeMessente(answer(200, RENAMED_GROUP_ENVELOPE))
    assert client_for(fake).rename_group(GROUP_ID, "Best customers").name == "Best customers"
    assert sent(fake) == ("PUT", f"/v1/phonebook/groups/{GROUP_ID}", {"name": "Best customers"})


@pytest.mark.parametrize(("status", "deleted"), [(204, True), (404, False)])
def test_delete_group(status: int, deleted: bool) -> None:
    fake = FakeMessente(answer(status, error_body("203") if status == 404 else None))
    assert client_for(fake).delete_group(GROUP_ID) is deleted
    assert sent(fake) == ("DELETE", f"/v1/phonebook/groups/{GROUP_ID}", None)


def test_group_from_wire_without_optional_fields() -> None:
    assert phonebook.group_from_wire({"id": GROUP_ID, "name": "G"}) == Group(id=GROUP_ID, name="G")


# Contacts


def test_contacts_of_groups_sends_repeated_group_ids() -> None:
    fake = FakeMessente(answer(200, CONTACT_LIST))
    contacts = client_for(fake).contacts([GROUP_ID, OTHER_GROUP_ID])
    assert sent(fake) == (
        "GET",
        f"/v1/phonebook/contacts?groupIds={GROUP_ID}&groupIds={OTHER_GROUP_ID}",
        None,
    )
    assert contacts == [
        Contact(
            phone_number=PHONE,
            email="ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            company="Analytical Engines",
            title="Countess",
            custom="vip",
        ),
        Contact(phone_number=OTHER_PHONE, scheduled_deletion_date="2024-06-01"),
    ]


def test_all_contacts() -> None:
    fake = FakeMessente(answer(200, CONTACT_LIST))
    assert len(client_for(fake).contacts()) == 2
    assert sent(fake) == ("GET", "/v1/phonebook/contacts", None)


def test_contact() -> None:
    fake = FakeMessente(answer(200, CONTACT_ENVELOPE))
    assert client_for(fake).contact("37251000000").first_name == "Ada"
    assert sent(fake) == ("GET", f"/v1/phonebook/contacts/{PHONE_QUOTED}", None)


def test_create_contact_sends_camel_case() -> None:
    fake = FakeMessente(answer(201, CONTACT_ENVELOPE))
    new = Contact(phone_number="37251000000", first_name="Ada", last_name="Lovelace", custom4="x")
    assert client_for(fake).create_contact(new).email == "ada@example.com"
    assert sent(fake) == (
        "POST",
        "/v1/phonebook/contacts",
        {"phoneNumber": PHONE, "firstName": "Ada", "lastName": "Lovelace", "custom4": "x"},
    )


def test_create_existing_contact_raises_conflict() -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(answer(409, error_body("204")))).create_contact(Contact(PHONE))
    assert phonebook.is_conflict(caught.value)


def test_update_contact_patches_only_the_named_fields() -> None:
    fake = FakeMessente(answer(200, UPDATED_CONTACT_ENVELOPE))
    updated = client_for(fake).update_contact(PHONE, {"first_name": "Augusta", "custom": None})
    assert (updated.first_name, updated.custom) == ("Augusta", None)
    assert sent(fake) == (
        "PATCH",
        f"/v1/phonebook/contacts/{PHONE_QUOTED}",
        {"firstName": "Augusta", "custom": None},
    )


@pytest.mark.parametrize("field", ["phone_number", "phoneNumber", "scheduled_deletion_date", "nickname"])
def test_update_contact_refuses_fields_it_cannot_write(field: str) -> None:
    fake = FakeMessente(answer(200, UPDATED_CONTACT_ENVELOPE))
    with pytest.raises(ValueError, match=field):
        client_for(fake).update_contact(PHONE, {field: "x"})
    assert fake.requests == []


@pytest.mark.parametrize(("status", "deleted"), [(204, True), (404, False)])
def test_delete_contact(status: int, deleted: bool) -> None:
    fake = FakeMessente(answer(status, error_body("203") if status == 404 else None))
    assert client_for(fake).delete_contact(PHONE) is deleted
    assert sent(fake) == ("DELETE", f"/v1/phonebook/contacts/{PHONE_QUOTED}", None)


def test_contact_groups() -> None:
    fake = FakeMessente(answer(200, GROUP_LIST))
    assert [group.id for group in client_for(fake).contact_groups(PHONE)] == [GROUP_ID, OTHER_GROUP_ID]
    assert sent(fake) == ("GET", f"/v1/phonebook/contacts/{PHONE_QUOTED}/groups", None)


@pytest.mark.parametrize(("status", "added"), [(201, True), (409, False)])
def test_add_to_group(status: int, added: bool) -> None:
    fake = FakeMessente(answer(status, ADDED_TO_GROUP if status == 201 else error_body("204")))
    assert client_for(fake).add_to_group(GROUP_ID, PHONE) is added
    assert sent(fake) == ("POST", f"/v1/phonebook/groups/{GROUP_ID}/contacts/{PHONE_QUOTED}", None)


def test_add_to_an_unknown_group_raises() -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(answer(404, error_body("203")))).add_to_group(GROUP_ID, PHONE)
    assert phonebook.is_missing(caught.value)


@pytest.mark.parametrize(("status", "removed"), [(204, True), (404, False)])
def test_remove_from_group(status: int, removed: bool) -> None:
    fake = FakeMessente(answer(status, error_body("203") if status == 404 else None))
    assert client_for(fake).remove_from_group(GROUP_ID, PHONE) is removed
    assert sent(fake) == ("DELETE", f"/v1/phonebook/groups/{GROUP_ID}/contacts/{PHONE_QUOTED}", None)


def test_contact_wire_round_trip() -> None:
    contact = phonebook.contact_from_wire(CONTACT)
    assert phonebook.contact_to_wire(contact) == {k: v for k, v in CONTACT.items() if v is not None}


def test_contact_wire_names_cover_every_contact_field() -> None:
    assert set(phonebook.CONTACT_READ_NAMES) == {field.name for field in dataclasses.fields(Contact)}


# Errors


@pytest.mark.parametrize("code", sorted(ERROR_ROWS))
def test_error_codes(code: str) -> None:
    status, kind = ERROR_ROWS[code]
    with pytest.raises(ProviderError) as caught:
        client_for(FakeMessente(answer(status, error_body(code, "it went wrong")))).groups()
    assert type(caught.value) is kind
    assert caught.value.status_code == status
    if status < 500:  # 5xx is turned into TransientError by the HTTP layer before the body is read
        assert (caught.value.code, caught.value.detail) == (code, "it went wrong")


@pytest.mark.parametrize("code", sorted(ERROR_ROWS))
def test_error_table_row(code: str) -> None:
    status, kind = ERROR_ROWS[code]
    error = phonebook.error_from(answer(status, error_body(code)))
    assert (type(error), error.code, error.provider) == (kind, code, "messente")
    assert phonebook.ERROR_CODES[code] is kind


@pytest.mark.parametrize(
    ("status", "code"), [(400, "201"), (401, "202"), (403, "244"), (404, "203"), (409, "204"), (500, "205")]
)
def test_error_without_a_body_takes_the_documented_code_for_its_status(status: int, code: str) -> None:
    assert phonebook.error_from(httpx.Response(status, text="")).code == code


def test_unauthorized_is_permanent_even_on_outcome_calls() -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(answer(401, error_body("202")))).blacklist_add(PHONE)
    assert caught.value.code == "202"


@pytest.mark.parametrize("retry_after", ["3", None])
def test_rate_limited(retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    with pytest.raises(RateLimited) as caught:
        client_for(FakeMessente(answer(429, headers=headers))).blacklist()
    assert caught.value.retry_after == (float(retry_after) if retry_after else None)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(status: int) -> None:
    with pytest.raises(TransientError) as caught:
        client_for(FakeMessente(answer(status, error_body("205")))).blacklist_remove(BlacklistEntry(PHONE))
    assert caught.value.code == str(status)


def test_timeout_is_transient() -> None:
    with pytest.raises(TransientError) as caught:
        client_for(FakeMessente(httpx.ReadTimeout("slow"))).contacts()
    assert caught.value.code == "timeout"


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="{"),
        answer(200, {"group": GROUP}),
        answer(200, {"groups": [{"name": "no id"}]}),
        answer(200, {"groups": ["not an object"]}),
    ],
    ids=["not-json", "wrong-key", "entry-without-id", "entry-not-object"],
)
def test_malformed_answer_is_transient(reply: httpx.Response) -> None:
    with pytest.raises(TransientError) as caught:
        client_for(FakeMessente(reply)).groups()
    assert caught.value.code == "malformed"


def test_client_shares_an_http_client() -> None:
    fake = FakeMessente(answer(200, BLACKLIST))
    http_client = httpx.Client(base_url=BASE_URL + "/", transport=httpx.MockTransport(fake), auth=("a", "b"))
    assert len(MessentePhonebookClient(http_client).blacklist()) == 2
    assert str(fake.last.url) == f"{BASE_URL}/phonebook/blacklist"
