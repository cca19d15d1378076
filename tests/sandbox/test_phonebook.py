from __future__ import annotations

from typing import Any

import messente_api
import pytest
from starlette.testclient import TestClient

from tests.sandbox.conftest import MESSENTE_AUTH

PHONE = "+37251000000"
OTHER = "+37251000001"


def call(client: TestClient, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, f"/v1/phonebook{path}", json=body, auth=MESSENTE_AUTH)


def error_code(response: Any) -> str:
    code: str = messente_api.ErrorPhonebook.from_json(response.text).errors[0].code.value
    return code


# Blacklist


def test_blacklist_add_list_check_remove(client: TestClient) -> None:
    assert call(client, "POST", "/blacklist", {"phoneNumber": PHONE}).status_code == 204
    assert call(client, "POST", "/blacklist", {"phoneNumber": OTHER}).status_code == 204

    listed = call(client, "GET", "/blacklist")
    assert listed.status_code == 200
    assert messente_api.FetchBlacklistSuccess.from_json(listed.text).phone_numbers == [PHONE, OTHER]
    assert call(client, "GET", f"/blacklist/{PHONE}").status_code == 204

    assert call(client, "DELETE", f"/blacklist/{PHONE}").status_code == 204
    assert call(client, "GET", "/blacklist").json() == {"phoneNumbers": [OTHER]}


def test_blacklist_path_accepts_url_encoded_plus(client: TestClient) -> None:
    call(client, "POST", "/blacklist", {"phoneNumber": PHONE})

    assert call(client, "GET", "/blacklist/%2B37251000000").status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/blacklist", {"phoneNumber": PHONE}, 409, "204"),
        ("POST", "/blacklist", {}, 400, "201"),
        ("POST", "/blacklist", {"phoneNumber": "5100"}, 400, "201"),
        ("GET", f"/blacklist/{OTHER}", None, 404, "203"),
        ("DELETE", f"/blacklist/{OTHER}", None, 404, "203"),
    ],
)
def test_blacklist_errors(
    client: TestClient, method: str, path: str, body: Any, status: int, code: str
) -> None:
    call(client, "POST", "/blacklist", {"phoneNumber": PHONE})

    response = call(client, method, path, body)

    assert (response.status_code, error_code(response)) == (status, code)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/blacklist"),
        ("POST", "/blacklist"),
        ("GET", "/groups"),
        ("GET", "/groups/g"),
        ("GET", "/contacts"),
        ("DELETE", f"/contacts/{PHONE}"),
        ("POST", f"/groups/g/contacts/{PHONE}"),
    ],
)
def test_bad_auth_is_401_code_202(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, f"/v1/phonebook{path}", auth=("sandbox", "nope"))

    assert response.status_code == 401
    assert error_code(response) == "202"
    assert response.json()["errors"][0]["title"] == "Unauthorized"


def test_unknown_phonebook_path_is_203(client: TestClient) -> None:
    response = call(client, "GET", "/nothing-here")

    assert (response.status_code, error_code(response)) == (404, "203")


# Groups


def create_group(client: TestClient, name: str) -> dict[str, Any]:
    response = call(client, "POST", "/groups", {"name": name})
    assert response.status_code == 201
    group: dict[str, Any] = response.json()["group"]
    return group


def test_group_lifecycle_parses_with_the_sdk(client: TestClient) -> None:
    created = create_group(client, "Customers")
    group_id = created["id"]

    envelope = messente_api.GroupEnvelope.from_dict({"group": created})
    assert (envelope.group.name, envelope.group.contacts_count) == ("Customers", 0)
    assert envelope.group.created_on.startswith("2027-01-15T08:00:00")

    renamed = call(client, "PUT", f"/groups/{group_id}", {"name": "VIP"})
    assert renamed.status_code == 200 and renamed.json()["group"]["name"] == "VIP"
    fetched = messente_api.GroupEnvelope.from_json(call(client, "GET", f"/groups/{group_id}").text)
    assert fetched.group.name == "VIP"
    listed = messente_api.GroupListEnvelope.from_json(call(client, "GET", "/groups").text)
    assert [group.id for group in listed.groups] == [group_id]

    assert call(client, "DELETE", f"/groups/{group_id}").status_code == 204
    assert call(client, "GET", "/groups").json() == {"groups": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/groups", {}, 400, "201"),
        ("POST", "/groups", {"name": "  "}, 400, "201"),
        ("POST", "/groups", {"name": "Existing"}, 409, "204"),
        ("GET", "/groups/missing", None, 404, "203"),
        ("PUT", "/groups/missing", {"name": "x"}, 404, "203"),
        ("DELETE", "/groups/missing", None, 404, "203"),
    ],
)
def test_group_errors(client: TestClient, method: str, path: str, body: Any, status: int, code: str) -> None:
    create_group(client, "Existing")

    response = call(client, method, path, body)

    assert (response.status_code, error_code(response)) == (status, code)


def test_renaming_a_group_to_a_taken_name_is_409(client: TestClient) -> None:
    create_group(client, "A")
    second = create_group(client, "B")

    response = call(client, "PUT", f"/groups/{second['id']}", {"name": "A"})

    assert (response.status_code, error_code(response)) == (409, "204")


