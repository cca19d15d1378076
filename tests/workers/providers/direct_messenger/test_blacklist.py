"""Direct Messenger blacklist at the HTTP seam: list with the Bearer token, add and remove by id with
api_token, "already listed" and "not listed" as outcomes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smsq.producers.errors import InvalidInput
from smsq.workers.providers.base import BlacklistEntry
from smsq.workers.providers.errors import PermanentError
from tests.workers.providers.direct_messenger.test_sms import BASE, Wire, form_of, make

LISTING = {
    "response": "Success",
    "message": "Blacklist",
    "data": [
        {"id": 2222, "receiver": "37256666666", "created_at": "2021-31-12 10:47:14", "source": "api"},
        {"id": 3333, "receiver": "37255555555", "created_at": "2021-31-12 10:55:28", "source": "api"},
    ],
}


def test_blacklist_lists_with_the_bearer_token_and_returns_e164() -> None:
    wire = Wire(httpx.Response(200, json=LISTING))
    entries = make(wire).blacklist()
    assert (wire.last.method, str(wire.last.url)) == ("GET", f"{BASE}/api/blacklist")
    assert wire.last.headers["Authorization"] == "Bearer sandbox-token"
    assert entries == [
        BlacklistEntry("+37256666666", "2222", "2021-31-12 10:47:14"),
        BlacklistEntry("+37255555555", "3333", "2021-31-12 10:55:28"),
    ]


def test_an_empty_blacklist() -> None:
    assert (
        make(
            Wire(httpx.Response(200, json={"response": "Success", "message": "Blacklist", "data": []}))
        ).blacklist()
        == []
    )


def test_blacklist_with_a_bad_token_is_permanent() -> None:
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(401, json={"message": "Unauthenticated."}))).blacklist()
    assert (caught.value.code, caught.value.detail) == ("401", "Unauthenticated.")


@pytest.mark.parametrize("phone", ["+37255555555", "37255555555", "+372 5555 5555"])
def test_add_posts_api_token_and_digits(phone: str) -> None:
    body = {"response": "Success", "message": "Number (37255555555) added to your blacklist"}
    wire = Wire(httpx.Response(200, json=body))
    assert make(wire).blacklist_add(phone) is True
    assert (wire.last.method, str(wire.last.url)) == ("POST", f"{BASE}/api/blacklist/create")
    assert form_of(wire.last) == {"api_token": "sandbox-token", "receiver": "37255555555"}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (409, {"message": "Number already in blacklist"}),
        (
            422,
            {
                "message": "The given data was invalid.",
                "errors": {"receiver": ["The receiver has already been taken."]},
            },
        ),
    ],
)
def test_add_of_a_listed_number_returns_false(status: int, body: dict[str, Any]) -> None:
    assert make(Wire(httpx.Response(status, json=body))).blacklist_add("+37255555555") is False


def test_add_refusal_is_an_error() -> None:
    body = {"message": "The given data was invalid.", "errors": {"receiver": ["Invalid number"]}}
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(422, json=body))).blacklist_add("+37255555555")
    assert (caught.value.code, caught.value.detail) == ("receiver", "Invalid number")


def test_add_of_a_malformed_number_is_invalid_input_without_a_request() -> None:
    wire = Wire()
    with pytest.raises(InvalidInput):
        make(wire).blacklist_add("12")
    assert wire.requests == []


def test_remove_posts_to_delete_by_id() -> None:
    body = {"response": "Success", "message": "Number with id 2222 removed from blacklist"}
    wire = Wire(httpx.Response(200, json=body))
    assert make(wire).blacklist_remove(BlacklistEntry("+37256666666", "2222")) is True
    assert (wire.last.method, str(wire.last.url)) == ("POST", f"{BASE}/api/blacklist/delete/2222")
    assert form_of(wire.last) == {"api_token": "sandbox-token"}


def test_remove_of_an_unknown_id_returns_false() -> None:
    wire = Wire(httpx.Response(404, json={"message": "Not found"}))
    assert make(wire).blacklist_remove(BlacklistEntry("+37256666666", "9999")) is False


def test_remove_without_an_id_looks_the_number_up() -> None:
    done = {"response": "Success", "message": "Number with id 3333 removed from blacklist"}
    wire = Wire(httpx.Response(200, json=LISTING), httpx.Response(200, json=done))
    assert make(wire).blacklist_remove(BlacklistEntry("+37255555555")) is True
    assert [(r.method, r.url.path) for r in wire.requests] == [
        ("GET", "/dm/api/blacklist"),
        ("POST", "/dm/api/blacklist/delete/3333"),
    ]


def test_remove_without_an_id_of_an_unlisted_number_returns_false() -> None:
    wire = Wire(httpx.Response(200, json=LISTING))
    assert make(wire).blacklist_remove(BlacklistEntry("+37251234567")) is False
    assert len(wire.requests) == 1
