"""RabbitMQ next to Redis as the broker (issue: scale out), on one machine, by hand.

For each broker and each number of worker nodes: a campaign of --recipients singles (use_bulk off, so
every message is one provider request) against the stub answering after --latency-ms, with an OTP
(priority high) sent every --otp-interval-ms while the campaign's backlog is queued, served by a
high-lane node of its own (as docker-compose runs `worker-high`). Printed per run:
the campaign's throughput (messages/s from creation to the last one final) and the OTPs' latency
(producer call to the stub receiving the request, p50/p99). Each node is one `smsq worker` process
with --per-node parallel requests; the provider's limit is smsq's own rate limiter at --provider-rate,
so throughput grows with nodes until it reaches that. The state store is a private Redis in both
cases; the RabbitMQ runs use a vhost of their own on the machine's RabbitMQ (127.0.0.1:5672).

    .venv/bin/python -m bench.brokers                              # both brokers, 1, 2 and 4 nodes
    .venv/bin/python -m bench.brokers --brokers amqp --nodes 2 --recipients 1000   # one quick run
    .venv/bin/python -m bench.brokers --publish 20000             # + raw publish rate, quorum vs classic
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.common import private_redis, smsq_env, start_stub, summary
from smsq.cli.processes import Stack, child_env, smsq_command, wait_until
from smsq.config.celery import make_celery
from smsq.config.contract import SendPayload
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from smsq.producers.publisher import CeleryPublisher
from tests.support.rabbitmq import add_vhost, delete_vhost_later, unreachable_reason

OTP_PREFIX = "+3712"  # the stub records these numbers' arrival times


@contextlib.contextmanager
def broker_url(kind: str, redis_url: str) -> Iterator[str]:
    if kind == "redis":
        yield redis_url.rsplit("/", 1)[0] + "/2"  # the same server, its own database for the queues
        return
    reason = unreachable_reason()
    if reason is not None:
        raise SystemExit(f"cannot bench RabbitMQ: {reason}")
    vhost = f"smsq-bench-{uuid.uuid4().hex[:8]}"
    add_vhost(vhost)
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        delete_vhost_later(vhost)


def settings_from(env: dict[str, str]) -> Settings:
    """The settings the children read from ``env`` (nested ones too), for this process's producer."""
    saved = dict(os.environ)
    os.environ.update({f"SMSQ_{name.upper()}": value for name, value in env.items()})
    try:
        return Settings(_env_file=None)  # type: ignore[call-arg]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_once(args: argparse.Namespace, kind: str, nodes: int, workdir: Path) -> str:
    with private_redis(workdir) as redis, broker_url(kind, redis.url) as broker, Stack(workdir) as stack:
        stub = start_stub(stack, latency_ms=args.latency_ms)
        env = smsq_env(redis.url, stub, broker_url=broker, campaigns__use_bulk="false",
                       campaigns__concurrency=str(args.per_node), messente__burst="10",
                       messente__rate_per_second=str(args.provider_rate),
                       campaigns__batch_size=str(args.batch_size), amqp__queue_type=args.queue_type,
                       blacklist__periodic_sync="false")  # fmt: skip
        full = child_env(**env)
        for n in range(nodes):
            argv = smsq_command(
                "worker", "--name", f"node{n}@%h", "--concurrency", "1", "--loglevel", "WARNING"
            )
            stack.start(f"node{n}", argv, full)
        # The high lane's own node, as docker-compose runs one: OTPs never wait for a bulk batch to end.
        high = smsq_command("worker", "--name", "high@%h", "--lanes", "high", "--concurrency", "1")
        stack.start("high", [*high, "--loglevel", "WARNING"], full)
        stack.start("beat", smsq_command("beat", "--loglevel", "WARNING"), full)
        settings = settings_from(env)
        app = make_celery(settings)
        wait_until(
            lambda: len(app.control.ping(timeout=0.5) or []) >= nodes + 1, timeout=120, what="the nodes"
        )
        smsq = Smsq.from_settings(settings)
        recipients = [f"+3725{n:07d}" for n in range(args.recipients)]
        template = {"priority": "low", "messages": [{"channel": "sms", "text": "sale"}]}
        started = time.monotonic()
        campaign = smsq.campaigns.create(name="bench", template=template, recipients=recipients)
        otp_sent: dict[str, float] = {}
        otp_ids: list[str] = []
        stop = threading.Event()

        def otps() -> None:
            n = 0
            while not stop.wait(args.otp_interval_ms / 1000):
                to = f"{OTP_PREFIX}{n:07d}"
                otp_sent[to] = time.time()
                otp = {"to": to, "priority": "high", "messages": [{"channel": "sms", "text": "1234"}]}
                otp_ids.append(smsq.send(otp).message_id)
                n += 1

        sender = threading.Thread(target=otps, daemon=True)
        sender.start()
        wait_until(lambda: smsq.campaigns.progress(campaign.id).pending == 0, timeout=args.timeout,
                   interval=0.25, what="the campaign")  # fmt: skip
        elapsed = time.monotonic() - started
        stop.set()
        sender.join()
        wait_until(lambda: all(r and r.status == "sent" for r in smsq.results(otp_ids).values()), timeout=60,
                   what="the OTPs")  # fmt: skip
        arrivals = httpx.get(f"{stub}/_stats", timeout=10).json()["arrivals"]
        latencies = [arrivals[to][0] - at for to, at in otp_sent.items() if arrivals.get(to)]
        counts = smsq.campaigns.progress(campaign.id).counts
        label = f"{kind} ({args.queue_type})" if kind == "amqp" else kind
        return (f"{label:15} {nodes} node(s): campaign {args.recipients:,} in {elapsed:5.1f} s = "
                f"{args.recipients / elapsed:6.1f}/s {dict(counts)}; OTP under the backlog "
                f"({len(latencies)}/{len(otp_sent)} arrived) {summary(latencies)}")  # fmt: skip


