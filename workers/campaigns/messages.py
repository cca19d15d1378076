"""Turning a stored record into the omnimessage to send: a plain record carries its body; a campaign
record carries its recipient and variables, and the body is rendered from the campaign's template."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import redis
from pydantic import ValidationError

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.producers.campaigns.model import render_body
from smsq.producers.core.keys import Keys
from smsq.producers.core.records import BODY, CAMPAIGN_ID, MESSAGE_CLASS, PRIORITY, TO, VARS
from smsq.producers.errors import InvalidInput, UnsendableRecord
from smsq.producers.messages.models import Omnimessage
from smsq.producers.windows.check import MARKETING


class CampaignTemplates:
    """Campaign template bodies, cached per process: a batch of 500 needs one read, not 500.

    ``limits`` are the deployment's (``settings.limits``): a stored message is decoded under the same
    limits that accepted it, so a deployment that raised a limit does not fail its own messages."""

    def __init__(
        self, client: redis.Redis, keys: Keys, *, size: int = 64, limits: LimitSettings = DEFAULT_LIMITS
    ) -> None:
        self.redis = client
        self.keys = keys
        self.size = size
        self.limits = limits
        self._cache: OrderedDict[str, tuple[dict[str, Any], str]] = OrderedDict()

    def body(self, campaign_id: str) -> dict[str, Any]:
        return self._read(campaign_id)[0]

    def message_class(self, campaign_id: str) -> str:
        """The campaign's class (a campaign stored before classes existed is marketing, the default)."""
        return self._read(campaign_id)[1]

    def _read(self, campaign_id: str) -> tuple[dict[str, Any], str]:
        if campaign_id in self._cache:
            self._cache.move_to_end(campaign_id)
            return self._cache[campaign_id]
        raw, kind = self.redis.hmget(self.keys.campaign(campaign_id), ["template", MESSAGE_CLASS])
        if not raw:
            raise UnsendableRecord("corrupt", f"campaign {campaign_id} has no template")
        entry: tuple[dict[str, Any], str] = (json.loads(str(raw)), str(kind or MARKETING))
        self._cache[campaign_id] = entry
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return entry


def message_from_record(record: Mapping[str, str], templates: CampaignTemplates | None) -> Omnimessage:
    context = {"limits": templates.limits if templates is not None else DEFAULT_LIMITS}
    try:
        if BODY in record:
            return Omnimessage.model_validate_json(record[BODY], context=context)
        campaign_id = record.get(CAMPAIGN_ID)
        if not campaign_id or templates is None:
            raise UnsendableRecord("corrupt", "the record has neither a body nor a campaign")
        variables = json.loads(record[VARS]) if record.get(VARS) else {}
        body = render_body(templates.body(campaign_id), variables)
    except InvalidInput as exc:  # a variable the template needs is missing
        raise UnsendableRecord("template", str(exc)) from None
    except (ValidationError, KeyError, ValueError) as exc:
        raise UnsendableRecord("corrupt", f"stored message cannot be decoded: {exc}") from None
    try:
        addressed = {**body, "to": record[TO], "priority": record.get(PRIORITY, "low")}
        return Omnimessage.model_validate(addressed, context=context)
    except ValidationError as exc:
        # The template was valid; this recipient's variables made it invalid (a text over its
        # limit, too many SMS parts): the message fails naming why, as the producer would have.
        reason = InvalidInput.from_validation_error(exc, prefix="rendered message")
        raise UnsendableRecord("template", str(reason)) from None
    except KeyError as exc:
        raise UnsendableRecord("corrupt", f"stored message cannot be decoded: missing {exc}") from None