# Contacts


CONTACT = {"phoneNumber": PHONE, "email": "a@b.ee", "firstName": "Ann", "lastName": "Tamm", "custom3": "x"}


def test_contact_lifecycle_parses_with_the_sdk(client: TestClient) -> None:
    created = call(client, "POST", "/contacts", CONTACT)
    assert created.status_code == 201
    contact = messente_api.ContactEnvelope.from_json(created.text).contact
    assert (contact.phone_number, contact.first_name, contact.custom3, contact.company) == (
        PHONE,
        "Ann",
        "x",
        None,
    )

    updated = call(client, "PATCH", f"/contacts/{PHONE}", {"company": "ACME", "firstName": "Anna"})
    assert updated.status_code == 200
    assert updated.json()["contact"]["company"] == "ACME"
    assert updated.json()["contact"]["lastName"] == "Tamm"  # untouched fields stay

    fetched = messente_api.ContactEnvelope.from_json(call(client, "GET", f"/contacts/{PHONE}").text)
    assert fetched.contact.first_name == "Anna"
    listed = messente_api.ContactListEnvelope.from_json(call(client, "GET", "/contacts").text)
    assert [c.phone_number for c in listed.contacts] == [PHONE]

    assert call(client, "DELETE", f"/contacts/{PHONE}").status_code == 204
    assert call(client, "GET", f"/contacts/{PHONE}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/contacts", CONTACT, 409, "204"),
        ("POST", "/contacts", {"email": "x@y"}, 400, "201"),
        ("POST", "/contacts", {"phoneNumber": "abc"}, 400, "201"),
        ("POST", "/contacts", {"phoneNumber": OTHER, "firstName": 5}, 400, "201"),
        ("GET", f"/contacts/{OTHER}", None, 404, "203"),
        ("PATCH", f"/contacts/{OTHER}", {"email": "x"}, 404, "203"),
        ("DELETE", f"/contacts/{OTHER}", None, 404, "203"),
        ("GET", f"/contacts/{OTHER}/groups", None, 404, "203"),
    ],
)
def test_contact_errors(
    client: TestClient, method: str, path: str, body: Any, status: int, code: str
) -> None:
    call(client, "POST", "/contacts", CONTACT)

    response = call(client, method, path, body)

    assert (response.status_code, error_code(response)) == (status, code)


def test_contact_in_several_groups_counts_once_per_group_and_lists_once(client: TestClient) -> None:
    first, second = create_group(client, "One"), create_group(client, "Two")
    call(client, "POST", "/contacts", CONTACT)
    call(client, "POST", "/contacts", {"phoneNumber": OTHER})

    for group_id in (first["id"], second["id"]):
        added = call(client, "POST", f"/groups/{group_id}/contacts/{PHONE}")
        assert (added.status_code, added.json()) == (201, {})
    call(client, "POST", f"/groups/{second['id']}/contacts/{OTHER}")

    counts = {g["name"]: g["contactsCount"] for g in call(client, "GET", "/groups").json()["groups"]}
    assert counts == {"One": 1, "Two": 2}
    in_both = client.get(
        "/v1/phonebook/contacts",
        params=[("groupIds", first["id"]), ("groupIds", second["id"])],
        auth=MESSENTE_AUTH,
    )
    assert [c["phoneNumber"] for c in in_both.json()["contacts"]] == [PHONE, OTHER]
    only_first = client.get("/v1/phonebook/contacts", params={"groupIds": first["id"]}, auth=MESSENTE_AUTH)
    assert [c["phoneNumber"] for c in only_first.json()["contacts"]] == [PHONE]
    groups = messente_api.GroupListEnvelope.from_json(call(client, "GET", f"/contacts/{PHONE}/groups").text)
    assert [g.name for g in groups.groups] == ["One", "Two"]


def test_membership_errors_and_removal(client: TestClient) -> None:
    group = create_group(client, "One")
    call(client, "POST", "/contacts", CONTACT)
    path = f"/groups/{group['id']}/contacts/{PHONE}"
    call(client, "POST", path)

    duplicate = call(client, "POST", path)
    assert (duplicate.status_code, error_code(duplicate)) == (409, "204")
    unknown_group = call(client, "POST", f"/groups/nope/contacts/{PHONE}")
    assert (unknown_group.status_code, error_code(unknown_group)) == (404, "203")
    unknown_contact = call(client, "POST", f"/groups/{group['id']}/contacts/{OTHER}")
    assert (unknown_contact.status_code, error_code(unknown_contact)) == (404, "203")

    assert call(client, "DELETE", path).status_code == 204
    assert call(client, "DELETE", path).status_code == 404
    assert call(client, "GET", f"/groups/{group['id']}").json()["group"]["contactsCount"] == 0


def test_deleting_a_group_keeps_its_contacts(client: TestClient) -> None:
    group = create_group(client, "One")
    call(client, "POST", "/contacts", CONTACT)
    call(client, "POST", f"/groups/{group['id']}/contacts/{PHONE}")

    call(client, "DELETE", f"/groups/{group['id']}")

    assert call(client, "GET", f"/contacts/{PHONE}").status_code == 200
    assert call(client, "GET", f"/contacts/{PHONE}/groups").json() == {"groups": []}
