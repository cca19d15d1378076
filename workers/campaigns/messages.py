"""Turning a stored record into the omnimessage to send: a plain record carries its body; a campaign
record carries its recipient and variables, and the body is rendered from the campaign's template."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import redis
from pydantic import ValidationError

from smsq.producers.campaigns.model import render_body
from smsq.producers.core.keys import Keys
from smsq.producers.core.records import BODY, CAMPAIGN_ID, PRIORITY, TO, VARS
from smsq.producers.errors import InvalidInput, UnsendableRecord
from smsq.producers.messages.models import Omnimessage


class CampaignTemplates:
    """Campaign template bodies, cached per process: a batch of 500 needs one read, not 500."""

    def __init__(self, client: redis.Redis, keys: Keys, *, size: int = 64) -> None:
        self.redis = client
        self.keys = keys
        self.size = size
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def body(self, campaign_id: str) -> dict[str, Any]:
        if campaign_id in self._cache:
            self._cache.move_to_end(campaign_id)
            return self._cache[campaign_id]
        raw = self.redis.hget(self.keys.campaign(campaign_id), "template")
        if not raw:
            raise UnsendableRecord("corrupt", f"campaign {campaign_id} has no template")
        body: dict[str, Any] = json.loads(str(raw))
        self._cache[campaign_id] = body
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return body


def message_from_record(record: Mapping[str, str], templates: CampaignTemplates | None) -> Omnimessage:
    try:
        if BODY in record:
            return Omnimessage.model_validate_json(record[BODY])
        campaign_id = record.get(CAMPAIGN_ID)
        if not campaign_id or templates is None:
            raise UnsendableRecord("corrupt", "the record has neither a body nor a campaign")
        variables = json.loads(record[VARS]) if record.get(VARS) else {}
        body = render_body(templates.body(campaign_id), variables)
        return Omnimessage.model_validate({**body, "to": record[TO], "priority": record.get(PRIORITY, "low")})
    except InvalidInput as exc:  # a variable the template needs is missing
        raise UnsendableRecord("template", str(exc)) from None
    except (ValidationError, KeyError, ValueError) as exc:
        raise UnsendableRecord("corrupt", f"stored message cannot be decoded: {exc}") from None
