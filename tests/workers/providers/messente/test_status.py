"""Messente delivery status (GET /omnimessage/{id}/status) and cancel (DELETE /omnimessage/{id}) at the
HTTP seam: one row per DeliveryResult status."""

from __future__ import annotations

import httpx
import pytest

from smsq.workers.providers.base import ChannelStatus
from smsq.workers.providers.errors import PermanentError, RateLimited, TransientError
from smsq.workers.providers.messente import omnichannel as messente
from tests.workers.providers.messente.test_omnichannel import (
    AUTH_HEADER,
    BASE_URL,
    CANCELLED,
    DELIVERY_STATUSES,
    ERROR_STATUSES,
    MESSAGE_ID,
    MESSAGE_ID_2,
    OMNIMESSAGE_ID,
    TIMESTAMP,
    TO,
    UNDOCUMENTED_STATUS,
    FakeMessente,
    answer,
    client_for,
    delivery_result,
    error_body,
    status_body,
)

# Delivery status


@pytest.mark.parametrize(
    ("status", "final"), DELIVERY_STATUSES, ids=[str(row[0]) for row in DELIVERY_STATUSES]
)
def test_status_values(status: str | None, final: bool) -> None:
    fake = FakeMessente(answer(200, status_body(delivery_result(status))))
    report = client_for(fake).status(OMNIMESSAGE_ID)

    request = fake.last
    assert (request.method, str(request.url)) == ("GET", f"{BASE_URL}/omnimessage/{OMNIMESSAGE_ID}/status")
    assert request.headers["Authorization"] == AUTH_HEADER
    assert (report.provider_message_id, report.to) == (OMNIMESSAGE_ID, TO)
    assert report.channels == (
        ChannelStatus(
            channel="sms",
            provider_message_id=MESSAGE_ID,
            status=status,
            err=None if status is None else 0,
            error=None,
            timestamp=TIMESTAMP,
        ),
    )
    assert messente.is_final(status) is final
    assert (status in messente.KNOWN_STATUSES) is (status is not None)


def test_undocumented_status_is_kept_raw_and_not_final() -> None:
    fake = FakeMessente(answer(200, status_body(delivery_result(UNDOCUMENTED_STATUS, err=None))))
    (channel,) = client_for(fake).status(OMNIMESSAGE_ID).channels
    assert channel.status == UNDOCUMENTED_STATUS
    assert not messente.is_final(channel.status)


def test_status_of_a_channel_chain_with_errors() -> None:
    body = status_body(
        delivery_result("FAILED", channel="viber", err=9, error="Unroutable"),
        delivery_result("ACK", message_id=MESSAGE_ID_2, err=999, error="General temporary error"),
    )
    viber, sms = client_for(FakeMessente(answer(200, body))).status(OMNIMESSAGE_ID).channels
    assert (viber.channel, viber.status, viber.err, viber.error) == ("viber", "FAILED", 9, "Unroutable")
    assert (sms.provider_message_id, sms.err) == (MESSAGE_ID_2, messente.TEMPORARY_ERR)


# One row per documented DeliveryResult err code: (err, meaning)
DELIVERY_ERRORS = [(0, "No error"), (1, "Delivery failure"), (2, "Sending message expired"), (3, "Invalid number"),
                   (4, "Error crediting account"), (5, "Invalid number format"), (6, "Too many identical messages"),
                   (7, "Sender name not allowed"), (8, "Operator blacklisted"), (9, "Unroutable"), (10, "Seen"),
                   (999, "General temporary error")]  # fmt: skip


@pytest.mark.parametrize(("err", "meaning"), DELIVERY_ERRORS)
def test_every_documented_err_code_is_read_and_named(err: int, meaning: str) -> None:
    body = status_body(delivery_result("FAILED", err=err, error=meaning))
    (channel,) = client_for(FakeMessente(answer(200, body))).status(OMNIMESSAGE_ID).channels
    assert (channel.err, channel.error) == (err, meaning)
    assert messente.delivery_error(channel.err) == meaning
    assert (err == messente.TEMPORARY_ERR) is (meaning == "General temporary error")


