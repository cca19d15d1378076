"""The producer's two-factor calls: validation before anything is queued, answers and errors."""

from __future__ import annotations

from typing import Any

import pytest

from smsq.config import contract as names
from smsq.producers.errors import InvalidInput, TwoFactorFailed
from smsq.producers.two_factor import TwoFactor
from tests.support.fakes import RecordingPublisher

SESSION = "a" * 32


def two_factor(answer: Any) -> tuple[TwoFactor, RecordingPublisher]:
    publisher = RecordingPublisher()
    publisher.answer = answer
    return TwoFactor(publisher), publisher


def test_send_code_queues_the_number_in_e164_on_the_high_lane() -> None:
    client, publisher = two_factor({"session_id": SESSION, "expires_in": 300, "sms": "sent"})
    session = client.send_code("+372 5100 0001", pin_length=6)
    assert (session.session_id, session.expires_in, session.sms) == (SESSION, 300, "sent")
    assert publisher.published == [
        (names.TWO_FACTOR_SEND_TASK, {"number": "+37251000001", "pin_length": 6}, names.HIGH)
    ]


@pytest.mark.parametrize(
    ("number", "pin_length", "field"),
    [("not a number", None, "number"), ("+999", None, "number"), ("+37251000001", 3, "pin_length"),
     ("+37251000001", 21, "pin_length"), ("+37251000001", True, "pin_length")],
)  # fmt: skip
def test_bad_send_input_is_refused_and_nothing_is_queued(number: str, pin_length: Any, field: str) -> None:
    client, publisher = two_factor(None)
    with pytest.raises(InvalidInput, match=field):
        client.send_code(number, pin_length=pin_length)
    assert publisher.published == []


@pytest.mark.parametrize(
    ("session_id", "pin", "field"),
    [("short", "123456", "session_id"), (SESSION.upper(), "123456", "session_id"), (SESSION, "", "pin"),
     (SESSION, "12 34", "pin"), (SESSION, "1" * 21, "pin"), (None, "123456", "session_id")],
)  # fmt: skip
def test_bad_verify_input_is_refused_and_nothing_is_queued(session_id: Any, pin: str, field: str) -> None:
    client, publisher = two_factor(None)
    with pytest.raises(InvalidInput, match=field):
        client.verify(session_id, pin)
    assert publisher.published == []


def test_verify_answers_the_outcome() -> None:
    client, publisher = two_factor({"outcome": "mismatch", "detail": "PIN and PIN ID not matching"})
    verdict = client.verify(SESSION, " 123456 ")
    assert verdict.outcome == "mismatch" and not verdict.authenticated
    assert publisher.published[0][1] == {"session_id": SESSION, "pin": "123456"}


@pytest.mark.parametrize("answer", [{"error": "unavailable", "detail": "not configured"}, "nonsense"])
def test_a_refusal_or_a_malformed_answer_raises_two_factor_failed(answer: Any) -> None:
    client, _ = two_factor(answer)
    with pytest.raises(TwoFactorFailed):
        client.send_code("+37251000001")
