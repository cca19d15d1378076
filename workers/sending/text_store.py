"""Honour `text_store` after a send: keep the text, keep only its SHA-256, or keep nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stored_body(body_json: str, text_store: str) -> str:
    if text_store == "plaintext":
        return body_json
    body = json.loads(body_json)
    for part in body.get("messages", []):
        _rewrite(part, "text", text_store)
        if isinstance(part.get("text"), dict):  # whatsapp {"body": ...}
            _rewrite(part["text"], "body", text_store)
    return json.dumps(body, separators=(",", ":"))


def _rewrite(container: dict[str, Any], field: str, text_store: str) -> None:
    value = container.get(field)
    if not isinstance(value, str):
        return
    if text_store == "sha256":
        container[field] = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    else:
        del container[field]
