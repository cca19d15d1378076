"""Queue and task names: the wire contract with other applications.

An application that does not import smsq can enqueue work with Celery's ``send_task`` using these
names and a JSON payload; see the README. Changing a value here is a breaking change.
"""

from typing import Final, Literal

# Queues, one per lane. Priority is separate queues, never kombu's emulated per-message priority.
HIGH: Final = "high"
REGULAR: Final = "regular"
LOW: Final = "low"
STATUS: Final = "status"
SYNC: Final = "sync"

# The order a general worker consumes in, with the `priority` queue-order strategy: first non-empty wins.
ALL_QUEUES: Final = (HIGH, REGULAR, LOW, STATUS, SYNC)

Priority = Literal["low", "regular", "high"]
LANE_FOR_PRIORITY: Final[dict[str, str]] = {"high": HIGH, "regular": REGULAR, "low": LOW}

# Tasks.
SEND_TASK: Final = "smsq.send"  # kwargs: {"message_id": "<uuid>"}; the record already exists
# kwargs: {"message_ids": ["<uuid>", ...]}: due messages the release loop hands over in groups.
SEND_MANY_TASK: Final = "smsq.send_many"
SUBMIT_TASK: Final = "smsq.submit"  # kwargs: {"message": {omnimessage}, "idempotency_key": str | null}
# kwargs: {"message_id": "<uuid>"}; asks the provider holding a scheduled message to drop it.
CANCEL_AT_PROVIDER_TASK: Final = "smsq.cancel_at_provider"
# kwargs: {"providers": [names] | null, "dry_run": bool, "force": bool}; returns the run's report.
BLACKLIST_SYNC_TASK: Final = "smsq.blacklist_sync"
# No kwargs: beat fires it; it queues a blacklist sync for providers whose retry after a failure is due.
BLACKLIST_SYNC_RETRY_TASK: Final = "smsq.blacklist_sync_retry"
# kwargs: {"campaign_id": "<hex>", "first": int, "last": int}: send a campaign's messages at those positions.
SEND_BATCH_TASK: Final = "smsq.send_batch"
# kwargs: {"campaign_id": "<hex>"}: mark every waiting message of a cancelled campaign cancelled.
CAMPAIGN_SWEEP_TASK: Final = "smsq.campaign_sweep"
# kwargs: {"campaign_id": "<hex>", "group_ids": [...]}: expand a campaign from Messente phonebook groups.
CAMPAIGN_FROM_GROUPS_TASK: Final = "smsq.campaign_from_groups"
# kwargs: {"message_ids": ["<uuid>", ...]}; polls the provider for each message's delivery status.
STATUS_POLL_TASK: Final = "smsq.status_poll"
# kwargs: one delivery report, as the webhook receiver normalised it (workers/status/reports.py).
DELIVERY_REPORT_TASK: Final = "smsq.delivery_report"
# kwargs: {"number": "+E164", "pin_length": int | null}; Direct Messenger 2FA sends a PIN by SMS.
# Returns {"session_id": hex, "expires_in": seconds, "sms": str | null} or {"error", "detail"}.
TWO_FACTOR_SEND_TASK: Final = "smsq.two_factor_send"
# kwargs: {"session_id": hex, "pin": digits}; returns {"outcome", "detail"} or {"error", "detail"}.
TWO_FACTOR_VERIFY_TASK: Final = "smsq.two_factor_verify"

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
}
