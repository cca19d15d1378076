"""The Celery side: task payloads, the stored report, retry queueing, beat entries, send-time wiring."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from celery import Celery

from smsq.config import contract as names
from smsq.config.celery import celery_config
from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.blacklist.sync import SyncReport
from smsq.workers.app import create_app
from smsq.workers.blacklist.records import SyncRecords
from smsq.workers.blacklist.tasks import queue_due_retries
from smsq.workers.context import context_for, reset_contexts
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.support.sandbox import blacklists
from tests.workers.blacklist.conftest import Syncer, X


@pytest.fixture
def app(sync_settings: Settings) -> Iterator[Celery]:
    yield create_app(sync_settings)
    reset_contexts(close=True)


def run_task(app: Celery, name: str, *args: Any, **kwargs: Any) -> Any:
    return app.tasks[name].apply(args=args, kwargs=kwargs).get()


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        ((), {"providers": ["fax"]}, "providers.0"),
        ((), {"providers": "smsapi"}, "providers"),
        ((), {"dry_run": "maybe"}, "dry_run"),
        ((), {"force": True, "colour": "red"}, "colour"),
        ((["smsapi"],), {}, "args"),
    ],
)
def test_a_bad_sync_payload_is_dead_lettered_with_its_error_and_changes_nothing(
    app: Celery,
    redis_client: redis.Redis,
    admin: httpx.Client,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    named: str,
) -> None:
    Blacklist(redis_client, prefix="t").add(X)
    report = SyncReport.model_validate(run_task(app, names.BLACKLIST_SYNC_TASK, *args, **kwargs))
    assert report.status == "invalid" and report.detail.startswith(f"{named}:")
    (letter,) = context_for(app).store.dead_letters()
    assert letter["task"] == names.BLACKLIST_SYNC_TASK and letter["error"].startswith(f"{named}:")
    assert blacklists(admin) == {"messente": set(), "smsapi": set(), "direct_messenger": set()}
    assert redis_client.llen("t:blacklist:sync:runs") == 0


def test_the_sync_task_returns_its_report_and_records_the_run(
    app: Celery, redis_client: redis.Redis, admin: httpx.Client
) -> None:
    Blacklist(redis_client, prefix="t").add(X)
    result = app.tasks[names.BLACKLIST_SYNC_TASK].apply(kwargs={"providers": ["smsapi"], "trigger": "beat"})
    report = SyncReport.model_validate(result.get())
    assert (report.status, report.trigger, report.task_id) == ("ok", "beat", result.id)
    assert report.providers["smsapi"].added == 1 and set(report.providers) == {"smsapi"}
    assert blacklists(admin)["smsapi"] == {X}
    assert redis_client.lrange("t:blacklist:sync:runs", 0, -1) == [result.id]
    assert app.tasks[names.BLACKLIST_SYNC_TASK].ignore_result is False  # the report is the task result
    assert app.tasks[names.BLACKLIST_SYNC_RETRY_TASK].ignore_result is True


def test_due_retries_are_queued_once_on_the_sync_queue(
    sync: Syncer, sync_settings: Settings, redis_client: redis.Redis, admin: httpx.Client, clock: FakeClock
) -> None:
    admin.post(
        "/_admin/faults", json={"provider": "dm", "endpoint": "GET /dm/api/blacklist", "kind": "status"}
    )
    sync()
    recorder = RecordingPublisher()
    assert queue_due_retries(sync_settings, redis_client, recorder, clock=clock) == []  # type: ignore[arg-type]
    clock.advance(60)
    assert queue_due_retries(sync_settings, redis_client, recorder, clock=clock) == ["direct_messenger"]  # type: ignore[arg-type]
    retry = {"providers": ["direct_messenger"], "dry_run": False, "force": False, "trigger": "retry"}
    assert recorder.published == [(names.BLACKLIST_SYNC_TASK, retry, names.SYNC)]
    assert queue_due_retries(sync_settings, redis_client, recorder, clock=clock) == []  # type: ignore[arg-type]
    clock.advance(sync_settings.blacklist.lock_seconds)  # the queued retry never ran: queue it again
    assert queue_due_retries(sync_settings, redis_client, recorder, clock=clock) == ["direct_messenger"]  # type: ignore[arg-type]
    state = SyncRecords(redis_client, Blacklist(redis_client, prefix="t").keys).state("direct_messenger")
    assert state.failures == 1


def test_a_second_failure_doubles_the_wait(
    sync: Syncer, redis_client: redis.Redis, admin: httpx.Client, clock: FakeClock
) -> None:
    admin.post(
        "/_admin/faults", json={"provider": "dm", "endpoint": "GET /dm/api/blacklist", "kind": "status"}
    )
    sync()
    clock.advance(60)
    report = sync(providers=["direct_messenger"], trigger="retry")
    retry_at = report.providers["direct_messenger"].retry_at
    assert retry_at is not None and retry_at.timestamp() == clock.now + 120


def test_beat_runs_the_sync_periodically_on_the_sync_queue(sync_settings: Settings) -> None:
    schedule = celery_config(sync_settings)["beat_schedule"]
    assert schedule["blacklist-sync"] == {
        "task": names.BLACKLIST_SYNC_TASK,
        "schedule": 900.0,
        "kwargs": {"trigger": "beat"},
        "options": {"queue": names.SYNC, "expires": 900.0},
    }
    assert schedule["blacklist-sync-retry"]["task"] == names.BLACKLIST_SYNC_RETRY_TASK
    assert names.TASK_ROUTES[names.BLACKLIST_SYNC_TASK] == {"queue": names.SYNC}
    off = sync_settings.model_copy(
        update={"blacklist": sync_settings.blacklist.model_copy(update={"periodic_sync": False})}
    )
    assert "blacklist-sync" not in celery_config(off)["beat_schedule"]


def test_the_worker_send_path_checks_the_blacklist(app: Celery, redis_client: redis.Redis) -> None:
    sender = context_for(app).sender
    assert not sender.is_blacklisted(X)
    Blacklist(redis_client, prefix="t").add(X)
    assert sender.is_blacklisted(X)
