"""Upper bounds on everything smsq accepts from outside (``settings.limits``, ``SMSQ_LIMITS__*``).

Each has a safe default; the README's "Bad input" section lists them with the error a refusal
gives. Where a provider documents a bound it is the default (Direct Messenger: 3 SMS parts; Viber
video size and length); where none does (Messente documents no maximum ttl or validity, nor a
maximum text length) the default is a deliberate choice and the setting is the way to change it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class TextLimits(BaseModel):
    """Characters per channel's text, and SMS segments (GSM-7: 160 in one, 153 per part; UCS-2: 70
    and 67). SMSAPI splits up to 10 parts; Direct Messenger sends up to 3 (its documented limit, so
    a longer text routed there fails at that provider)."""

    sms_chars: int = Field(1530, ge=1, le=100_000)
    sms_segments: int = Field(10, ge=1, le=255)  # a concatenated SMS has at most 255 parts (UDH)
    viber_chars: int = Field(1000, ge=1, le=100_000)  # Viber's business-message limit
    whatsapp_chars: int = Field(4096, ge=1, le=100_000)  # WhatsApp's text body limit
    telegram_chars: int = Field(4096, ge=1, le=100_000)  # Telegram's message limit
    # Any other free-text field (button text, template parameters, captions, file names...).
    other_chars: int = Field(1000, ge=1, le=100_000)


class LimitSettings(BaseModel):
    text: TextLimits = TextLimits()
    # A channel's ttl (seconds) and validity (minutes) before the next channel is tried. Messente
    # documents neither bound (examples: 21600 s, 360 min); 72 h is the default maximum, the same
    # as the delivery-status give-up, after which smsq stops following a message.
    ttl_min_seconds: int = Field(1, ge=1)
    ttl_max_seconds: int = Field(72 * 3600, ge=1, le=10 * 365 * 86400)
    validity_min_minutes: int = Field(1, ge=1)
    validity_max_minutes: int = Field(72 * 60, ge=1, le=10 * 365 * 1440)
    # A whole omnimessage as JSON (all channels): bounds what one record and one task can hold.
    message_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    idempotency_key_chars: int = Field(200, ge=1, le=1000)  # printable ASCII, no spaces
    # A delivery-report request body (the webhook receiver); read no further than this.
    webhook_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # JSON nesting depth accepted in webhook bodies and task messages (a report is 2 deep).
    json_depth: int = Field(32, ge=4, le=200)
    # CSV files (campaigns, blacklist import): one physical line, and one field.
    csv_line_chars: int = Field(64 * 1024, ge=256, le=16 * 1024 * 1024)
    csv_field_chars: int = Field(4096, ge=64, le=16 * 1024 * 1024)
    # A broker message's body (the consumer refuses a bigger one before decoding it), and how much
    # of a refused body a dead letter keeps.
    task_body_bytes: int = Field(256 * 1024, ge=1024, le=64 * 1024 * 1024)
    dead_letter_body_chars: int = Field(2000, ge=100, le=100_000)
    # The dead-letter list keeps the newest this many entries (every Redis key is bounded).
    dead_letters_kept: int = Field(10_000, ge=10, le=10_000_000)

    @model_validator(mode="after")
    def _ranges(self) -> LimitSettings:
        if self.ttl_min_seconds > self.ttl_max_seconds:
            raise ValueError("limits.ttl_min_seconds must not exceed limits.ttl_max_seconds")
        if self.validity_min_minutes > self.validity_max_minutes:
            raise ValueError("limits.validity_min_minutes must not exceed limits.validity_max_minutes")
        return self


DEFAULT_LIMITS = LimitSettings()
