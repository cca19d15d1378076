from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.sandbox.conftest import SMSAPI_HEADERS

BASE = "/smsapi/blacklist/phone_numbers"


def add(client: TestClient, phone_number: str, expire_at: str | None = None) -> Any:
    body: dict[str, Any] = {"phone_number": phone_number}
    if expire_at is not None:
        body["expire_at"] = expire_at
    return client.post(BASE, json=body, headers=SMSAPI_HEADERS)


def listing(client: TestClient, **params: Any) -> Any:
    return client.get(BASE, params=params, headers=SMSAPI_HEADERS)


def test_add_returns_201_with_the_created_entry(client: TestClient) -> None:
    response = add(client, "48500000000", "2027-12-31")

    assert response.status_code == 201
    entry = response.json()
    assert set(entry) == {"id", "phone_number", "created_at", "expire_at"}
    assert (entry["phone_number"], entry["expire_at"]) == ("48500000000", "2027-12-31")
    assert entry["created_at"].startswith("2027-01-15T08:00:00")
    assert add(client, "48500000001").json()["expire_at"] is None


def test_add_accepts_form_encoding_too(client: TestClient) -> None:
    response = client.post(BASE, data={"phone_number": "48500000000"}, headers=SMSAPI_HEADERS)

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "phone_number"),
        ({"phone_number": "+48500000000"}, "phone_number"),
        ({"phone_number": "1234567"}, "phone_number"),
        ({"phone_number": "12345678901234567"}, "phone_number"),
        ({"phone_number": 48500000000}, "phone_number"),
        ({"phone_number": "48500000000", "expire_at": "soon"}, "expire_at"),
    ],
)
def test_invalid_entry_is_400_with_the_field_path(
    client: TestClient, body: dict[str, Any], path: str
) -> None:
    response = client.post(BASE, json=body, headers=SMSAPI_HEADERS)

    assert response.status_code == 400
    payload = response.json()
    assert set(payload) >= {"message", "error"}
    assert payload["errors"][0]["path"] == path


def test_duplicate_number_is_409(client: TestClient) -> None:
    add(client, "48500000000")

    response = add(client, "48500000000")

    assert response.status_code == 409
    assert response.json()["error"] == "already_exists"


def test_empty_list_is_204(client: TestClient) -> None:
    assert listing(client).status_code == 204


@pytest.mark.parametrize(
    ("params", "size", "numbers"),
    [
        ({}, 25, [f"485000000{i:02d}" for i in range(20)]),  # small default page
        ({"limit": 5}, 25, [f"485000000{i:02d}" for i in range(5)]),
        ({"offset": 20, "limit": 10}, 25, [f"485000000{i:02d}" for i in range(20, 25)]),
        ({"offset": 30}, 25, []),
        # q matches any part of the number: "0001" is in ...0001 and in ...0010 to ...0019.
        ({"q": "0001"}, 11, ["48500000001"] + [f"485000000{i}" for i in range(10, 20)]),
        ({"q": "0002", "offset": 2, "limit": 2}, 6, ["48500000021", "48500000022"]),
    ],
)
def test_paging_and_search(client: TestClient, params: dict[str, Any], size: int, numbers: list[str]) -> None:
    for i in range(25):
        add(client, f"485000000{i:02d}")

    response = listing(client, **params)

    assert response.status_code == 200
    assert response.json()["size"] == size
    assert [entry["phone_number"] for entry in response.json()["collection"]] == numbers


def test_search_without_matches_is_204(client: TestClient) -> None:
    add(client, "48500000000")

    assert listing(client, q="999").status_code == 204


@pytest.mark.parametrize("params", [{"limit": 0}, {"offset": -1}, {"limit": "ten"}])
def test_bad_paging_is_400(client: TestClient, params: dict[str, Any]) -> None:
    assert listing(client, **params).status_code == 400


def test_delete_by_id_then_404(client: TestClient) -> None:
    entry_id = add(client, "48500000000").json()["id"]
    add(client, "48500000001")

    assert client.delete(f"{BASE}/{entry_id}", headers=SMSAPI_HEADERS).status_code == 204
    again = client.delete(f"{BASE}/{entry_id}", headers=SMSAPI_HEADERS)
    assert again.status_code == 404
    assert set(again.json()) >= {"message", "error"}
    assert [e["phone_number"] for e in listing(client).json()["collection"]] == ["48500000001"]


def test_delete_all_clears_the_list(client: TestClient) -> None:
    add(client, "48500000000")
    add(client, "48500000001")

    assert client.delete(BASE, headers=SMSAPI_HEADERS).status_code == 204
    assert listing(client).status_code == 204


def test_csv_export(client: TestClient) -> None:
    add(client, "48500000000", "2027-12-31")
    add(client, "48500000001")

    response = client.get(BASE, headers={**SMSAPI_HEADERS, "Accept": "text/csv"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["phone_number"], row["expire_at"]) for row in rows] == [
        ("48500000000", "2027-12-31"),
        ("48500000001", ""),
    ]


def test_async_export_is_202_with_a_file_id(client: TestClient) -> None:
    add(client, "48500000000")

    response = client.get(BASE, headers={**SMSAPI_HEADERS, "Accept": "text/csv", "x-async": "true"})

    assert response.status_code == 202
    file_id = response.json()["file_id"]
    exported = client.get(f"/_admin/smsapi/exports/{file_id}")
    assert "48500000000" in exported.text


def test_csv_import_as_file_upload(client: TestClient) -> None:
    add(client, "48500000001")
    content = "phone_number,expire_at\n48500000000,2027-12-31\n+48500000002,\n48500000001,\nnot-a-number,\n"

    response = client.post(
        f"{BASE}/imports", files={"file": ("list.csv", content, "text/csv")}, headers=SMSAPI_HEADERS
    )

    assert response.status_code == 202
    assert response.json() == {"imported": 2, "skipped": 2}
    numbers = [entry["phone_number"] for entry in listing(client).json()["collection"]]
    assert numbers == ["48500000001", "48500000000", "48500000002"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", BASE), ("POST", BASE), ("DELETE", BASE), ("DELETE", f"{BASE}/x"), ("POST", f"{BASE}/imports")],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_bad_token_is_401(client: TestClient, method: str, path: str, headers: dict[str, str]) -> None:
    response = client.request(method, path, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
