"""Everything the sandbox remembers, in one object created per app.

Handlers run on the server's single event loop and never await while changing these stores, so each
change is atomic with respect to other requests; no lock is needed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from smsq.sandbox.config import SandboxConfig
from smsq.sandbox.delivery import AttemptState, ChannelPlan, OutcomeBook, Stage, Timeline, attempt_states
from smsq.sandbox.faults import FaultBook

JsonDict = dict[str, Any]


@dataclass
class RequestRecord:
    provider: str
    method: str
    path: str
    query: dict[str, str | list[str]]
    headers: dict[str, str]
    body: Any
    received_at: float
    status: int | None = None

    def as_json(self) -> JsonDict:
        return {
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "received_at": self.received_at,
            "status": self.status,
        }


@dataclass
class SentMessage:
    """A message accepted by any provider; its delivery is computed from `plans` and the clock."""

    provider: str
    message_id: str
    to: str
    request: JsonDict
    plans: list[ChannelPlan]
    accepted_at: float
    send_at: float
    report_url: str | None = None
    cancelled_at: float | None = None
    extra: JsonDict = field(default_factory=dict)

    def is_due(self, now: float) -> bool:
        return now >= self.send_at

    def as_json(self, states: list[AttemptState]) -> JsonDict:
        return {
            "provider": self.provider,
            "message_id": self.message_id,
            "to": self.to,
            "request": self.request,
            "accepted_at": self.accepted_at,
            "send_at": self.send_at,
            "cancelled_at": self.cancelled_at,
            "report_url": self.report_url,
            "extra": self.extra,
            "attempts": [
                {
                    "channel": state.plan.channel,
                    "message_id": state.plan.message_id,
                    "sender": state.plan.sender,
                    "stage": state.stage.value,
                    "outcome": state.plan.outcome.name if state.is_final else None,
                    "changed_at": state.changed_at,
                }
                for state in states
            ],
        }


@dataclass
class MessenteGroup:
    group_id: str
    name: str
    created_on: str


@dataclass
class MessenteStore:
    omnimessages: dict[str, SentMessage] = field(default_factory=dict)
    blacklist: dict[str, None] = field(default_factory=dict)  # an insertion-ordered set
    groups: dict[str, MessenteGroup] = field(default_factory=dict)
    contacts: dict[str, JsonDict] = field(default_factory=dict)  # phone -> contact fields
    memberships: dict[str, list[str]] = field(default_factory=dict)  # phone -> group ids, in order


@dataclass
class SmsapiBlacklistEntry:
    entry_id: str
    phone_number: str
    created_at: str
    expire_at: str | None

    def as_json(self) -> JsonDict:
        return {
            "id": self.entry_id,
            "phone_number": self.phone_number,
            "created_at": self.created_at,
            "expire_at": self.expire_at,
        }


@dataclass
class SmsapiStore:
    messages: dict[str, SentMessage] = field(default_factory=dict)
    blacklist: dict[str, SmsapiBlacklistEntry] = field(default_factory=dict)
    idx_seen: dict[str, float] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)  # file id -> CSV text


@dataclass
class DmBlacklistEntry:
    entry_id: int
    receiver: str
    created_at: str
    source: str

    def as_json(self) -> JsonDict:
        return {
            "id": self.entry_id,
            "receiver": self.receiver,
            "created_at": self.created_at,
            "source": self.source,
        }


@dataclass
class TwoFactorCode:
    pin_id: str
    pin: str
    receiver: str
    created_at: float
    authenticated_at: float | None = None


@dataclass
class DmStore:
    messages: dict[str, SentMessage] = field(default_factory=dict)
    blacklist: dict[int, DmBlacklistEntry] = field(default_factory=dict)
    next_blacklist_id: int = 1000
    twofa_codes: dict[str, TwoFactorCode] = field(default_factory=dict)


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.timeline = Timeline(config.ack_after_seconds, config.final_after_seconds)
        self.faults = FaultBook()
        self.outcomes = OutcomeBook()
        self.clock_offset = 0.0
        self.delivery_reports_enabled = config.delivery_reports
        self.requests: deque[RequestRecord] = deque(maxlen=config.max_logged_requests)
        self.messente = MessenteStore()
        self.smsapi = SmsapiStore()
        self.dm = DmStore()
        self.reported_events: set[tuple[str, str, str]] = set()
        self.delivery_report_log: deque[JsonDict] = deque(maxlen=config.max_logged_requests)
        self.received_reports: deque[JsonDict] = deque(maxlen=config.max_logged_requests)

    def now(self) -> float:
        return self.config.clock() + self.clock_offset

    def attempts(self, message: SentMessage) -> list[AttemptState]:
        if message.cancelled_at is not None:
            # A cancelled message never went out: it stays at its first channel, unsent.
            return [AttemptState(message.plans[0], Stage.SCHEDULED, message.cancelled_at)]
        return attempt_states(message.plans, message.send_at, self.now(), self.timeline)

    def reset(self) -> None:
        self.faults.clear()
        self.outcomes.clear()
        self.clock_offset = 0.0
        self.delivery_reports_enabled = self.config.delivery_reports
        self.requests.clear()
        self.messente = MessenteStore()
        self.smsapi = SmsapiStore()
        self.dm = DmStore()
        self.reported_events.clear()
        self.delivery_report_log.clear()
        self.received_reports.clear()

    def all_messages(self) -> dict[str, list[SentMessage]]:
        return {
            "messente": list(self.messente.omnimessages.values()),
            "smsapi": list(self.smsapi.messages.values()),
            "dm": list(self.dm.messages.values()),
        }
