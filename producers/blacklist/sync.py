"""Blacklist sync from the producer side: ask for a run, read its report.

A run's report is its Celery task result (the result backend holds task summaries); the worker
records the ids of finished runs, newest first, under ``BlacklistKeys.sync_runs`` so the latest report
can be found without knowing its id. The report model lives here because producers read it and
workers write it, and producers import no worker code."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import redis
from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout
from pydantic import BaseModel, Field

from smsq.config import contract as names
from smsq.config.celery import make_celery
from smsq.config.contract import Trigger
from smsq.config.settings import PROVIDER_NAMES, Settings
from smsq.producers.core.connection import state_client
from smsq.producers.core.keys import BlacklistKeys, Keys
from smsq.producers.errors import InvalidInput, SyncNotFinished
from smsq.producers.publisher import CeleryPublisher, Publisher

RunStatus = Literal["ok", "partial", "failed", "skipped", "invalid"]
ProviderStatus = Literal["ok", "partial", "failed", "guarded"]
MAX_PROBLEMS = 20  # per provider in a report; the counts are always complete


class Problem(BaseModel):
    number: str | None = None  # masked
    action: Literal["read", "add", "remove"]
    error: str


class ProviderReport(BaseModel):
    status: ProviderStatus = "ok"
    listed: int = 0  # numbers the provider listed when it was read
    added: int = 0
    removed: int = 0
    unchanged: int = 0  # listed there and left as they were
    failed: int = 0
    reason: str = ""  # why the part failed or was guarded
    problems: list[Problem] = Field(default_factory=list)  # the first MAX_PROBLEMS failed calls
    retry_at: datetime | None = None  # when a failed part is tried again


class LocalReport(BaseModel):
    added: int = 0
    removed: int = 0
    expired: int = 0  # entries whose time ran out, removed everywhere like a removal
    listed: int = 0  # active entries after the run
    tombstones_pruned: int = 0


class SyncReport(BaseModel):
    """One run. In a dry run the counts are what the run would do, and ``plan`` lists sample numbers."""

    task_id: str | None = None
    status: RunStatus
    detail: str = ""
    trigger: Trigger = "demand"
    dry_run: bool = False
    forced: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    local: LocalReport = Field(default_factory=LocalReport)
    providers: dict[str, ProviderReport] = Field(default_factory=dict)
    # dry run only: {"local" or provider: {"add": [numbers], "remove": [numbers]}}, capped per list
    plan: dict[str, dict[str, list[str]]] | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def checked_providers(providers: Sequence[str] | None) -> list[str] | None:
    if providers is None:
        return None
    unknown = [name for name in providers if name not in PROVIDER_NAMES]
    if unknown or not providers:
        named = ", ".join(map(repr, unknown)) or "(none)"
        raise InvalidInput([("providers", f"unknown provider {named}; use {', '.join(PROVIDER_NAMES)}")])
    return list(dict.fromkeys(providers))


class BlacklistSyncs:
    def __init__(
        self, app: Celery, client: redis.Redis, *, prefix: str = "smsq", publisher: Publisher | None = None
    ) -> None:
        self.app = app  # its result backend holds the runs' reports
        self.publisher = publisher or CeleryPublisher(app)
        self.redis = client
        self.keys = BlacklistKeys(Keys(prefix))

    @classmethod
    def from_settings(cls, settings: Settings) -> BlacklistSyncs:
        client = state_client(settings)
        return cls(make_celery(settings), client, prefix=settings.key_prefix)

    def request(
        self, *, providers: Sequence[str] | None = None, dry_run: bool = False, force: bool = False
    ) -> str:
        """Queue a run on the sync queue; returns its task id. ``providers``: only these (default all
        enabled); ``dry_run``: plan only, change nothing; ``force``: override the mass-delete guard."""
        payload = names.BlacklistSyncPayload(
            providers=checked_providers(providers), dry_run=bool(dry_run), force=bool(force)
        )
        return self.publisher.publish(names.BLACKLIST_SYNC_TASK, payload, names.SYNC)

    def wait(self, task_id: str, timeout: float) -> SyncReport:
        result = self.app.AsyncResult(_checked_task_id(task_id))
        try:
            result.get(timeout=timeout, propagate=False, interval=0.1)
        except ResultTimeout:
            raise SyncNotFinished(task_id, timeout) from None
        report = _report(task_id, result.state, result.result)
        assert report is not None
        return report

    def report(self, task_id: str | None = None) -> SyncReport | None:
        """The report of run ``task_id`` (None while it runs), or of the latest finished run."""
        if task_id is not None:
            result = self.app.AsyncResult(_checked_task_id(task_id))
            return _report(task_id, result.state, result.result)
        for run_id in self.run_ids():
            result = self.app.AsyncResult(run_id)
            report = _report(run_id, result.state, result.result)
            if report is not None:
                return report
        return None

    def run_ids(self, limit: int = 20) -> list[str]:
        ids: list[str] = self.redis.lrange(self.keys.sync_runs, 0, limit - 1)  # type: ignore[assignment]
        return ids


def _checked_task_id(task_id: str) -> str:
    try:
        return str(uuid.UUID(task_id))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput([("task_id", f"{task_id!r} is not a sync task id (a UUID)")]) from None


def _report(task_id: str, state: str, value: Any) -> SyncReport | None:
    if state == "SUCCESS" and isinstance(value, dict):
        return SyncReport.model_validate(value)
    if state in ("FAILURE", "REVOKED"):
        return SyncReport(task_id=task_id, status="failed", detail=f"the sync task ended in {state}: {value}")
    return None
