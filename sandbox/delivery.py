"""How a sent message's delivery status moves over time, for every provider.

A message is a chain of channel attempts. Each attempt goes pending -> accepted -> final after the
configured delays; when its final outcome is not "delivered" the next channel starts at that moment.
Statuses are computed from the clock on demand, so a fake clock drives them with no background work.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    SCHEDULED = "scheduled"
    PENDING = "pending"
    ACCEPTED = "accepted"
    FINAL = "final"


@dataclass(frozen=True)
class Outcome:
    """The final result of one channel attempt, in each provider's vocabulary."""

    name: str
    messente_status: str
    messente_err: int
    messente_error: str | None
    smsapi_status: str
    smsapi_status_code: int
    # Direct Messenger does not document %dlr% values; the sandbox uses Kannel's DLR codes.
    kannel_dlr: str


OUTCOMES: dict[str, Outcome] = {
    outcome.name: outcome
    for outcome in (
        Outcome("delivered", "DELIVRD", 0, None, "DELIVERED", 404, "1"),
        Outcome("undeliverable", "UNDELIV", 1, "Delivery failure", "UNDELIVERED", 405, "2"),
        Outcome("failed", "FAILED", 3, "Invalid number", "FAILED", 406, "16"),
        Outcome("expired", "EXPIRED", 2, "Sending message expired", "EXPIRED", 402, "2"),
        Outcome("rejected", "REJECTD", 9, "Unroutable", "REJECTED", 407, "16"),
        # Used by the sandbox itself for a Messente send to a number on the Messente blacklist.
        Outcome("blacklisted", "REJECTD", 1, "Recipient is blacklisted", "REJECTED", 407, "16"),
    )
}
DEFAULT_OUTCOME = "delivered"
ADMIN_OUTCOMES = ("delivered", "undeliverable", "failed", "expired", "rejected")


@dataclass(frozen=True)
class Timeline:
    ack_after: float
    final_after: float


@dataclass(frozen=True)
class ChannelPlan:
    """One channel of a message, with the outcome fixed when the message was accepted."""

    channel: str
    message_id: str
    sender: str
    outcome: Outcome


@dataclass(frozen=True)
class AttemptState:
    plan: ChannelPlan
    stage: Stage
    changed_at: float

    @property
    def is_final(self) -> bool:
        return self.stage is Stage.FINAL


def attempt_states(
    plans: list[ChannelPlan], start_at: float, now: float, timeline: Timeline
) -> list[AttemptState]:
    """The attempts made so far, in send order; a not-yet-due message shows its first channel."""
    if not plans:
        return []
    if now < start_at:
        return [AttemptState(plans[0], Stage.SCHEDULED, start_at)]
    states: list[AttemptState] = []
    attempt_start = start_at
    for plan in plans:
        if now < attempt_start:
            break
        elapsed = now - attempt_start
        if elapsed < timeline.ack_after:
            states.append(AttemptState(plan, Stage.PENDING, attempt_start))
            break
        if elapsed < timeline.final_after:
            states.append(AttemptState(plan, Stage.ACCEPTED, attempt_start + timeline.ack_after))
            break
        final_at = attempt_start + timeline.final_after
        states.append(AttemptState(plan, Stage.FINAL, final_at))
        if plan.outcome.name == DEFAULT_OUTCOME:
            break
        attempt_start = final_at
    return states


def messente_accepted_status(channel: str) -> str:
    # SMS carriers acknowledge (ACK); chat channels report the platform accepted it (ACCEPTD).
    return "ACK" if channel == "sms" else "ACCEPTD"


def smsapi_status_name(state: AttemptState) -> str:
    if state.stage in (Stage.SCHEDULED, Stage.PENDING):
        return "QUEUE"
    if state.stage is Stage.ACCEPTED:
        return "SENT"
    return state.plan.outcome.smsapi_status


KANNEL_DELIVERED_TO_SMSC = "8"


def kannel_dlr_code(state: AttemptState) -> str | None:
    if state.stage in (Stage.SCHEDULED, Stage.PENDING):
        return None
    if state.stage is Stage.ACCEPTED:
        return KANNEL_DELIVERED_TO_SMSC
    return state.plan.outcome.kannel_dlr


def dlr_status_name(state: AttemptState) -> str | None:
    """The Messente status word of an attempt, as its delivery report carries it."""
    if state.stage in (Stage.SCHEDULED, Stage.PENDING):
        return None
    if state.stage is Stage.ACCEPTED:
        return messente_accepted_status(state.plan.channel)
    return state.plan.outcome.messente_status


class OutcomeBook:
    """Per-number (and optionally per-channel) outcomes chosen through the admin API."""

    def __init__(self) -> None:
        self._outcomes: dict[tuple[str, str | None], str] = {}

    @staticmethod
    def number_key(phone: str) -> str:
        # Providers disagree on "+": compare digits so one rule covers all three.
        return "".join(ch for ch in phone if ch.isdigit())

    def set(self, phone: str, outcome: str, channel: str | None = None) -> None:
        self._outcomes[(self.number_key(phone), channel)] = outcome

    def clear(self) -> None:
        self._outcomes.clear()

    def outcome_for(self, phone: str, channel: str) -> Outcome:
        key = self.number_key(phone)
        name = self._outcomes.get((key, channel)) or self._outcomes.get((key, None)) or DEFAULT_OUTCOME
        return OUTCOMES[name]

    def as_list(self) -> list[dict[str, str | None]]:
        return [
            {"phone": phone, "channel": channel, "outcome": outcome}
            for (phone, channel), outcome in self._outcomes.items()
        ]
