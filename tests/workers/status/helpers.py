"""Records and fakes shared by the status tests."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import free_port
from smsq.config.status_settings import PollingSettings
from smsq.producers.core.store import MessageStore
from smsq.workers.providers.base import ChannelStatus, DeliveryStatus


def sent_message(
    store: MessageStore,
    *,
    provider: str = "messente",
    provider_message_id: str = "omni-1",
    channels: str = "sms",
    poll_at_ms: int | None = None,
    **fields: str,
) -> str:
    """A record taken through queued -> sending -> sent, as the send path leaves it."""
    message_id = str(uuid.uuid4())
    created: dict[str, str | int] = {"id": message_id, "status": "queued", "to": "+37251234567", "priority": "regular",
               "channels": channels, "created_ms": store.now_ms(), **fields}  # fmt: skip
    store.create(message_id, created, idempotency_key=None, due_ms=None)
    store.transition(message_id, "sending")
    store.transition(
        message_id,
        "sent",
        fields={"provider": provider, "provider_message_id": provider_message_id},
        poll_at_ms=poll_at_ms,
    )
    return message_id


def channel(name: str, status: str | None, err: int | None = None, error: str | None = None) -> ChannelStatus:
    return ChannelStatus(
        channel=name, provider_message_id=f"{name}-part", status=status, err=err, error=error
    )


@dataclass
class ScriptedStatus:
    """A provider whose status answers come from a function of the omnimessage id."""

    answer: Callable[[str], tuple[ChannelStatus, ...] | Exception]
    asked: list[str] = field(default_factory=list)
    name: str = "messente"  # a StatusProvider has a name; the poller checks it with isinstance

    def status(self, provider_message_id: str) -> DeliveryStatus:
        self.asked.append(provider_message_id)
        result = self.answer(provider_message_id)
        if isinstance(result, Exception):
            raise result
        return DeliveryStatus(provider_message_id, "+37251234567", result)


def polling(**overrides: Any) -> PollingSettings:
    return PollingSettings(**overrides)


@contextlib.contextmanager
def serving(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a thread; yields its base URL once it answers."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://{host}:{port}"
    try:
        wait_until(lambda: _answers(f"{url}/health"), timeout=10, what=f"{url} to answer")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False
