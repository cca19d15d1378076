"""Which provider a message goes to: those that can carry its whole channel chain, in the configured
order, the first whose circuit is closed; a test message only to the simulated provider."""

from __future__ import annotations

from collections.abc import Mapping

from smsq.config.settings import Routing
from smsq.producers.core.records import TEST
from smsq.producers.messages.models import Omnimessage
from smsq.workers.providers import registry
from smsq.workers.providers.base import Provider


def capable_providers(
    message: Omnimessage, providers: Mapping[str, Provider], routing: Routing, *, test: bool = False
) -> list[Provider]:
    """Enabled providers that can deliver the whole chain, in the configured order for its first
    channel. A test message (accepted by a test API key) goes to the simulated provider only."""
    names = [registry.TEST_PROVIDER] if test else getattr(routing, message.messages[0].channel)
    found = [providers.get(name) for name in names]
    return [p for p in found if p is not None and set(message.channels) <= p.channels]


def is_test(record: Mapping[str, str]) -> bool:
    return record.get(TEST) == "1"


def no_provider_detail(message: Omnimessage, *, test: bool) -> str:
    if test:
        return f"a test message goes to the {registry.TEST_PROVIDER} provider only, and it is disabled"
    return f"no enabled provider can deliver {'/'.join(message.channels)}"


def pick(
    capable: list[Provider], *, failing: set[str], avoid: str | None, pinned: str | None = None
) -> Provider | None:
    """The first provider whose circuit is closed; on a retry, not the one that just failed if another
    is available (so one message fails over at once, before enough errors open the circuit).
    ``pinned``: a resend after a lost lease to an idempotent provider goes back to that provider,
    whatever its circuit, because only it can drop the repeat (SMSAPI idx)."""
    for provider in capable:
        if provider.name == pinned:
            return provider
    healthy = [p for p in capable if p.name not in failing]
    preferred = [p for p in healthy if p.name != avoid] or healthy
    return preferred[0] if preferred else None
