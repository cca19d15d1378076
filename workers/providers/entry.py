"""What a provider declares about itself, once: the one ``ProviderEntry`` in its folder's
``provider.py``, listed in ``smsq.workers.providers.registry``. Everything outside the folder (the
worker context, the blacklist sync, the send, poll and cancel paths, status mapping) reads these
entries instead of naming providers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from smsq.config.contract import DeliveryReport
from smsq.config.limits import LimitSettings
from smsq.config.settings import Settings
from smsq.config.status_settings import WebhookSettings
from smsq.workers.providers.base import BlacklistProvider, Provider

Transport = httpx.BaseTransport | None  # tests pass an httpx.MockTransport; None: the real network


class ProviderSettings(Protocol):
    """What every provider's settings group has (its own fields besides)."""

    enabled: bool
    rate_per_second: float
    burst: int


@dataclass(frozen=True)
class ReportRequest:
    """A delivery-report request as the receiver (smsq.workers.webhooks.app) got it, its token checked
    and its body read within SMSQ_LIMITS__WEBHOOK_BODY_BYTES."""

    method: str
    body: bytes
    query: Mapping[str, str]
    content_type: str
    headers: Mapping[str, str]
    limits: LimitSettings


@dataclass(frozen=True)
class ReportReader:
    """How a provider's delivery-report webhook reads (``/dlr/<name>/<message id>/<token>``)."""

    method: str | None  # the HTTP method its reports come as; None: GET or POST
    # The request -> one report per channel result in it; InvalidInput naming the field it cannot read.
    read: Callable[[str, ReportRequest], list[DeliveryReport]]
    # False: refused with 401 although its token matched (Messente's X-Messente-Signature).
    authentic: Callable[[WebhookSettings, ReportRequest], bool] | None = None
    # Its reports name the send they are about (Messente's omnimessage_id): one about another send of
    # the same smsq message (a resend we did not record) must not settle this one.
    names_send: bool = False


@dataclass(frozen=True)
class ProviderEntry:
    """``capabilities``: the Protocols of ``smsq.workers.providers.base`` its send client implements
    beyond ``Provider`` (StatusProvider, CancelProvider, BulkProvider, LoopSingles). Callers check the
    client itself with ``isinstance``; the declaration is what can be read without building one (the
    settings check at start-up, the README), and a test holds the two to each other."""

    name: str
    # Its group on the root settings object, e.g. ``lambda s: s.messente`` (SMSQ_MESSENTE__*).
    settings: Callable[[Settings], ProviderSettings]
    # Its send client, with its own connection pool and explicit timeouts.
    client: Callable[[Settings, Transport], Provider]
    capabilities: frozenset[type]
    # The provider drops a repeated send of the same smsq id (SMSAPI idx), so a lost lease may resend:
    # what its client's ``idempotent_send`` says, readable by beat's recovery without a client.
    idempotent_send: bool
    # One channel's raw delivery status as the provider spells it -> smsq status; None while in
    # progress or not understood (a status the provider adds later must never crash a poll).
    statuses: Callable[[str], str | None]
    # Its blacklist client, for the blacklist sync (None: the provider keeps no blacklist smsq syncs).
    blacklist: Callable[[Settings, Transport], BlacklistProvider] | None = None
    # How its delivery-report webhook reads (None: it pushes no reports).
    reports: ReportReader | None = None
    # Polled whatever SMSQ_POLLING__PROVIDERS says: the simulated provider, whose only way to report
    # is its status call, and which costs nothing to ask.
    always_polled: bool = False

    def enabled(self, settings: Settings) -> bool:
        return self.settings(settings).enabled
