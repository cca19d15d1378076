from __future__ import annotations

from typing import Any

import pytest

from smsq.producers.errors import InvalidInput
from smsq.workers.payloads import SendPayload, SubmitPayload, decode

GOOD_ID = "00000000-0000-4000-8000-000000000001"


def test_a_good_payload_decodes() -> None:
    assert str(decode(SendPayload, (), {"message_id": GOOD_ID}).message_id) == GOOD_ID
    submit = decode(SubmitPayload, (), {"message": {"to": "x"}, "idempotency_key": "k"})
    assert submit.idempotency_key == "k"


@pytest.mark.parametrize(
    ("model", "args", "kwargs", "field"),
    [
        (SendPayload, (), {}, "message_id"),
        (SendPayload, (), {"message_id": "nope"}, "message_id"),
        (SendPayload, (), {"message_id": GOOD_ID, "extra": 1}, "extra"),
        (SendPayload, (GOOD_ID,), {}, "args"),
        (SubmitPayload, (), {"message": "text"}, "message"),
        (SubmitPayload, (), {}, "message"),
    ],
)
def test_a_bad_payload_names_what_is_wrong(
    model: Any, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode(model, args, kwargs)
    assert caught.value.problems[0][0] == field
