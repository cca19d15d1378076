"""Messente Phonebook API (https://api.messente.com/v1/phonebook): blacklist, groups, contacts.

camelCase on the wire, snake_case in Python: Group and Contact convert both ways. "Already there"
(409 on an add) and "not there" (404 on a remove or delete) are outcomes returned as False; every
other failure goes through the provider error tree, with the Phonebook code (201..244) kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx

from smsq.config.settings import MessenteSettings
from smsq.producers.messages.numbers import to_e164
from smsq.workers.providers import http
from smsq.workers.providers.base import BlacklistEntry
from smsq.workers.providers.errors import PermanentError, ProviderError, TransientError
from smsq.workers.providers.messente.omnichannel import NAME, basic_auth_client, normalise_phone, path_segment

T = TypeVar("T")

# Phonebook error codes (the `code` string in {errors:[{code, title, detail}]}) -> how to treat them.
ERROR_CODES: Final[dict[str, type[ProviderError]]] = {
    "201": PermanentError,  # Invalid data / missing required parameter (400)
    "202": PermanentError,  # Unauthorized (401)
    "203": PermanentError,  # Missing resource (404)
    "204": PermanentError,  # Conflict: duplicate object (409)
    "244": PermanentError,  # Other client error (4xx)
    "205": TransientError,  # General error (500)
}
# The documented HTTP status -> code pairs, used when an error answer has no readable body.
CODES_BY_HTTP_STATUS: Final[dict[int, str]] = {400: "201", 401: "202", 404: "203", 409: "204"}
CLIENT_ERROR: Final = "244"
GENERAL_ERROR: Final = "205"
MISSING_RESOURCE: Final = "203"
CONFLICT: Final = "204"


def is_missing(error: ProviderError) -> bool:
    return error.provider == NAME and error.code == MISSING_RESOURCE


def is_conflict(error: ProviderError) -> bool:
    return error.provider == NAME and error.code == CONFLICT


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    contacts_count: int = 0
    created_on: str | None = None


@dataclass(frozen=True)
class Contact:
    phone_number: str  # E.164
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    custom: str | None = None
    custom2: str | None = None
    custom3: str | None = None
    custom4: str | None = None
    # Set by Messente on a contact that belongs to no group: the day it will be deleted.
    scheduled_deletion_date: str | None = None


# snake_case attribute -> camelCase wire name, for every field a client may write.
CONTACT_WIRE_NAMES: Final[dict[str, str]] = {
    "phone_number": "phoneNumber",
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
    "title": "title",
    "custom": "custom",
    "custom2": "custom2",
    "custom3": "custom3",
    "custom4": "custom4",
}
CONTACT_READ_NAMES: Final = {**CONTACT_WIRE_NAMES, "scheduled_deletion_date": "scheduledDeletionDate"}
UPDATABLE_CONTACT_FIELDS: Final = frozenset(CONTACT_WIRE_NAMES) - {"phone_number"}


def group_from_wire(data: Mapping[str, Any]) -> Group:
    return Group(
        id=str(data["id"]),
        name=str(data["name"]),
        contacts_count=int(data.get("contactsCount") or 0),
        created_on=data.get("createdOn"),
    )


def group_name_body(name: str) -> dict[str, Any]:
    """The body of POST /groups and PUT /groups/{id}."""
    return {"name": name}


def contact_from_wire(data: Mapping[str, Any]) -> Contact:
    optional = {attr: data.get(wire) for attr, wire in CONTACT_READ_NAMES.items() if attr != "phone_number"}
    return Contact(phone_number=normalise_phone(str(data["phoneNumber"])), **optional)


def contact_to_wire(contact: Contact) -> dict[str, Any]:
    """The body of POST /contacts: the writable fields that are set."""
    body = {
        wire: getattr(contact, attr)
        for attr, wire in CONTACT_WIRE_NAMES.items()
        if getattr(contact, attr) is not None
    }
    body["phoneNumber"] = to_e164(contact.phone_number)
    return body


def contact_update_body(changes: Mapping[str, str | None]) -> dict[str, Any]:
    """The body of PATCH /contacts/{phone}: only the fields named (None is sent as null)."""
    unknown = set(changes) - UPDATABLE_CONTACT_FIELDS
    if unknown:
        raise ValueError(f"cannot update contact field(s): {', '.join(sorted(unknown))}")
    return {CONTACT_WIRE_NAMES[attr]: value for attr, value in changes.items()}


def blacklist_add_body(phone: str) -> dict[str, Any]:
    return {"phoneNumber": to_e164(phone)}


def error_from(response: httpx.Response) -> ProviderError:
    """{errors:[{code, title, detail}]} -> the error tree; without a readable body, the code comes from
    the documented HTTP status table."""
    try:
        first = response.json()["errors"][0]
        code = str(first["code"])
        detail = str(first.get("detail") or first.get("title") or code)
    except (ValueError, KeyError, IndexError, TypeError):
        code = _code_for_status(response.status_code)
        detail = response.text[:200] or response.reason_phrase
    fallback = TransientError if response.status_code >= 500 else PermanentError
    kind = ERROR_CODES.get(code, fallback)
    return kind(NAME, detail, code=code, status_code=response.status_code)


def _code_for_status(status_code: int) -> str:
    if status_code in CODES_BY_HTTP_STATUS:
        return CODES_BY_HTTP_STATUS[status_code]
    return GENERAL_ERROR if status_code >= 500 else CLIENT_ERROR


def outcome(response: httpx.Response, *, false_on: int) -> bool:
    """A body-less call: 2xx -> True; ``false_on`` (409 for adds, 404 for removes) -> False."""
    if response.is_success:
        return True
    if response.status_code == false_on:
        return False
    raise error_from(response)


def json_object(response: httpx.Response, *, key: str) -> Any:
    """The value under ``key`` of a 2xx JSON answer; an error status raises."""
    if not response.is_success:
        raise error_from(response)
    data = http.json_body(NAME, response)
    if not isinstance(data, dict) or key not in data:
        raise TransientError(NAME, f"unexpected {response.status_code} body, no {key!r}", code="malformed")
    return data[key]


def _each(items: Any, parse: Callable[[Any], T], what: str) -> list[T]:
    """Parse every entry of a list answer; a malformed entry is a malformed answer."""
    try:
        return [parse(item) for item in items or []]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TransientError(NAME, f"unexpected {what} entry: {exc!r}", code="malformed") from None


def _one(item: Any, parse: Callable[[Any], T], what: str) -> T:
    return _each([item], parse, what)[0]


class MessentePhonebookClient:
    """Phonebook calls over a Basic-auth client (it may share MessenteClient's ``http``)."""

    name: Final = NAME

    def __init__(self, client: httpx.Client) -> None:
        self.http = client

    @classmethod
    def from_settings(
        cls, settings: MessenteSettings, *, transport: httpx.BaseTransport | None = None
    ) -> MessentePhonebookClient:
        return cls(basic_auth_client(settings, transport=transport))

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return http.request(self.http, NAME, method, f"phonebook/{url}", **kwargs)

    # Blacklist (BlacklistProvider)

    def blacklist(self) -> list[BlacklistEntry]:
        numbers = json_object(self._call("GET", "blacklist"), key="phoneNumbers")
        return _each(numbers, lambda phone: BlacklistEntry(phone=normalise_phone(str(phone))), "blacklist")

    def blacklist_add(self, phone: str) -> bool:
        """False when the number was already listed (409)."""
        response = self._call("POST", "blacklist", json=blacklist_add_body(phone))
        return outcome(response, false_on=409)

    def blacklist_contains(self, phone: str) -> bool:
        response = self._call("GET", f"blacklist/{path_segment(to_e164(phone))}")
        return outcome(response, false_on=404)

    def blacklist_remove(self, entry: BlacklistEntry) -> bool:
        """False when the number was not listed (404)."""
        response = self._call("DELETE", f"blacklist/{path_segment(to_e164(entry.phone))}")
        return outcome(response, false_on=404)

    # Groups

    def groups(self) -> list[Group]:
        return _each(json_object(self._call("GET", "groups"), key="groups"), group_from_wire, "group")

    def group(self, group_id: str) -> Group:
        """Raises PermanentError with code 203 (``is_missing``) when there is no such group."""
        response = self._call("GET", f"groups/{path_segment(group_id)}")
        return _one(json_object(response, key="group"), group_from_wire, "group")

    def create_group(self, name: str) -> Group:
        response = self._call("POST", "groups", json=group_name_body(name))
        return _one(json_object(response, key="group"), group_from_wire, "group")

    def rename_group(self, group_id: str, name: str) -> Group:
        response = self._call("PUT", f"groups/{path_segment(group_id)}", json=group_name_body(name))
        return _one(json_object(response, key="group"), group_from_wire, "group")

    def delete_group(self, group_id: str) -> bool:
        """False when there was no such group (404)."""
        return outcome(self._call("DELETE", f"groups/{path_segment(group_id)}"), false_on=404)

    # Contacts

    def contacts(self, group_ids: Sequence[str] = ()) -> list[Contact]:
        """All contacts, or those in any of ``group_ids`` (sent as repeated ``groupIds``)."""
        params = {"groupIds": list(group_ids)} if group_ids else None
        response = self._call("GET", "contacts", params=params)
        return _each(json_object(response, key="contacts"), contact_from_wire, "contact")

    def contact(self, phone: str) -> Contact:
        """Raises PermanentError with code 203 (``is_missing``) when there is no such contact."""
        response = self._call("GET", f"contacts/{path_segment(to_e164(phone))}")
        return _one(json_object(response, key="contact"), contact_from_wire, "contact")

    def create_contact(self, contact: Contact) -> Contact:
        """Raises PermanentError with code 204 (``is_conflict``) when the contact exists."""
        response = self._call("POST", "contacts", json=contact_to_wire(contact))
        return _one(json_object(response, key="contact"), contact_from_wire, "contact")

    def update_contact(self, phone: str, changes: Mapping[str, str | None]) -> Contact:
        """PATCH the named fields (snake_case names, e.g. {"first_name": "Ada"})."""
        body = contact_update_body(changes)
        response = self._call("PATCH", f"contacts/{path_segment(to_e164(phone))}", json=body)
        return _one(json_object(response, key="contact"), contact_from_wire, "contact")

    def delete_contact(self, phone: str) -> bool:
        """False when there was no such contact (404)."""
        return outcome(self._call("DELETE", f"contacts/{path_segment(to_e164(phone))}"), false_on=404)

    def contact_groups(self, phone: str) -> list[Group]:
        response = self._call("GET", f"contacts/{path_segment(to_e164(phone))}/groups")
        return _each(json_object(response, key="groups"), group_from_wire, "group")

    def add_to_group(self, group_id: str, phone: str) -> bool:
        """False when the contact was already in the group (409)."""
        url = f"groups/{path_segment(group_id)}/contacts/{path_segment(to_e164(phone))}"
        return outcome(self._call("POST", url), false_on=409)

    def remove_from_group(self, group_id: str, phone: str) -> bool:
        """False when the contact was not in the group (404)."""
        url = f"groups/{path_segment(group_id)}/contacts/{path_segment(to_e164(phone))}"
        return outcome(self._call("DELETE", url), false_on=404)

    def close(self) -> None:
        self.http.close()
