from __future__ import annotations

from typing import Any

import messente_api
import pytest
from starlette.testclient import TestClient

from tests.sandbox.conftest import MESSENTE_AUTH
from tests.support.fakes import FakeClock

TO = "+37251234567"
SMS = {"channel": "sms", "text": "Hello", "sender": "smsq"}
VIBER = {"channel": "viber", "text": "Hello on Viber"}


def send(client: TestClient, body: dict[str, Any], auth: Any = MESSENTE_AUTH) -> Any:
    return client.post("/v1/omnimessage", json=body, auth=auth)


def status_of(client: TestClient, omnimessage_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/omnimessage/{omnimessage_id}/status", auth=MESSENTE_AUTH)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_send_returns_201_with_one_message_per_channel_and_parses_with_the_sdk(client: TestClient) -> None:
    response = send(client, {"to": TO, "messages": [SMS, VIBER]})

    assert response.status_code == 201
    parsed = messente_api.OmniMessageCreateSuccessResponse.from_json(response.text)
    assert parsed.to == TO
    assert [message.channel.value for message in parsed.messages] == ["sms", "viber"]
    assert parsed.messages[0].sender == "smsq"
    assert parsed.messages[1].sender == "Messente"  # the account default when none is given
    assert len({parsed.omnimessage_id, *(m.message_id for m in parsed.messages)}) == 3


WHATSAPP_TEMPLATE = {
    "channel": "whatsapp",
    "template": {"name": "otp", "language": {"code": "en"}, "components": [{"type": "body"}]},
}
VIBER_VIDEO = {
    "channel": "viber",
    "video": {"url": "https://v/x.mp4", "thumbnail": "https://v/x.jpg", "file_size": 1000, "duration": 10},
    "text": "watch",
}


@pytest.mark.parametrize(
    "message",
    [
        SMS,
        {"channel": "sms", "text": "x", "validity": 60, "autoconvert": "full", "udh": "050003CC0201"},
        {"channel": "sms", "text": "x", "autoconvert": "false"},  # the SDK's spelling
        {"channel": "viber", "image_url": "https://img/x.png"},
        {"channel": "viber", "text": "t", "button_text": "Go", "button_url": "https://x"},
        {
            "channel": "viber",
            "text": "t",
            "image_url": "https://i",
            "button_text": "Go",
            "button_url": "https://x",
        },
        VIBER_VIDEO,
        WHATSAPP_TEMPLATE,
        {"channel": "whatsapp", "text": {"body": "hi"}},
        {"channel": "telegram", "text": "hi"},
        {"channel": "telegram", "image_url": "https://i/x.png"},
    ],
)
def test_each_channel_shape_is_accepted(client: TestClient, message: dict[str, Any]) -> None:
    response = send(client, {"to": TO, "messages": [message], "priority": "high", "text_store": "sha256"})

    assert response.status_code == 201, response.text
    assert response.json()["messages"][0]["channel"] == message["channel"]


@pytest.mark.parametrize(
    ("body", "code", "source"),
    [
        ({"messages": [SMS]}, "106", "to"),
        ({"to": "37251234567", "messages": [SMS]}, "105", "to"),
        ({"to": "+0123", "messages": [SMS]}, "105", "to"),
        ({"to": TO}, "106", "messages"),
        ({"to": TO, "messages": []}, "106", "messages"),
        ({"to": TO, "messages": "sms"}, "105", "messages"),
        ({"to": TO, "messages": [{"text": "x"}]}, "106", "messages[0].channel"),
        ({"to": TO, "messages": [{"channel": "fax", "text": "x"}]}, "105", "messages[0].channel"),
        ({"to": TO, "messages": [{"channel": "sms"}]}, "106", "messages[0].text"),
        ({"to": TO, "messages": [SMS, {"channel": "sms", "text": ""}]}, "106", "messages[1].text"),
        ({"to": TO, "messages": [{**SMS, "ttl": 60, "validity": 1}]}, "105", "messages[0].ttl"),
        ({"to": TO, "messages": [{**SMS, "ttl": -1}]}, "105", "messages[0].ttl"),
        ({"to": TO, "messages": [{**SMS, "autoconvert": "maybe"}]}, "105", "messages[0].autoconvert"),
        ({"to": TO, "messages": [{**SMS, "udh": "xyz"}]}, "105", "messages[0].udh"),
        ({"to": TO, "messages": [{"channel": "viber"}]}, "106", "messages[0].text"),
        (
            {"to": TO, "messages": [{"channel": "viber", "text": "t", "button_text": "b"}]},
            "105",
            "messages[0]",
        ),
        (
            {"to": TO, "messages": [{**VIBER_VIDEO, "video": {**VIBER_VIDEO["video"], "duration": 601}}]},
            "105",
            "messages[0].video.duration",
        ),
        (
            {
                "to": TO,
                "messages": [{**VIBER_VIDEO, "video": {**VIBER_VIDEO["video"], "file_size": 300 << 20}}],
            },
            "105",
            "messages[0].video.file_size",
        ),
        (
            {"to": TO, "messages": [{"channel": "viber", "video": {"url": "u"}}]},
            "106",
            "messages[0].video.thumbnail",
        ),
        ({"to": TO, "messages": [{"channel": "whatsapp"}]}, "106", "messages[0].template"),
        (
            {"to": TO, "messages": [{"channel": "whatsapp", "template": {"language": {"code": "en"}}}]},
            "106",
            "messages[0].template.name",
        ),
        (
            {"to": TO, "messages": [{"channel": "whatsapp", "template": {"name": "n", "language": {}}}]},
            "106",
            "messages[0].template.language.code",
        ),
        ({"to": TO, "messages": [{**WHATSAPP_TEMPLATE, "text": {"body": "x"}}]}, "105", "messages[0]"),
        ({"to": TO, "messages": [{"channel": "telegram"}]}, "106", "messages[0].text"),
        (
            {"to": TO, "messages": [{"channel": "telegram", "image_url": "a", "audio_url": "b"}]},
            "105",
            "messages[0]",
        ),
        ({"to": TO, "messages": [SMS], "dlr_url": "not a url"}, "105", "dlr_url"),
        ({"to": TO, "messages": [SMS], "text_store": "zip"}, "105", "text_store"),
        ({"to": TO, "messages": [SMS], "priority": "urgent"}, "105", "priority"),
        ({"to": TO, "messages": [SMS], "time_to_send": "next tuesday"}, "105", "time_to_send"),
    ],
)
def test_invalid_request_is_400_naming_the_field(
    client: TestClient, body: dict[str, Any], code: str, source: str
) -> None:
    response = send(client, body)

    assert response.status_code == 400
    error = messente_api.ErrorOmnichannel.from_json(response.text).errors[0]
    assert (error.code.value, error.source) == (code, source)
    assert error.title.value == {"105": "Invalid data", "106": "Missing data"}[code]
    assert client.get("/_admin/messages").json()["messente"] == []


def test_body_that_is_not_json_is_invalid_data(client: TestClient) -> None:
    response = client.post("/v1/omnimessage", content=b"{nope", auth=MESSENTE_AUTH)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "105"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/omnimessage"),
        ("POST", "/v1/omnimessages"),
        ("GET", "/v1/omnimessage/x/status"),
        ("DELETE", "/v1/omnimessage/x"),
    ],
)
@pytest.mark.parametrize("auth", [None, ("sandbox", "wrong"), ("nobody", "sandbox")])
def test_bad_basic_auth_is_401_code_103(client: TestClient, method: str, path: str, auth: Any) -> None:
    response = client.request(method, path, json={"to": TO, "messages": [SMS]}, auth=auth)

    assert response.status_code == 401
    error = messente_api.ErrorOmnichannel.from_json(response.text).errors[0]
    assert (error.code.value, error.title.value) == ("103", "Unauthorized")


