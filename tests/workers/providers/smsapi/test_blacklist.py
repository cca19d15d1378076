"""SMSAPI Blacklist API at the HTTP seam: q/offset/limit paging, add with expiry, delete by id, the
delete-all guard, CSV export and import."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from smsq.producers.errors import InvalidInput
from smsq.workers.providers.base import BlacklistEntry
from smsq.workers.providers.errors import PermanentError, TransientError
from tests.workers.providers.smsapi.test_sms import Wire, body_of, make


def entry(i: int) -> dict[str, Any]:
    return {
        "id": f"id{i}",
        "phone_number": f"4850060070{i}",
        "created_at": "2024-01-01T00:00:00+00:00",
        "expire_at": None,
    }


def test_list_sends_q_offset_limit() -> None:
    wire = Wire(httpx.Response(200, json={"size": 1, "collection": [entry(0)]}))
    page = make(wire).list_blacklist(q="4850", offset=20, limit=10)
    assert (wire.last.method, wire.last.url.path) == ("GET", "/smsapi/blacklist/phone_numbers")
    assert dict(wire.last.url.params) == {"q": "4850", "offset": "20", "limit": "10"}
    assert wire.last.headers["Authorization"] == "Bearer sandbox-token"
    assert page.size == 1
    assert page.entries == (BlacklistEntry("+48500600700", "id0", "2024-01-01T00:00:00+00:00", None),)


def test_an_empty_blacklist_answers_204() -> None:
    page = make(Wire(httpx.Response(204))).list_blacklist()
    assert (page.size, page.entries) == (0, ())


def test_iter_blacklist_walks_every_page() -> None:
    pages = [
        httpx.Response(200, json={"size": 5, "collection": [entry(0), entry(1)]}),
        httpx.Response(200, json={"size": 5, "collection": [entry(2), entry(3)]}),
        httpx.Response(200, json={"size": 5, "collection": [entry(4)]}),
    ]
    wire = Wire(*pages)
    client = make(wire)
    client.page_size = 2
    phones = [e.phone for e in client.iter_blacklist()]
    assert phones == [f"+4850060070{i}" for i in range(5)]
    assert [r.url.params["offset"] for r in wire.requests] == ["0", "2", "4"]
    assert {r.url.params["limit"] for r in wire.requests} == {"2"}


def test_iter_blacklist_stops_on_an_empty_page_even_if_size_says_more() -> None:
    wire = Wire(
        httpx.Response(200, json={"size": 10, "collection": [entry(0)]}),
        httpx.Response(200, json={"size": 10, "collection": []}),
    )
    assert [e.provider_id for e in make(wire).iter_blacklist(q="485")] == ["id0"]
    assert len(wire.requests) == 2
    assert all(r.url.params["q"] == "485" for r in wire.requests)


def test_blacklist_returns_all_entries_as_e164() -> None:
    wire = Wire(
        httpx.Response(
            200, json={"size": 2, "collection": [entry(0), {**entry(1), "phone_number": "37255555555"}]}
        )
    )
    assert [e.phone for e in make(wire).blacklist()] == ["+48500600700", "+37255555555"]


def test_a_number_phonenumbers_does_not_know_is_kept() -> None:
    wire = Wire(
        httpx.Response(200, json={"size": 1, "collection": [{**entry(0), "phone_number": "4812345"}]})
    )
    assert [e.phone for e in make(wire).blacklist()] == ["+4812345"]


@pytest.mark.parametrize("phone", ["+48500600700", "48500600700", "+48 500 600 700", "0048500600700"])
def test_add_sends_digits_only(phone: str) -> None:
    created = {**entry(0), "expire_at": None}
    wire = Wire(httpx.Response(201, json=created))
    assert make(wire).blacklist_add(phone) is True
    assert (wire.last.method, wire.last.url.path) == ("POST", "/smsapi/blacklist/phone_numbers")
    assert body_of(wire.last) == {"phone_number": "48500600700"}


def test_add_with_expiry_returns_the_created_entry() -> None:
    created = {**entry(0), "expire_at": "2030-01-01"}
    wire = Wire(httpx.Response(201, json=created))
    added = make(wire).add_blacklist_entry("+48500600700", expire_at=date(2030, 1, 1))
    assert body_of(wire.last) == {"phone_number": "48500600700", "expire_at": "2030-01-01"}
    assert added == BlacklistEntry("+48500600700", "id0", "2024-01-01T00:00:00+00:00", "2030-01-01")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (409, {"message": "Conflict", "error": "conflict"}),
        (
            400,
            {
                "message": "Phone number already exists",
                "error": "invalid_domain_logic",
                "errors": [
                    {
                        "message": "Phone number is duplicated",
                        "error": "duplicated",
                        "path": "phone_number",
                        "value": "48500600700",
                    }
                ],
            },
        ),
    ],
)
def test_add_of_a_listed_number_returns_false(status: int, body: dict[str, Any]) -> None:
    assert make(Wire(httpx.Response(status, json=body))).blacklist_add("+48500600700") is False


def test_add_validation_error_is_permanent_with_code_detail_and_field() -> None:
    body = {
        "message": "Invalid request",
        "error": "invalid_request",
        "developer_description": "phone_number does not match the numbering plan",
        "errors": [
            {
                "message": "Invalid phone number",
                "error": "invalid_phone_number",
                "path": "phone_number",
                "value": "x",
            }
        ],
    }
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(400, json=body))).blacklist_add("+48500600700")
    error = caught.value
    assert (error.code, error.field, error.status_code) == ("invalid_request", "phone_number", 400)
    assert "Invalid phone number" in error.detail and "numbering plan" in error.detail


def test_add_of_a_malformed_number_is_invalid_input_without_a_request() -> None:
    wire = Wire()
    with pytest.raises(InvalidInput):
        make(wire).blacklist_add("not a number")
    assert wire.requests == []


def test_delete_by_id() -> None:
    wire = Wire(httpx.Response(204), httpx.Response(404, json={"message": "Not found", "error": "not_found"}))
    client = make(wire)
    assert client.blacklist_remove(BlacklistEntry("+48500600700", "id0")) is True
    assert (wire.last.method, wire.last.url.path) == ("DELETE", "/smsapi/blacklist/phone_numbers/id0")
    assert client.delete_blacklist_entry("id0") is False


def test_remove_without_an_id_finds_the_entry_by_number() -> None:
    wire = Wire(
        httpx.Response(
            200, json={"size": 2, "collection": [entry(0), {**entry(1), "phone_number": "148500600700"}]}
        ),
        httpx.Response(204),
    )
    assert make(wire).blacklist_remove(BlacklistEntry("+48500600700")) is True
    assert wire.requests[0].url.params["q"] == "48500600700"
    assert [r.method for r in wire.requests] == ["GET", "DELETE"]
    assert wire.last.url.path.endswith("/id0")


@pytest.mark.parametrize("confirm", [None, False, "yes", 1])
def test_delete_all_refuses_without_an_explicit_confirmation(confirm: Any) -> None:
    wire = Wire()
    client = make(wire)
    with pytest.raises(ValueError, match="confirm=True"):
        if confirm is None:
            client.delete_all_blacklist()
        else:
            client.delete_all_blacklist(confirm=confirm)
    assert wire.requests == []


def test_delete_all_with_confirmation() -> None:
    wire = Wire(httpx.Response(204))
    make(wire).delete_all_blacklist(confirm=True)
    assert (wire.last.method, wire.last.url.path) == ("DELETE", "/smsapi/blacklist/phone_numbers")


def test_export_csv_asks_for_text_csv() -> None:
    csv = "phone_number,expire_at\n48500600700,\n"
    wire = Wire(httpx.Response(200, text=csv, headers={"Content-Type": "text/csv"}))
    assert make(wire).export_blacklist_csv(q="485") == csv
    assert wire.last.headers["Accept"] == "text/csv"
    assert (wire.last.method, wire.last.url.path, wire.last.url.params["q"]) == (
        "GET",
        "/smsapi/blacklist/phone_numbers",
        "485",
    )


def test_export_of_an_empty_list_is_empty() -> None:
    assert make(Wire(httpx.Response(204))).export_blacklist_csv() == ""


def test_import_uploads_the_csv_as_a_file() -> None:
    wire = Wire(httpx.Response(202))
    make(wire).import_blacklist_csv("48500600700\n48500600701\n")
    request = wire.last
    assert (request.method, request.url.path) == ("POST", "/smsapi/blacklist/phone_numbers/imports")
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="file"; filename="blacklist.csv"' in request.content
    assert b"48500600700\n48500600701\n" in request.content


def test_import_refusal_is_an_error() -> None:
    with pytest.raises(PermanentError) as caught:
        make(
            Wire(httpx.Response(400, json={"message": "Bad file", "error": "invalid_file"}))
        ).import_blacklist_csv("x")
    assert caught.value.code == "invalid_file"


def test_export_in_chunks_sends_offset_and_limit() -> None:
    wire = Wire(httpx.Response(200, text="phone_number\n48500600700\n", headers={"Content-Type": "text/csv"}))
    make(wire).export_blacklist_csv(offset=100, limit=50)
    assert dict(wire.last.url.params) == {"offset": "100", "limit": "50"}


def test_async_export_returns_the_file_id() -> None:
    wire = Wire(httpx.Response(202, json={"file_id": "f1"}))
    assert make(wire).start_blacklist_export(q="485") == "f1"
    assert (wire.last.headers["x-async"], wire.last.headers["Accept"]) == ("true", "text/csv")
    assert (wire.last.method, wire.last.url.path, dict(wire.last.url.params)) == (
        "GET",
        "/smsapi/blacklist/phone_numbers",
        {"q": "485"},
    )


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (httpx.Response(202, json={}), TransientError),
        (httpx.Response(401, json={"message": "Unauthorized", "error": "unauthorized"}), PermanentError),
    ],
)
def test_async_export_failures(reply: httpx.Response, kind: type[Exception]) -> None:
    with pytest.raises(kind):
        make(Wire(reply)).start_blacklist_export()
