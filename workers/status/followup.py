"""What the send path needs to follow a message up: where the provider should push delivery reports
(the callback URL smsq generates), and when the first status check is due."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from smsq.config.status_settings import PollingSettings, WebhookSettings
from smsq.workers.providers import registry
from smsq.workers.status.schedule import first_poll_ms

CALLBACK_PATH = "dlr"
TOKEN_CHARS = 40  # 160 bits of HMAC-SHA256


def callback_token(secret: str, provider: str, message_id: str) -> str:
    """The token in a message's callback URL: derived from the installation's secret, bound to the
    provider and the message, so a URL that leaks (provider dashboards, logs) opens only itself."""
    digest = hmac.new(secret.encode(), f"{provider}:{message_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:TOKEN_CHARS]


def token_matches(secret: str, provider: str, message_id: str, token: str) -> bool:
    if not secret:
        return False
    # Bytes, not str: compare_digest refuses a non-ASCII str (a path segment like %C3%A9) with TypeError.
    given = token.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(callback_token(secret, provider, message_id).encode(), given)


def callback_path(secret: str, provider: str, message_id: str) -> str:
    return f"/{CALLBACK_PATH}/{provider}/{message_id}/{callback_token(secret, provider, message_id)}"


@dataclass(frozen=True)
class Followup:
    polling: PollingSettings
    webhooks: WebhookSettings

    def callback_url(self, provider: str, message_id: str) -> str | None:
        """The delivery-report URL for one message, or None when no public webhook URL is configured."""
        base = self.webhooks.public_base_url
        if not base:
            return None
        return base + callback_path(self.webhooks.secret.get_secret_value(), provider, message_id)

    def first_poll_at_ms(self, provider: str, base_ms: int) -> int:
        return first_poll_ms(base_ms, self.polling, pollable=registry.polled(provider, self.polling))
