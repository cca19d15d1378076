"""`smsq status`, `smsq summary` and `smsq webhooks` as a user runs them: bad input prints one line
naming what is wrong and exits 2."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from smsq.producers.core.store import MessageStore
from tests.cli.conftest import Run


def a_sent_message(redis_client: redis.Redis) -> str:
    store = MessageStore(redis_client, retention_seconds=3600)
    message_id = str(uuid.uuid4())
    fields = {"id": message_id, "status": "queued", "to": "+37251234567", "priority": "regular",
              "channels": "sms,viber", "created_ms": store.now_ms(), "campaign_id": "spring"}  # fmt: skip
    store.create(message_id, fields, idempotency_key=None, due_ms=None)
    store.transition(message_id, "sending")
    store.transition(message_id, "sent", fields={
        "provider": "messente", "provider_message_id": "omni-1",
        "ch:sms": json.dumps({"rank": 3, "status": "undeliverable", "provider_status": "UNDELIV", "err": 1,
                              "error": "Delivery failure", "via": "report"}),
        "ch:viber": json.dumps({"rank": 1, "status": None, "provider_status": "ACCEPTD", "via": "poll"}),
    })  # fmt: skip
    return message_id


def test_status_shows_each_channel(run: Run, redis_client: redis.Redis) -> None:
    message_id = a_sent_message(redis_client)
    code, out, _ = run("status", message_id)
    assert code == 0
    assert "channel sms" in out and "undeliverable (UNDELIV, err 1: Delivery failure) via report" in out
    assert "channel viber" in out and "in progress (ACCEPTD) via poll" in out
    code, out, _ = run("status", message_id, "--json")
    assert [c["channel"] for c in json.loads(out)["channel_results"]] == ["sms", "viber"]


def test_status_of_a_campaign(run: Run, redis_client: redis.Redis) -> None:
    a_sent_message(redis_client)
    code, out, _ = run("status", "--campaign", "spring", "--json")
    assert code == 0 and json.loads(out)["counts"]["sent"] == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("status", "not-an-id"), "message_id: 'not-an-id' is not a message id"),
        (("status", str(uuid.UUID(int=7))), "no message with id"),
        (("status",), "give a message id or --campaign ID"),
        (("status", str(uuid.UUID(int=7)), "--campaign", "x"), "give a message id or --campaign ID"),
        (("status", "--campaign", "nope"), "no campaign with id nope"),
        (("status", "--campaign", "has space"), "campaign_id:"),
        (("summary", "--since", "yesterday"), "--since: 'yesterday' is not an ISO-8601"),
        (("summary", "--since", "2026-01-02", "--until", "2026-01-01"), "until: must be later than since"),
        (("webhooks",), "SMSQ_WEBHOOKS__SECRET is not set"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run: Run, args: tuple[str, ...], says: str) -> None:
    code, _, err = run(*args)
    # One message (rich may wrap it at the console's width), no traceback.
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    assert says in " ".join(err.split())


def test_summary_counts_by_status(run: Run, redis_client: redis.Redis) -> None:
    a_sent_message(redis_client)
    code, out, _ = run("summary", "--json")
    assert code == 0 and json.loads(out)["counts"] == {"sent": 1}
    code, out, _ = run("summary")
    assert code == 0 and "sent" in out and "total" in out
