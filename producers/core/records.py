"""The fields of a message record: one Redis hash per message (``Keys.record``), written through
``MessageStore`` and ``lua/records.lua`` (which spells the same names: status, created_ms,
campaign_id, lease_token, attempt_log, updated_ms, final_ms, ...). Every module reads and writes a
record by these names, so a field is renamed in one place.
"""

from __future__ import annotations

from typing import Final

# -- what was asked --------------------------------------------------------------------------------
ID: Final = "id"  # single messages; a campaign record's id is only in its key (the store adds it)
STATUS: Final = "status"  # smsq.producers.core.states
TO: Final = "to"  # E.164
PRIORITY: Final = "priority"  # low | regular | high
CHANNELS: Final = "channels"  # the chain, comma-separated: "viber,sms"
BODY: Final = "body"  # the omnimessage JSON (single messages; campaigns render from the template)
IDEMPOTENCY_KEY: Final = "idempotency_key"
KEY_ID: Final = "key_id"  # the API key that accepted it ('' or absent: the Python producer API)
TEST: Final = "test"  # "1": accepted by a test key: sent by the simulated provider, kept out of live counts

# -- what the SMS part costs (smsq.producers.messages.segments), set at acceptance ------------------
SMS_ENCODING: Final = "sms_encoding"  # GSM-7 | UCS-2
SMS_SEGMENTS: Final = "sms_segments"  # parts billed
SMS_CHARACTERS: Final = "sms_characters"  # characters as sent (after autoconvert)
MESSAGE_CLASS: Final = "message_class"  # transactional | marketing (smsq.producers.windows)
WINDOW_DEFERRED: Final = "window_deferred"  # "1": held until the recipient's send window opened

# -- campaign records --------------------------------------------------------------------------------
CAMPAIGN_ID: Final = "campaign_id"
POSITION: Final = "position"  # the recipient's line (CSV) or place (list) in the campaign's input
VARS: Final = "vars"  # the recipient's template variables, JSON

# -- sending -----------------------------------------------------------------------------------------
LEASE_TOKEN: Final = "lease_token"  # held by the worker sending it ('' when none)
ATTEMPTS: Final = "attempts"
ATTEMPT_LOG: Final = "attempt_log"  # JSON entries joined by ',' (appended by records.lua)
PROVIDER: Final = "provider"
PROVIDER_MESSAGE_ID: Final = "provider_message_id"
PROVIDER_PARTS: Final = "provider_parts"  # JSON [{channel, id, sender}]: one per part the provider sent
PROVIDER_SCHEDULED: Final = "provider_scheduled"  # "1": the provider holds it until time_to_send
LAST_FAILED_PROVIDER: Final = "last_failed_provider"  # the next attempt tries another first
LAST_ERROR_CODE: Final = "last_error_code"
LAST_ERROR_DETAIL: Final = "last_error_detail"
# Written just before the request leaves (mark_calling.lua): a lost lease without it was never sent.
CALL_PROVIDER: Final = "call_provider"
# A resend after a lost lease to an idempotent provider (SMSAPI idx) goes to that provider alone.
RESEND_VIA: Final = "resend_via"
# The W3C trace context the message was accepted under, with tracing on (smsq.telemetry.tracing):
# lua/records.lua copies it onto each callback event, so the delivery joins the message's trace.
TRACEPARENT: Final = "traceparent"
# The sequence number of the message's last callback event (lua/records.lua counts it).
CALLBACK_SEQ: Final = "callback_seq"
CHANNEL_PREFIX: Final = "ch:"  # ch:<channel>: that channel's latest status, JSON (workers.status.settle)

# -- timestamps (ms since the epoch) -----------------------------------------------------------------
CREATED_MS: Final = "created_ms"
UPDATED_MS: Final = "updated_ms"
SCHEDULED_FOR_MS: Final = "scheduled_for_ms"
QUEUED_MS: Final = "queued_ms"
PUBLISHED_MS: Final = "published_ms"  # its task's last publish (mark_published.lua): the recovery check
SENT_MS: Final = "sent_ms"
FINAL_MS: Final = "final_ms"

MAX_ERROR_DETAIL: Final = 500


def stamp(status: str) -> str:
    """The field a transition to a non-final ``status`` stamps with its time (``queued_ms``, ...)."""
    return f"{status}_ms"


def error_fields(code: str | None, detail: str) -> dict[str, str]:
    """The last error of a message, as its record keeps it."""
    return {LAST_ERROR_CODE: code or "", LAST_ERROR_DETAIL: detail[:MAX_ERROR_DETAIL]}
