"""Two-factor tasks: thin. Decode, call smsq.workers.two_factor.service, answer the waiting caller."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task

from smsq.config import contract as names
from smsq.producers.errors import InvalidInput
from smsq.producers.publisher import SECRET_KWARGS
from smsq.workers.context import WorkerContext, context_for
from smsq.workers.limits.ratelimit import wait_for_token
from smsq.workers.payloads import TwoFactorSendPayload, TwoFactorVerifyPayload, decode
from smsq.workers.providers.direct_messenger.sms import NAME as DIRECT_MESSENGER
from smsq.workers.providers.direct_messenger.two_factor import DirectMessenger2FAClient
from smsq.workers.two_factor import service as two_factor

log = logging.getLogger(__name__)
UNAVAILABLE = {
    "error": "unavailable",
    "detail": "Direct Messenger 2FA is not configured: set SMSQ_DIRECT_MESSENGER__ENABLED=true, "
    "SMSQ_DIRECT_MESSENGER__API_TOKEN and SMSQ_DIRECT_MESSENGER__TWO_FACTOR_BASE_URL",
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
    def invalid(
        context: WorkerContext, task: str, args: Any, kwargs: Any, error: InvalidInput
    ) -> dict[str, Any]:
        context.store.dead_letter(task, {"args": args, "kwargs": kwargs}, str(error))
        log.error("dead-lettered a %s task: %s", task, error)
        return {"error": "invalid", "detail": str(error)}

    @app.task(name=names.TWO_FACTOR_SEND_TASK, bind=True, ignore_result=False, shared=False)
    def two_factor_send(self: Task, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = context_for(self.app)
        try:
            payload = decode(TwoFactorSendPayload, args, kwargs)
        except InvalidInput as error:
            return invalid(context, names.TWO_FACTOR_SEND_TASK, args, kwargs, error)
        client = client_for(context)
        if client is None:
            return UNAVAILABLE
        prefix = context.settings.key_prefix
        sender = context.sender
        limiter = sender.limiter

        def take_token() -> float:  # the PIN is an SMS: it takes a Direct Messenger send token
            if limiter is None:
                return 0.0
            return wait_for_token(limiter, DIRECT_MESSENGER, "high", sender.max_inline_wait)

        return two_factor.send_code(
            client, context.redis, prefix, payload.number, payload.pin_length, take_token
        )

    @app.task(name=names.TWO_FACTOR_VERIFY_TASK, bind=True, ignore_result=False, shared=False)
    def two_factor_verify(self: Task, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = context_for(self.app)
        try:
            payload = decode(TwoFactorVerifyPayload, args, kwargs)
        except InvalidInput as error:
            # The PIN is not written to the dead-letter list.
            safe = {k: v for k, v in kwargs.items() if k not in SECRET_KWARGS}
            return invalid(context, names.TWO_FACTOR_VERIFY_TASK, args, safe, error)
        client = client_for(context)
        if client is None:
            return UNAVAILABLE
        prefix = context.settings.key_prefix
        return two_factor.verify_code(client, context.redis, prefix, payload.session_id, payload.pin)
