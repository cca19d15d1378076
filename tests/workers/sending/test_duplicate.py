"""A send the provider refuses as a repeat (SMSAPI code 53: idx already used) is a success: the
message is `sent`, and the attempt log says nothing new went out."""

from __future__ import annotations

import json

import httpx
from pydantic import SecretStr

from smsq.config.settings import RetrySettings, SmsapiSettings
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.workers.providers.smsapi.sms import SmsapiClient
from smsq.workers.sending.single import DUPLICATE_NOTE, Sender, send_message
from tests.support.fakes import RecordingPublisher
from tests.support.sending import accept, make_sender

REPEATED_IDX = {
    "error": 53,
    "message": "Not unique idx parameter, message with the same idx has been already sent",
}
ACCEPTED = {
    "count": 1,
    "list": [{"id": "17006321", "number": "48500600700", "status": "QUEUE", "error": None}],
}


def sender_answering(store: MessageStore, body: dict[str, object]) -> tuple[Sender, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body)

    settings = SmsapiSettings(base_url="https://smsapi.test", token=SecretStr("t"))
    client = SmsapiClient.from_settings(settings, transport=httpx.MockTransport(answer))
    return make_sender(store, client, retry=RetrySettings(max_attempts=3)), seen


def test_a_repeated_idx_is_recorded_as_sent_with_a_duplicate_note(store: MessageStore) -> None:
    sender, seen = sender_answering(store, REPEATED_IDX)
    message_id = accept(store, to="+48500600700")
    outcome = send_message(message_id, sender)
    assert outcome.status == "sent"
    assert json.loads(seen[0].content)["idx"] == message_id
    result = Smsq(store, RecordingPublisher()).result(message_id)
    assert (result.status, result.provider, result.provider_message_id) == ("sent", "smsapi", message_id)
    assert [(a.outcome, a.code, a.detail) for a in result.attempt_log] == [
        ("sent", "duplicate", DUPLICATE_NOTE)
    ]
    assert result.last_error is None


def test_a_first_send_has_no_note(store: MessageStore) -> None:
    sender, _ = sender_answering(store, ACCEPTED)
    message_id = accept(store, to="+48500600700")
    assert send_message(message_id, sender).status == "sent"
    result = Smsq(store, RecordingPublisher()).result(message_id)
    assert result.provider_message_id == "17006321"
    assert [(a.outcome, a.code, a.detail) for a in result.attempt_log] == [("sent", None, None)]
