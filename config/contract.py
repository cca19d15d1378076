"""The wire contract, with other applications and between smsq's own two sides: queue names, task
names, and every task's payload model.

Producers publish with these models (``Publisher.publish(task, payload, queue)``); workers decode
with the same models (``smsq.workers.tasks``). An application that does not import smsq can enqueue
work with Celery's ``send_task`` using these names and the JSON these models describe; see the
README. Task payloads are untrusted input (anyone with the broker can publish by name), so every
model forbids unknown fields. Changing a name or a model here is a breaking change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsq.config.settings import ProviderName

# Queues, one per lane. Priority is separate queues, never kombu's emulated per-message priority.
HIGH: Final = "high"
REGULAR: Final = "regular"
LOW: Final = "low"
STATUS: Final = "status"
SYNC: Final = "sync"
# Callbacks to the app: consumed by `smsq worker --lanes callbacks` only, never by the general
# workers, so a slow receiver never holds a process that sends.
CALLBACKS: Final = "callbacks"

# The order a general worker consumes in, with the `priority` queue-order strategy: first non-empty wins.
ALL_QUEUES: Final = (HIGH, REGULAR, LOW, STATUS, SYNC)
# Every queue a worker may be given (`smsq worker --lanes`).
LANES: Final = (*ALL_QUEUES, CALLBACKS)

Priority = Literal["low", "regular", "high"]
LANE_FOR_PRIORITY: Final[dict[str, str]] = {"high": HIGH, "regular": REGULAR, "low": LOW}

# Tasks. Each one's payload is its model below (PAYLOADS); what a task answers, if anything, is said here.
SEND_TASK: Final = "smsq.send"  # one message whose record already exists
SEND_MANY_TASK: Final = "smsq.send_many"  # due messages the release loop hands over in groups
SUBMIT_TASK: Final = "smsq.submit"  # a whole omnimessage, for apps that do not import smsq
# Asks the provider holding a scheduled message to drop it; returns {"cancelled", "status", "reason"}.
CANCEL_AT_PROVIDER_TASK: Final = "smsq.cancel_at_provider"
BLACKLIST_SYNC_TASK: Final = "smsq.blacklist_sync"  # returns the run's report (SyncReport)
# Beat fires it; it queues a blacklist sync for providers whose retry after a failure is due.
BLACKLIST_SYNC_RETRY_TASK: Final = "smsq.blacklist_sync_retry"
SEND_BATCH_TASK: Final = "smsq.send_batch"  # send a campaign's messages at positions first..last
CAMPAIGN_SWEEP_TASK: Final = "smsq.campaign_sweep"  # mark a cancelled campaign's waiting messages cancelled
CAMPAIGN_FROM_GROUPS_TASK: Final = "smsq.campaign_from_groups"  # expand from Messente phonebook groups
STATUS_POLL_TASK: Final = "smsq.status_poll"  # poll the provider for each message's delivery status
DELIVERY_REPORT_TASK: Final = "smsq.delivery_report"  # one report from the webhook receiver
# Direct Messenger 2FA sends a PIN by SMS.
# Returns {"session_id": hex, "expires_in": seconds, "sms": str | null} or {"error", "detail"}.
TWO_FACTOR_SEND_TASK: Final = "smsq.two_factor_send"
# Returns {"outcome", "detail"} or {"error", "detail"}.
TWO_FACTOR_VERIFY_TASK: Final = "smsq.two_factor_verify"

# Delivers claimed callback events to the app (workers/callbacks/); beat's callback claimer publishes it.
CALLBACK_DELIVER_TASK: Final = "smsq.callback_deliver"

TASK_ROUTES: Final[dict[str, dict[str, str]]] = {
    SEND_TASK: {"queue": REGULAR},
    SEND_MANY_TASK: {"queue": REGULAR},
    SUBMIT_TASK: {"queue": REGULAR},
    CANCEL_AT_PROVIDER_TASK: {"queue": HIGH},  # a caller is waiting for the answer
    BLACKLIST_SYNC_TASK: {"queue": SYNC},
    BLACKLIST_SYNC_RETRY_TASK: {"queue": SYNC},
    SEND_BATCH_TASK: {"queue": LOW},
    CAMPAIGN_SWEEP_TASK: {"queue": SYNC},
    CAMPAIGN_FROM_GROUPS_TASK: {"queue": SYNC},
    STATUS_POLL_TASK: {"queue": STATUS},
    DELIVERY_REPORT_TASK: {"queue": STATUS},
    TWO_FACTOR_SEND_TASK: {"queue": HIGH},  # a user is waiting for the PIN, a caller for the answer
    TWO_FACTOR_VERIFY_TASK: {"queue": HIGH},
    CALLBACK_DELIVER_TASK: {"queue": CALLBACKS},
}

# Tasks whose caller reads an answer from the result backend; every other task ignores results.
RESULT_TASKS: Final = frozenset(
    {CANCEL_AT_PROVIDER_TASK, BLACKLIST_SYNC_TASK, TWO_FACTOR_SEND_TASK, TWO_FACTOR_VERIFY_TASK}
)
# Payload fields never shown in a task message's kwargsrepr (Flower and Celery's logs display it)
# nor written to the dead-letter list.
SECRET_FIELDS: Final = frozenset({"pin"})

CAMPAIGN_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
Trigger = Literal["beat", "retry", "demand"]  # what started a blacklist sync


class Payload(BaseModel):
    """A task's keyword arguments. Unknown fields are refused: a typo must not be silently dropped."""

    model_config = ConfigDict(extra="forbid")


