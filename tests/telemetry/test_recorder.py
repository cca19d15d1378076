from __future__ import annotations

import os
import threading

import pytest
import redis

from smsq.cli.processes import wait_until
from smsq.producers.core.keys import Keys
from smsq.telemetry import names
from smsq.telemetry.exporter import SmsqCollector
from smsq.telemetry.recorder import OTHER, Recorder, clean_label
from tests.telemetry.support import exposition, samples, value


def test_counts_reach_the_exposition_only_when_flushed(recorder: Recorder, collector: SmsqCollector) -> None:
    recorder.inc(names.MESSAGES, ("sent", "messente", "sms"), 3)
    recorder.inc(names.MESSAGES, ("sent", "messente", "sms"))
    recorder.inc(names.MESSAGES, ("failed", "smsapi", "sms"))
    labels = {"status": "sent", "provider": "messente", "channel": "sms"}
    assert value(samples(exposition(collector)), "smsq_messages_total", **labels) is None
    assert recorder.flush() == 2
    found = samples(exposition(collector))
    assert value(found, "smsq_messages_total", **labels) == 4
    assert value(found, "smsq_messages_total", status="failed", provider="smsapi", channel="sms") == 1
    assert recorder.flush() == 0  # nothing new: nothing sent twice


def test_a_histogram_is_cumulative_with_sum_and_count(recorder: Recorder, collector: SmsqCollector) -> None:
    for seconds in (0.004, 0.01, 0.2, 0.2, 99.0):  # 0.01 is in the 0.01 bucket (le)
        recorder.observe(names.SEND_DURATION, ("messente",), seconds)
    recorder.flush()
    found = samples(exposition(collector))
    bucket = "smsq_send_duration_seconds_bucket"
    assert value(found, bucket, provider="messente", le="0.01") == 2
    assert value(found, bucket, provider="messente", le="0.25") == 4
    assert value(found, bucket, provider="messente", le="30.0") == 4
    assert value(found, bucket, provider="messente", le="+Inf") == 5
    assert value(found, "smsq_send_duration_seconds_count", provider="messente") == 5
    assert value(found, "smsq_send_duration_seconds_sum", provider="messente") == pytest.approx(99.414)


def test_counts_from_several_recorders_add_up(redis_client: redis.Redis, collector: SmsqCollector) -> None:
    # What two prefork children do: each its own buffer, one sum in Redis.
    first, second = (Recorder(redis_client, Keys("t"), background=False) for _ in range(2))
    first.inc(names.RECOVERIES, ("message",), 2)
    second.inc(names.RECOVERIES, ("message",), 5)
    first.flush()
    second.flush()
    assert value(samples(exposition(collector)), "smsq_recoveries_total", kind="message") == 7


def test_label_values_are_cut_to_a_safe_alphabet() -> None:
    assert clean_label("+37251234567 | x\n") == "_37251234567___x_"
    assert len(clean_label("9" * 500)) == 40
    assert clean_label("") == "none"


def test_a_metric_records_at_most_max_series_label_sets(redis_client: redis.Redis) -> None:
    recorder = Recorder(redis_client, Keys("t"), background=False, max_series=10)
    for code in range(50):
        recorder.inc(names.PROVIDER_ERRORS, ("messente", "permanent", f"code{code}"))
    recorder.flush()
    stored = redis_client.hgetall(Keys("t").metrics(names.PROVIDER_ERRORS.name))
    assert len(stored) == 11
    assert stored["|".join([OTHER] * 3)] == "40"


def test_wrong_label_count_is_a_programming_error(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="takes labels"):
        recorder.inc(names.MESSAGES, ("sent",))


def test_counts_survive_a_failed_flush(redis_client: redis.Redis) -> None:
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    recorder = Recorder(gone, Keys("t"), background=False)
    recorder.inc(names.CALLBACKS, ("failed",), 2)
    assert recorder.flush() == 0
    recorder.redis = redis_client  # Redis is back
    assert recorder.flush() == 1
    assert redis_client.hget(Keys("t").metrics(names.CALLBACKS.name), "failed") == "2"


def test_the_background_thread_flushes(redis_client: redis.Redis) -> None:
    recorder = Recorder(redis_client, Keys("t"), flush_interval=0.05)
    recorder.inc(names.CIRCUIT_OPENED, ("smsapi",))
    key = Keys("t").metrics(names.CIRCUIT_OPENED.name)
    wait_until(lambda: redis_client.hget(key, "smsapi") is not None, timeout=30, what="the thread's flush")
    assert redis_client.hget(key, "smsapi") == "1"
    recorder.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_flushes_only_its_own_counts(redis_client: redis.Redis) -> None:
    recorder = Recorder(redis_client, Keys("t"), background=False)
    recorder.inc(names.RECOVERIES, ("lease",), 3)  # the parent's, not yet flushed
    pid = os.fork()
    if pid == 0:  # the child: what a prefork pool process does
        code = 1
        try:
            recorder.inc(names.RECOVERIES, ("lease",), 1)
            recorder.flush()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    recorder.flush()
    assert redis_client.hget(Keys("t").metrics(names.RECOVERIES.name), "lease") == "4"


def test_threads_recording_while_a_flush_runs_lose_nothing(redis_client: redis.Redis) -> None:
    # Recording takes no lock (the event loop's thread records without waiting on the sending one),
    # so flushes racing four recording threads must still send every count exactly once.
    recorder = Recorder(redis_client, Keys("t"), background=False)
    each, started = 20_000, threading.Barrier(5)

    def record() -> None:
        started.wait()
        for _ in range(each):
            recorder.inc(names.RECOVERIES, ("message",))
            recorder.observe(names.SEND_DURATION, ("messente",), 0.02)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    while any(thread.is_alive() for thread in threads):
        recorder.flush()
    recorder.flush()
    metrics = Keys("t").metrics
    assert redis_client.hget(metrics(names.RECOVERIES.name), "message") == str(4 * each)
    assert redis_client.hget(metrics(names.SEND_DURATION.name), "messente#count") == str(4 * each)