def test_the_err_table_has_exactly_the_documented_codes() -> None:
    assert dict(DELIVERY_ERRORS) == messente.DELIVERY_ERRORS
    assert messente.delivery_error(None) is None
    assert messente.delivery_error(42) == "undocumented error 42"


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (TO, TO),
        (TO.removeprefix("+"), TO),
        ("+372 5123 4567", "+37251234567"),
        ("12", "+12"),
        ("+3725\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "+37251234567"),
    ],
)
def test_the_status_number_comes_back_as_e164(to: str, expected: str) -> None:
    body = {**status_body(delivery_result("DELIVRD")), "to": to}
    assert client_for(FakeMessente(answer(200, body))).status(OMNIMESSAGE_ID).to == expected


def test_status_tolerates_sparse_and_oddly_typed_results() -> None:
    body = status_body(
        {"status": None, "channel": "sms"}, {"status": "DELIVRD", "channel": "sms", "err": "0"}
    )
    pending, delivered = client_for(FakeMessente(answer(200, body))).status(OMNIMESSAGE_ID).channels
    assert pending == ChannelStatus(channel="sms", provider_message_id=None, status=None)
    assert delivered.err == 0


@pytest.mark.parametrize(
    "reply",
    [
        answer(404, error_body("101", "Omnimessage not found")),
        httpx.Response(404),
        httpx.Response(404, text="nope"),
    ],
    ids=["with-body", "empty", "text"],
)
def test_status_of_an_unknown_omnimessage_is_code_101(reply: httpx.Response) -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(reply)).status(OMNIMESSAGE_ID)
    assert (caught.value.code, caught.value.status_code) == (messente.NOT_FOUND, 404)
    assert messente.is_not_found(caught.value)


def test_status_unauthorized() -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(answer(401, error_body("103")))).status(OMNIMESSAGE_ID)
    assert caught.value.code == "103"
    assert not messente.is_not_found(caught.value)


@pytest.mark.parametrize(
    "reply",
    [httpx.Response(200, text="<html>"), answer(200, {"to": TO}), answer(200, {"statuses": [1], "to": TO})],
    ids=["not-json", "no-statuses", "bad-entry"],
)
def test_malformed_status_answer_is_transient(reply: httpx.Response) -> None:
    with pytest.raises(TransientError) as caught:
        client_for(FakeMessente(reply)).status(OMNIMESSAGE_ID)
    assert caught.value.code == "malformed"


def test_status_read_timeout_is_transient() -> None:
    with pytest.raises(TransientError) as caught:
        client_for(FakeMessente(httpx.ReadTimeout("slow"))).status(OMNIMESSAGE_ID)
    assert caught.value.code == "timeout"


def test_ids_are_quoted_in_paths() -> None:
    fake = FakeMessente(answer(202, CANCELLED))
    client_for(fake).cancel("a/b+c")
    assert fake.last.url.raw_path == b"/v1/omnimessage/a%2Fb%2Bc"


# Cancel


def test_cancel_scheduled_message() -> None:
    fake = FakeMessente(answer(202, CANCELLED))
    assert client_for(fake).cancel(OMNIMESSAGE_ID) is True
    request = fake.last
    assert (request.method, str(request.url)) == ("DELETE", f"{BASE_URL}/omnimessage/{OMNIMESSAGE_ID}")
    assert request.headers["Authorization"] == AUTH_HEADER


@pytest.mark.parametrize(
    "reply", [answer(404, error_body("101", "already sent")), httpx.Response(404)], ids=["with-body", "empty"]
)
def test_cancel_of_a_sent_or_unknown_message_is_false(reply: httpx.Response) -> None:
    assert client_for(FakeMessente(reply)).cancel(OMNIMESSAGE_ID) is False


@pytest.mark.parametrize("code", ["102", "103", "107"])
def test_cancel_errors_raise(code: str) -> None:
    with pytest.raises(PermanentError) as caught:
        client_for(FakeMessente(answer(ERROR_STATUSES[code], error_body(code)))).cancel(OMNIMESSAGE_ID)
    assert caught.value.code == code


def test_cancel_server_error_and_rate_limit() -> None:
    with pytest.raises(TransientError):
        client_for(FakeMessente(answer(503))).cancel(OMNIMESSAGE_ID)
    with pytest.raises(RateLimited):
        client_for(FakeMessente(answer(429))).cancel(OMNIMESSAGE_ID)
