"""Messente Phonebook API: blacklist, groups, contacts (camelCase on the wire)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsq.sandbox.errors import phonebook_error
from smsq.sandbox.messente import messente_authorized
from smsq.sandbox.messente_validation import E164
from smsq.sandbox.params import NOT_JSON, json_body, sandbox_state
from smsq.sandbox.state import JsonDict, MessenteGroup, MessenteStore

CONTACT_FIELDS = (
    "email",
    "firstName",
    "lastName",
    "company",
    "title",
    "custom",
    "custom2",
    "custom3",
    "custom4",
)
Handler = Callable[[Request], Awaitable[Response]]


def authorized(handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        if not messente_authorized(request):
            return phonebook_error("202", "Invalid or missing API username and password")
        return await handler(request)

    return guarded


def store(request: Request) -> MessenteStore:
    return sandbox_state(request).messente


def no_content() -> Response:
    return Response(status_code=204)


async def object_body(request: Request) -> JsonDict | None:
    body = await json_body(request)
    return body if isinstance(body, dict) and body is not NOT_JSON else None


def invalid_phone(phone: Any) -> Response | None:
    if phone is None or phone == "":
        return phonebook_error("201", "Missing required parameter: phoneNumber")
    if not isinstance(phone, str) or not E164.match(phone):
        return phonebook_error("201", f"Invalid phone number: {phone}")
    return None


# Blacklist


async def list_blacklist(request: Request) -> Response:
    return JSONResponse({"phoneNumbers": list(store(request).blacklist)})


async def add_to_blacklist(request: Request) -> Response:
    body = await object_body(request)
    phone = body.get("phoneNumber") if body else None
    if (problem := invalid_phone(phone)) is not None:
        return problem
    assert isinstance(phone, str)
    blacklist = store(request).blacklist
    if phone in blacklist:
        return phonebook_error("204", f"Phone number {phone} is already blacklisted")
    blacklist[phone] = None
    return no_content()


async def is_blacklisted(request: Request) -> Response:
    phone = request.path_params["phone"]
    if phone in store(request).blacklist:
        return no_content()
    return phonebook_error("203", f"Phone number {phone} is not blacklisted")


async def delete_from_blacklist(request: Request) -> Response:
    phone = request.path_params["phone"]
    blacklist = store(request).blacklist
    if phone not in blacklist:
        return phonebook_error("203", f"Phone number {phone} is not blacklisted")
    del blacklist[phone]
    return no_content()


# Groups


def group_json(phonebook: MessenteStore, group: MessenteGroup) -> JsonDict:
    count = sum(1 for groups in phonebook.memberships.values() if group.group_id in groups)
    return {"id": group.group_id, "name": group.name, "createdOn": group.created_on, "contactsCount": count}


def group_name(body: JsonDict | None) -> str | None:
    name = body.get("name") if body else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def name_taken(phonebook: MessenteStore, name: str, except_id: str | None = None) -> bool:
    return any(group.name == name and group.group_id != except_id for group in phonebook.groups.values())


async def list_groups(request: Request) -> Response:
    phonebook = store(request)
    return JSONResponse({"groups": [group_json(phonebook, group) for group in phonebook.groups.values()]})


async def create_group(request: Request) -> Response:
    name = group_name(await object_body(request))
    if name is None:
        return phonebook_error("201", "Missing required parameter: name")
    phonebook = store(request)
    if name_taken(phonebook, name):
        return phonebook_error("204", f"Group with name {name} already exists")
    created_on = datetime.fromtimestamp(sandbox_state(request).now(), tz=UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    group = MessenteGroup(group_id=str(uuid.uuid4()), name=name, created_on=created_on)
    phonebook.groups[group.group_id] = group
    return JSONResponse({"group": group_json(phonebook, group)}, status_code=201)


def missing_group(group_id: str) -> Response:
    return phonebook_error("203", f"Group {group_id} not found")


async def fetch_group(request: Request) -> Response:
    phonebook = store(request)
    group = phonebook.groups.get(request.path_params["group_id"])
    if group is None:
        return missing_group(request.path_params["group_id"])
    return JSONResponse({"group": group_json(phonebook, group)})


async def update_group(request: Request) -> Response:
    phonebook = store(request)
    group = phonebook.groups.get(request.path_params["group_id"])
    if group is None:
        return missing_group(request.path_params["group_id"])
    name = group_name(await object_body(request))
    if name is None:
        return phonebook_error("201", "Missing required parameter: name")
    if name_taken(phonebook, name, except_id=group.group_id):
        return phonebook_error("204", f"Group with name {name} already exists")
    group.name = name
    return JSONResponse({"group": group_json(phonebook, group)})


async def delete_group(request: Request) -> Response:
    phonebook = store(request)
    group_id = request.path_params["group_id"]
    if phonebook.groups.pop(group_id, None) is None:
        return missing_group(group_id)
    # Contacts stay in the phonebook; only their membership goes.
    for groups in phonebook.memberships.values():
        if group_id in groups:
            groups.remove(group_id)
    return no_content()


# Contacts


def contact_json(contact: JsonDict) -> JsonDict:
    return {"phoneNumber": contact["phoneNumber"], **{name: contact.get(name) for name in CONTACT_FIELDS}} | {
        "scheduledDeletionDate": None
    }


def missing_contact(phone: str) -> Response:
    return phonebook_error("203", f"Contact {phone} not found")


def field_errors(body: JsonDict) -> Response | None:
    for name in CONTACT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            return phonebook_error("201", f"Invalid value for {name}: must be a string")
    return None


async def list_contacts(request: Request) -> Response:
    phonebook = store(request)
    wanted = set(request.query_params.getlist("groupIds"))
    contacts = [
        contact_json(contact)
        for phone, contact in phonebook.contacts.items()
        if not wanted or wanted.intersection(phonebook.memberships.get(phone, []))
    ]
    return JSONResponse({"contacts": contacts})


async def create_contact(request: Request) -> Response:
    body = await object_body(request)
    phone = body.get("phoneNumber") if body else None
    if (problem := invalid_phone(phone)) is not None:
        return problem
    assert body is not None and isinstance(phone, str)
    if (problem := field_errors(body)) is not None:
        return problem
    phonebook = store(request)
    if phone in phonebook.contacts:
        return phonebook_error("204", f"Contact {phone} already exists")
    contact = {"phoneNumber": phone, **{name: body.get(name) for name in CONTACT_FIELDS}}
    phonebook.contacts[phone] = contact
    phonebook.memberships[phone] = []
    return JSONResponse({"contact": contact_json(contact)}, status_code=201)


async def fetch_contact(request: Request) -> Response:
    contact = store(request).contacts.get(request.path_params["phone"])
    if contact is None:
        return missing_contact(request.path_params["phone"])
    return JSONResponse({"contact": contact_json(contact)})


async def update_contact(request: Request) -> Response:
    contact = store(request).contacts.get(request.path_params["phone"])
    if contact is None:
        return missing_contact(request.path_params["phone"])
    body = await object_body(request)
    if body is None:
        return phonebook_error("201", "Request body must be a JSON object")
    if (problem := field_errors(body)) is not None:
        return problem
    contact.update({name: body[name] for name in CONTACT_FIELDS if name in body})
    return JSONResponse({"contact": contact_json(contact)})


async def delete_contact(request: Request) -> Response:
    phonebook = store(request)
    phone = request.path_params["phone"]
    if phonebook.contacts.pop(phone, None) is None:
        return missing_contact(phone)
    phonebook.memberships.pop(phone, None)
    return no_content()


async def contact_groups(request: Request) -> Response:
    phonebook = store(request)
    phone = request.path_params["phone"]
    if phone not in phonebook.contacts:
        return missing_contact(phone)
    groups = [group_json(phonebook, phonebook.groups[group_id]) for group_id in phonebook.memberships[phone]]
    return JSONResponse({"groups": groups})


async def add_contact_to_group(request: Request) -> Response:
    phonebook = store(request)
    group_id, phone = request.path_params["group_id"], request.path_params["phone"]
    if group_id not in phonebook.groups:
        return missing_group(group_id)
    if phone not in phonebook.contacts:
        return missing_contact(phone)
    if group_id in phonebook.memberships[phone]:
        return phonebook_error("204", f"Contact {phone} is already in group {group_id}")
    phonebook.memberships[phone].append(group_id)
    return JSONResponse({}, status_code=201)


async def remove_contact_from_group(request: Request) -> Response:
    phonebook = store(request)
    group_id, phone = request.path_params["group_id"], request.path_params["phone"]
    if group_id not in phonebook.groups:
        return missing_group(group_id)
    if group_id not in phonebook.memberships.get(phone, []):
        return phonebook_error("203", f"Contact {phone} is not in group {group_id}")
    phonebook.memberships[phone].remove(group_id)
    return no_content()


BASE = "/v1/phonebook"
routes = [
    Route(f"{BASE}/blacklist", authorized(list_blacklist), methods=["GET"]),
    Route(f"{BASE}/blacklist", authorized(add_to_blacklist), methods=["POST"]),
    Route(f"{BASE}/blacklist/{{phone}}", authorized(is_blacklisted), methods=["GET"]),
    Route(f"{BASE}/blacklist/{{phone}}", authorized(delete_from_blacklist), methods=["DELETE"]),
    Route(f"{BASE}/groups", authorized(list_groups), methods=["GET"]),
    Route(f"{BASE}/groups", authorized(create_group), methods=["POST"]),
    Route(f"{BASE}/groups/{{group_id}}", authorized(fetch_group), methods=["GET"]),
    Route(f"{BASE}/groups/{{group_id}}", authorized(update_group), methods=["PUT"]),
    Route(f"{BASE}/groups/{{group_id}}", authorized(delete_group), methods=["DELETE"]),
    Route(
        f"{BASE}/groups/{{group_id}}/contacts/{{phone}}", authorized(add_contact_to_group), methods=["POST"]
    ),
    Route(
        f"{BASE}/groups/{{group_id}}/contacts/{{phone}}",
        authorized(remove_contact_from_group),
        methods=["DELETE"],
    ),
    Route(f"{BASE}/contacts", authorized(list_contacts), methods=["GET"]),
    Route(f"{BASE}/contacts", authorized(create_contact), methods=["POST"]),
    Route(f"{BASE}/contacts/{{phone}}", authorized(fetch_contact), methods=["GET"]),
    Route(f"{BASE}/contacts/{{phone}}", authorized(update_contact), methods=["PATCH"]),
    Route(f"{BASE}/contacts/{{phone}}", authorized(delete_contact), methods=["DELETE"]),
    Route(f"{BASE}/contacts/{{phone}}/groups", authorized(contact_groups), methods=["GET"]),
]