def test_bulk_answers_each_entry_in_order_and_parses_with_the_sdk(client: TestClient) -> None:
    body = {
        "messages": [
            {"to": TO, "messages": [SMS]},
            {"to": "bad", "messages": [SMS]},
            {"to": TO, "messages": [VIBER]},
        ]
    }

    response = client.post("/v1/omnimessages", json=body, auth=MESSENTE_AUTH)

    assert response.status_code == 201
    entries = messente_api.BulkOmniMessageCreateSuccessResponse.from_json(response.text).messages
    first, second, third = (entry.actual_instance for entry in entries)
    assert isinstance(first, messente_api.OmniMessageCreateSuccessResponse)
    assert isinstance(second, messente_api.ErrorOmnichannel)
    assert second.errors[0].source == "to"
    assert isinstance(third, messente_api.OmniMessageCreateSuccessResponse)
    assert third.messages[0].channel.value == "viber"
    assert len(client.get("/_admin/messages").json()["messente"]) == 2


@pytest.mark.parametrize("body", [{}, {"messages": []}, {"omnimessages": [1]}])
def test_bulk_without_messages_is_106(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/omnimessages", json=body, auth=MESSENTE_AUTH)

    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "title": "Missing data",
        "detail": "Missing required field: messages",
        "code": "106",
        "source": "messages",
    }


