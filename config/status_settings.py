"""Settings of delivery-status follow-up: polling (workers/status/) and delivery-report webhooks
(workers/webhooks/). Part of the one Settings object (``settings.polling``, ``settings.webhooks``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

HOURS = 3600.0


class PollingSettings(BaseModel):
    # Seconds between the polls of one message, in order; after the last, every `then_every`.
    # The n-th poll is due at sent + intervals[0] + ... + intervals[n-1], so a late poll does not
    # push the later ones back.
    intervals: list[float] = [30.0, 60.0, 120.0, 300.0, 600.0, 1800.0]
    then_every: float = Field(HOURS, gt=0)
    # A message with no final status this long after it went out (after its time_to_send when the
    # provider holds it) becomes `unknown`; a late delivery report can still settle it.
    give_up_after: float = Field(72 * HOURS, gt=0)
    # Providers whose status call is polled (each one of settings.POLLABLE: the root settings check).
    # The others rely on delivery reports (webhooks) and only get the give-up check.
    providers: list[str] = ["messente"]
    batch_size: int = Field(50, ge=1, le=500, description="messages per status-poll task")
    # Status calls in flight per poll task (threads): a provider answers in tens of ms, so one task
    # asking in turn would hold its worker for batch_size x latency.
    concurrency: int = Field(8, ge=1, le=64)
    claim_interval: float = Field(1.0, gt=0, le=60, description="seconds between claim passes in beat")
    claim_batch: int = Field(2000, ge=1, description="due entries claimed per pass at most")
    # A claimed entry comes due again after this long unless its poll task settled or rescheduled
    # it, so a lost task loses nothing. Must exceed the time a task waits in the status queue.
    claim_lease_seconds: float = Field(600.0, gt=0)
    # Back-pressure: no new poll tasks while the status queue holds this many.
    max_queued_tasks: int = Field(200, ge=1)
    # A 404 for a message the provider does not hold for later: keep polling this long (the
    # provider may not know it yet), then give up as `unknown`.
    not_found_grace: float = Field(600.0, ge=0)
    # A report that arrives before the send was recorded as `sent` is looked at again after this.
    report_recheck: float = Field(5.0, gt=0)

    @field_validator("intervals")
    @classmethod
    def _positive_intervals(cls, value: list[float]) -> list[float]:
        if not value or any(interval <= 0 for interval in value):
            raise ValueError("must be a non-empty list of positive numbers of seconds")
        return value


class WebhookSettings(BaseModel):
    # Where providers reach `smsq webhooks` from outside, e.g. https://smsq.example.com. Unset: no
    # delivery reports are asked for (dlr_url / notify_url / dlruri are left out of sends).
    public_base_url: str | None = None
    # Per-installation secret: every callback URL carries a token derived from it and the message id.
    secret: SecretStr = SecretStr("")
    # Messente's shared secret for X-Messente-Signature; unset: the header is not checked.
    messente_signature_key: SecretStr | None = None

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL without query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secret_with_url(self) -> WebhookSettings:
        if self.public_base_url and len(self.secret.get_secret_value()) < 16:
            raise ValueError("webhooks.secret of at least 16 characters is required with public_base_url")
        return self
