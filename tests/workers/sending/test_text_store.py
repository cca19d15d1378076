from __future__ import annotations

import hashlib
import json

from smsq.workers.sending.text_store import stored_body

BODY = json.dumps(
    {"to": "+37251234567", "messages": [
        {"channel": "sms", "text": "secret"}, {"channel": "whatsapp", "text": {"body": "secret"}},
        {"channel": "viber", "image_url": "https://i.example/a.png"}]}
)  # fmt: skip


def test_plaintext_keeps_the_body_as_is() -> None:
    assert stored_body(BODY, "plaintext") == BODY


def test_sha256_keeps_only_hashes_of_every_text() -> None:
    parts = json.loads(stored_body(BODY, "sha256"))["messages"]
    digest = "sha256:" + hashlib.sha256(b"secret").hexdigest()
    assert parts[0]["text"] == digest and parts[1]["text"]["body"] == digest
    assert parts[2] == {"channel": "viber", "image_url": "https://i.example/a.png"}


def test_nostore_drops_every_text() -> None:
    stored = stored_body(BODY, "nostore")
    assert "secret" not in stored
    assert json.loads(stored)["messages"][0] == {"channel": "sms"}