@pytest.mark.parametrize(
    ("outcome", "final_status", "err"),
    [
        ("delivered", "DELIVRD", 0),
        ("undeliverable", "UNDELIV", 1),
        ("failed", "FAILED", 3),
        ("expired", "EXPIRED", 2),
        ("rejected", "REJECTD", 9),
    ],
)
def test_status_moves_from_null_to_ack_to_the_configured_outcome(
    client: TestClient, clock: FakeClock, outcome: str, final_status: str, err: int
) -> None:
    client.post("/_admin/outcomes", json={"phone": TO, "outcome": outcome})
    omnimessage_id = send(client, {"to": TO, "messages": [SMS]}).json()["omnimessage_id"]

    seen = []
    for _ in range(3):
        body = status_of(client, omnimessage_id)
        messente_api.DeliveryReportResponse.from_dict(body)  # every stage parses with the SDK
        seen.append((body["statuses"][0]["status"], body["statuses"][0]["err"]))
        clock.advance(1.5)

    assert seen == [(None, None), ("ACK", 0), (final_status, err)]
    final = messente_api.DeliveryReportResponse.from_dict(status_of(client, omnimessage_id)).statuses[0]
    assert final.price_info is not None and final.price_info.parts_count == 1
    assert (final.error is None) == (outcome == "delivered")


def test_a_failed_channel_falls_through_to_the_next_one_in_order(
    client: TestClient, clock: FakeClock
) -> None:
    client.post("/_admin/outcomes", json={"phone": TO, "outcome": "failed", "channel": "sms"})
    created = send(client, {"to": TO, "messages": [SMS, VIBER]}).json()

    clock.advance(3.5)
    assert [s["status"] for s in status_of(client, created["omnimessage_id"])["statuses"]] == ["FAILED", None]
    clock.advance(1.0)
    assert [s["status"] for s in status_of(client, created["omnimessage_id"])["statuses"]] == [
        "FAILED",
        "ACCEPTD",
    ]
    clock.advance(2.0)
    statuses = status_of(client, created["omnimessage_id"])["statuses"]

    assert [(s["channel"], s["status"]) for s in statuses] == [("sms", "FAILED"), ("viber", "DELIVRD")]
    assert [s["message_id"] for s in statuses] == [m["message_id"] for m in created["messages"]]


def test_a_delivered_first_channel_never_tries_the_next(client: TestClient, clock: FakeClock) -> None:
    omnimessage_id = send(client, {"to": TO, "messages": [SMS, VIBER]}).json()["omnimessage_id"]
    clock.advance(60)

    assert [s["channel"] for s in status_of(client, omnimessage_id)["statuses"]] == ["sms"]


