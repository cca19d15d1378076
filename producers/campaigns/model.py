"""Campaigns: one template to many recipients. The model, its Redis keys, and control (pause,
resume, cancel, progress). Expansion (recipients -> stored, queued messages) is in
``smsq.producers.campaigns.expansion``; sending in ``smsq.workers.campaigns.sending``.

A campaign's messages are ordinary message records (one hash each, same state machine) with a
compact shape: no body, only the recipient, its template variables and the campaign id; the text
is rendered from the campaign template at send time. Message ids are derived from the campaign id
and the recipient's position (uuid5), so a batch of work is just a range of positions.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import Channel, Omnimessage, Priority, TextStore, Url, UtcDatetime
from smsq.producers.messages.personalise import placeholders, render

NAMESPACE = uuid.UUID("6f1b7c1e-2a59-4c57-9a53-5d1f3c8e0b21")  # smsq campaign message ids
_NAMESPACE_BYTES = NAMESPACE.bytes
PENDING = ("scheduled", "queued", "sending")
_CAMPAIGN_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)  # fullmatched: "$" lets a trailing newline in


class CampaignTemplate(BaseModel):
    """The omnimessage every recipient gets, with %var% placeholders in its texts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[Channel] = Field(min_length=1, max_length=4)
    dlr_url: Url | None = None
    text_store: TextStore = "plaintext"
    time_to_send: UtcDatetime | None = None
    priority: Priority = "low"

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"time_to_send", "priority"})

    def variables(self) -> list[str]:
        """Every %var% the template uses, in order."""
        return list(dict.fromkeys(name for text in _strings(self.body()) for name in placeholders(text)))


def parse_template(data: object, limits: LimitSettings = DEFAULT_LIMITS) -> CampaignTemplate:
    context = {"limits": limits}
    try:
        template = CampaignTemplate.model_validate(data, context=context)
        # The chain must also be a valid omnimessage once addressed (channel rules, each once).
        Omnimessage.model_validate({**template.body(), "to": "+37251234567"}, context=context)
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error, prefix="template") from None
    except RecursionError:
        raise InvalidInput([("template", "is nested too deeply")]) from None
    return template


def render_body(template_body: Mapping[str, Any], variables: Mapping[str, object]) -> dict[str, Any]:
    """The template with every %var% filled (raises MissingVariable naming what is missing)."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return render(value, variables) if "%" in value else value
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return dict(fill(dict(template_body)))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def message_id(campaign_id: str, position: int) -> str:
    """uuid5(NAMESPACE, "<campaign id>:<position>"), computed without building UUID objects (a
    million-recipient campaign makes a million of them): SHA-1 of the namespace and name, first 16
    bytes, version nibble 5, RFC 4122 variant bits."""
    digest = _campaign_hash(campaign_id).copy()
    digest.update(str(position).encode())
    h = digest.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


@lru_cache(maxsize=64)
def _campaign_hash(campaign_id: str) -> Any:
    return hashlib.sha1(_NAMESPACE_BYTES + f"{campaign_id}:".encode())


# The high two bits of the variant nibble are 10: 0-3 -> 8-b, 4-7 -> 8-b, ...
_VARIANT = {c: format((int(c, 16) & 0x3) | 0x8, "x") for c in "0123456789abcdef"}


def checked_campaign_id(campaign_id: str) -> str:
    if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.fullmatch(campaign_id):
        raise InvalidInput([("campaign_id", f"{campaign_id!r} is not a campaign id (32 hex characters)")])
    return campaign_id


@dataclass(frozen=True)
class CampaignProgress:
    id: str
    name: str
    status: str
    priority: str
    created_at: datetime | None
    time_to_send: datetime | None
    recipients: int  # lines or entries read
    messages: int  # messages created (blocked ones included)
    skipped: dict[str, int]  # reason -> count: invalid_number, duplicate, missing_variable, malformed
    counts: dict[str, int]  # message status -> count
    # SMS parts of the messages to send (blocked ones left out), by encoding: GSM-7 / UCS-2 -> parts.
    sms_segments: dict[str, int] = field(default_factory=dict)
    # marketing (held to the recipients' send windows) or transactional.
    message_class: str = "marketing"

    @property
    def pending(self) -> int:
        return sum(self.counts.get(status, 0) for status in PENDING)

    @property
    def done(self) -> int:
        return sum(count for status, count in self.counts.items() if status not in PENDING)

    @property
    def finished(self) -> bool:
        return self.status in {"running", "cancelled"} and self.pending == 0

    @property
    def shown_status(self) -> str:
        """The stored status, except that a running campaign with nothing left to send is finished."""
        return "finished" if self.status == "running" and self.pending == 0 else self.status


def progress_from(campaign_id: str, record: Mapping[str, str], counts: Mapping[str, str]) -> CampaignProgress:
    def when(name: str) -> datetime | None:
        value = record.get(name)
        return datetime.fromtimestamp(int(value) / 1000).astimezone() if value else None

    return CampaignProgress(
        id=campaign_id,
        name=record.get("name", ""),
        status=record.get("status", "unknown"),
        priority=record.get("priority", "low"),
        created_at=when("created_ms"),
        time_to_send=when("time_to_send_ms"),
        recipients=int(record.get("recipients", 0)),
        messages=int(record.get("messages", 0)),
        skipped=json.loads(record.get("skipped", "{}")),
        counts={status: int(count) for status, count in counts.items() if int(count)},
        sms_segments=json.loads(record.get("sms_segments", "{}")),
        message_class=record.get("message_class", "marketing"),
    )
