"""One active beat among many (smsq.workers.lease): the lease is held by one, handed on at a clean
stop, taken over once a holder stops renewing, and a holder that was taken over knows it."""

from __future__ import annotations

import threading
from typing import Any

import redis
from celery import Celery

from smsq.cli.processes import wait_until
from smsq.workers.lease import BeatLease, leased_scheduler

KEY = "t:beat:lease"


def test_one_holds_the_lease_and_a_clean_stop_hands_it_on(redis_client: redis.Redis) -> None:
    first, second = BeatLease(redis_client, KEY, seconds=5), BeatLease(redis_client, KEY, seconds=5)
    assert first.step() and not second.step()
    assert first.step() and not second.step()  # renewing keeps it
    first.release()
    assert not first.held() and second.step()


def test_a_holder_that_stops_renewing_is_taken_over_and_then_knows_it(redis_client: redis.Redis) -> None:
    first, second = BeatLease(redis_client, KEY, seconds=0.3), BeatLease(redis_client, KEY, seconds=0.3)
    assert first.step()
    wait_until(second.step, timeout=5, what="the standby to take the lease over")  # first stopped renewing
    assert not first.step()  # its renewal is refused: it stands by
    assert second.held() and redis_client.get(KEY).startswith(second.name)  # type: ignore[union-attr]


def test_the_renewing_thread_keeps_the_lease_past_its_length(redis_client: redis.Redis) -> None:
    first, second = BeatLease(redis_client, KEY, seconds=0.3), BeatLease(redis_client, KEY, seconds=0.3)
    stop = threading.Event()
    runner = threading.Thread(target=first.run, args=(stop,))
    runner.start()
    try:
        wait_until(first.held, timeout=5, what="the lease")
        for _ in range(10):  # three lease lengths: the standby never gets it
            assert not second.step()
            threading.Event().wait(0.1)
    finally:
        stop.set()
        runner.join()
    assert second.step()  # released on stop


def test_beats_scheduler_sends_periodic_tasks_only_while_the_lease_is_held(
    redis_client: redis.Redis, tmp_path: Any
) -> None:
    lease = BeatLease(redis_client, KEY, seconds=5)
    sent: list[str] = []
    scheduler_class = leased_scheduler(lease)

    class Recording(scheduler_class):  # type: ignore[valid-type,misc]
        def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **_: Any) -> None:
            sent.append(entry.name)

    app = Celery(set_as_current=False)
    app.conf.beat_schedule = {"tick": {"task": "x", "schedule": 1.0}}
    scheduler = Recording(app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.setup_schedule()
    entry = scheduler.schedule["tick"]
    scheduler.apply_entry(entry)
    assert sent == []  # standing by
    assert lease.step()
    scheduler.apply_entry(entry)
    assert sent == ["tick"]