def publish_rate(args: argparse.Namespace, workdir: Path) -> list[str]:
    """smsq's publisher alone: tasks/s into one lane, in release-loop sized batches."""
    lines = []
    with private_redis(workdir) as redis:
        for kind, queue_type in (("redis", "-"), ("amqp", "quorum"), ("amqp", "classic")):
            with broker_url(kind, redis.url) as broker:
                amqp = {"queue_type": queue_type if queue_type != "-" else "quorum"}
                settings = Settings(_env_file=None, redis_url=redis.url, broker_url=broker, amqp=amqp)  # type: ignore[call-arg,arg-type]
                publisher = CeleryPublisher(make_celery(settings))
                tasks = [("smsq.send", SendPayload(message_id=str(uuid.uuid4())), "low") for _ in range(1000)]
                publisher.publish_many(tasks[:10])  # connect and declare first
                started = time.monotonic()
                for _ in range(args.publish // 1000):
                    publisher.publish_many(tasks)
                elapsed = time.monotonic() - started
                publisher.close()
                confirmed = ", each batch confirmed" if kind == "amqp" else ", one pipeline each"
                lines.append(f"publish {kind:5} {queue_type:7}: {args.publish:,} tasks in {elapsed:.2f} s = "
                             f"{args.publish / elapsed:,.0f}/s (batches of 1,000{confirmed})")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--brokers", default="redis,amqp")
    parser.add_argument("--nodes", default="1,2,4")
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--per-node", type=int, default=8, help="parallel provider requests per node")
    parser.add_argument("--queue-type", default="quorum", choices=["quorum", "classic"], help="lanes on amqp")
    parser.add_argument("--batch-size", type=int, default=50, help="messages per campaign batch task")
    parser.add_argument("--provider-rate", type=float, default=250.0, help="the provider's limit, per second")
    parser.add_argument("--otp-interval-ms", type=float, default=250.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--publish", type=int, default=0, help="also time this many raw publishes per broker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smsq-bench-brokers-") as tmp:
        if args.publish:
            (Path(tmp) / "publish").mkdir()
            for line in publish_rate(args, Path(tmp) / "publish"):
                print(line, flush=True)
        for kind in args.brokers.split(","):
            for nodes in (int(n) for n in args.nodes.split(",")):
                workdir = Path(tmp) / f"{kind}-{nodes}"
                workdir.mkdir(parents=True)
                print(run_once(args, kind, nodes, workdir), flush=True)


if __name__ == "__main__":
    main()