class SendPayload(Payload):
    message_id: uuid.UUID


class SendManyPayload(Payload):
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class SubmitPayload(Payload):
    message: dict[str, Any]  # an omnimessage, validated by the producer API the worker calls
    idempotency_key: str | None = None


class CancelAtProviderPayload(Payload):
    message_id: uuid.UUID


class BlacklistSyncPayload(Payload):
    providers: list[ProviderName] | None = None  # None: every enabled provider
    dry_run: bool = False
    force: bool = False
    trigger: Trigger = "demand"


class NoPayload(Payload):
    """A task that takes no arguments."""


class SendBatchPayload(Payload):
    campaign_id: str = Field(pattern=CAMPAIGN_ID_PATTERN)
    first: int = Field(ge=1)
    last: int = Field(ge=1)


class CampaignSweepPayload(Payload):
    campaign_id: str = Field(pattern=CAMPAIGN_ID_PATTERN)


class CampaignFromGroupsPayload(Payload):
    campaign_id: str = Field(pattern=CAMPAIGN_ID_PATTERN)
    group_ids: list[str] = Field(min_length=1)


class StatusPollPayload(Payload):
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


ReportChannel = Literal["sms", "viber", "whatsapp", "telegram", "rcs"]


class DeliveryReport(Payload):
    """One channel's status for one smsq message, as the webhook receiver checked and normalised it."""

    message_id: uuid.UUID
    provider: ProviderName
    channel: ReportChannel = "sms"
    status: str | None = Field(None, max_length=40)  # the provider's word (DELIVRD, 404, 1...)
    # Messente omnimessage_id / SMSAPI MsgId / Direct Messenger %smsid%.
    provider_message_id: str | None = Field(None, max_length=200)
    part_id: str | None = Field(None, max_length=200)  # Messente: the channel's message_id
    err: int | None = None
    error: str | None = Field(None, max_length=500)
    timestamp: str | None = Field(None, max_length=64)


class TwoFactorSendPayload(Payload):
    number: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$")  # E.164, as the producer normalised it
    pin_length: int | None = Field(None, ge=4, le=20)
    # A test API key's: the simulated provider answers, nothing is texted. Left out when False, so a
    # live PIN's task is what a worker of the previous release expects (unknown fields are refused).
    test: bool = Field(False, exclude_if=lambda test: not test)


class TwoFactorVerifyPayload(Payload):
    session_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    pin: str = Field(pattern=r"^[0-9A-Za-z]{1,20}$")


class ClaimedCallback(Payload):
    id: str = Field(pattern=r"^[0-9A-Za-z_-]{1,80}:[0-9]{1,9}$")  # <message id>:<seq>, campaign-<id>:1
    claim: int = Field(ge=1)  # only the latest claim of an event may record its outcome
    url_id: str = Field("", pattern=r"^([0-9a-f]{40})?$")  # the URL's in-flight slot it holds


class CallbackDeliverPayload(Payload):
    events: list[ClaimedCallback] = Field(min_length=1, max_length=500)


# Every task's payload model: what its producer publishes and its worker decodes.
PAYLOADS: Final[Mapping[str, type[Payload]]] = {
    SEND_TASK: SendPayload,
    SEND_MANY_TASK: SendManyPayload,
    SUBMIT_TASK: SubmitPayload,
    CANCEL_AT_PROVIDER_TASK: CancelAtProviderPayload,
    BLACKLIST_SYNC_TASK: BlacklistSyncPayload,
    BLACKLIST_SYNC_RETRY_TASK: NoPayload,
    SEND_BATCH_TASK: SendBatchPayload,
    CAMPAIGN_SWEEP_TASK: CampaignSweepPayload,
    CAMPAIGN_FROM_GROUPS_TASK: CampaignFromGroupsPayload,
    STATUS_POLL_TASK: StatusPollPayload,
    DELIVERY_REPORT_TASK: DeliveryReport,
    TWO_FACTOR_SEND_TASK: TwoFactorSendPayload,
    TWO_FACTOR_VERIFY_TASK: TwoFactorVerifyPayload,
    CALLBACK_DELIVER_TASK: CallbackDeliverPayload,
}