def test_number_on_the_messente_blacklist_is_accepted_but_rejected(
    client: TestClient, clock: FakeClock
) -> None:
    client.post("/v1/phonebook/blacklist", json={"phoneNumber": TO}, auth=MESSENTE_AUTH)
    omnimessage_id = send(client, {"to": TO, "messages": [SMS]}).json()["omnimessage_id"]
    clock.advance(10)

    assert status_of(client, omnimessage_id)["statuses"][0]["status"] == "REJECTD"


def test_status_of_unknown_message_is_404_code_101(client: TestClient) -> None:
    response = client.get("/v1/omnimessage/6f1c0000-0000-0000-0000-000000000000/status", auth=MESSENTE_AUTH)

    assert response.status_code == 404
    assert messente_api.ErrorOmnichannel.from_json(response.text).errors[0].code.value == "101"


def scheduled(client: TestClient, seconds_ahead: int) -> str:
    # The fake clock starts at 2027-01-15T08:00:00Z.
    when = f"2027-01-15T08:{seconds_ahead // 60:02d}:{seconds_ahead % 60:02d}"
    response = send(client, {"to": TO, "messages": [SMS], "time_to_send": when})
    assert response.status_code == 201
    omnimessage_id: str = response.json()["omnimessage_id"]
    return omnimessage_id


def test_scheduled_message_waits_until_due_then_progresses(client: TestClient, clock: FakeClock) -> None:
    omnimessage_id = scheduled(client, 600)

    clock.advance(599)
    assert status_of(client, omnimessage_id)["statuses"][0]["status"] is None
    clock.advance(2)
    assert status_of(client, omnimessage_id)["statuses"][0]["status"] == "ACK"


def test_time_to_send_with_an_offset_is_honoured(client: TestClient, clock: FakeClock) -> None:
    body = {"to": TO, "messages": [SMS], "time_to_send": "2027-01-15T10:10:00+02:00"}
    omnimessage_id = send(client, body).json()["omnimessage_id"]

    clock.advance(601)
    assert client.delete(f"/v1/omnimessage/{omnimessage_id}", auth=MESSENTE_AUTH).status_code == 404


def test_cancel_before_due_is_202_empty_object_and_the_message_never_goes(
    client: TestClient, clock: FakeClock
) -> None:
    omnimessage_id = scheduled(client, 600)

    response = client.delete(f"/v1/omnimessage/{omnimessage_id}", auth=MESSENTE_AUTH)

    assert (response.status_code, response.json()) == (202, {})
    clock.advance(3600)
    assert status_of(client, omnimessage_id)["statuses"][0]["status"] == "DELETED"
    again = client.delete(f"/v1/omnimessage/{omnimessage_id}", auth=MESSENTE_AUTH)
    assert again.status_code == 404


@pytest.mark.parametrize("omnimessage_id", ["sent-now", "due", "6f1c0000-0000-0000-0000-000000000000"])
def test_cancel_after_due_or_unknown_is_404(
    client: TestClient, clock: FakeClock, omnimessage_id: str
) -> None:
    if omnimessage_id == "sent-now":
        omnimessage_id = send(client, {"to": TO, "messages": [SMS]}).json()["omnimessage_id"]
    elif omnimessage_id == "due":
        omnimessage_id = scheduled(client, 60)
        clock.advance(60)

    response = client.delete(f"/v1/omnimessage/{omnimessage_id}", auth=MESSENTE_AUTH)

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "101"


@pytest.mark.parametrize(("method", "code", "status"), [("PUT", "107", 405), ("GET", "107", 405)])
def test_wrong_method_is_answered_in_messente_shape(
    client: TestClient, method: str, code: str, status: int
) -> None:
    response = client.request(method, "/v1/omnimessage", auth=MESSENTE_AUTH)

    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code
