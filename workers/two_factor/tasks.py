"""Two-factor tasks: thin. Decoded by ``smsq.workers.tasks``; they call smsq.workers.two_factor.service
and answer the waiting caller."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from smsq.config import contract as names
from smsq.config.contract import TwoFactorSendPayload, TwoFactorVerifyPayload
from smsq.producers.errors import InvalidInput
from smsq.workers.context import WorkerContext
from smsq.workers.limits.ratelimit import wait_for_token
from smsq.workers.providers.direct_messenger.sms import NAME as DIRECT_MESSENGER
from smsq.workers.providers.direct_messenger.two_factor import DirectMessenger2FAClient
from smsq.workers.tasks import smsq_task
from smsq.workers.two_factor import service as two_factor
from smsq.workers.two_factor.service import SIMULATED, UNAVAILABLE

SIMULATED_OFF = {
    "error": "unavailable",
    "detail": "a test key's PINs go to the simulated provider, and it is disabled (SMSQ_SIMULATED__ENABLED)",
}

_clients: dict[int, DirectMessenger2FAClient] = {}


def client_for(context: WorkerContext) -> DirectMessenger2FAClient | None:
    """One 2FA client per worker process (made after the fork), or None when it is not configured."""
    settings = context.settings.direct_messenger
    if not settings.enabled or not settings.two_factor_base_url:
        return None
    pid = os.getpid()
    if pid not in _clients:
        _clients[pid] = DirectMessenger2FAClient.from_settings(settings)
    return _clients[pid]


def register_two_factor_tasks(app: Celery) -> None:
    def invalid(error: InvalidInput, task_id: str) -> dict[str, Any]:
        return {"error": "invalid", "detail": str(error)}

    @smsq_task(app, names.TWO_FACTOR_SEND_TASK, invalid=invalid)
    def two_factor_send(context: WorkerContext, payload: TwoFactorSendPayload) -> dict[str, Any]:
        prefix = context.settings.key_prefix
        if payload.test:  # a test key's PIN: the simulated provider answers; nothing is texted
            if not context.settings.simulated.enabled:
                return SIMULATED_OFF
            return two_factor.send_code(SIMULATED, context.redis, prefix, payload.number, payload.pin_length)
        client = client_for(context)
        if client is None:
            return UNAVAILABLE
        sender = context.sender
        limiter = sender.limiter

        def take_token() -> float:  # the PIN is an SMS: it takes a Direct Messenger send token
            if limiter is None:
                return 0.0
            return wait_for_token(limiter, DIRECT_MESSENGER, "high", sender.max_inline_wait)

        return two_factor.send_code(
            client, context.redis, prefix, payload.number, payload.pin_length, take_token
        )

    # The PIN is not written to the dead-letter list (SECRET_FIELDS).
    @smsq_task(app, names.TWO_FACTOR_VERIFY_TASK, invalid=invalid)
    def two_factor_verify(context: WorkerContext, payload: TwoFactorVerifyPayload) -> dict[str, Any]:
        # No client when Direct Messenger is not configured: a test key's session needs none.
        client = client_for(context)
        prefix = context.settings.key_prefix
        return two_factor.verify_code(client, context.redis, prefix, payload.session_id, payload.pin)
