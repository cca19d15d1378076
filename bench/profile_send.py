"""Where a worker's CPU goes when it sends a campaign batch: runs smsq.workers.campaigns.sending.send_batch
in this process (no Celery) on a private Redis against the nginx stub, and prints CPU seconds per
1,000 messages. Run it under py-spy to see the hot spots:

    .venv/bin/py-spy record -r 200 -f raw -o /tmp/send.txt -- .venv/bin/python -m bench.profile_send
    .venv/bin/python -m bench.profile_send --bulk --messages 20000
"""

from __future__ import annotations

import argparse
import cProfile
import os
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import private_redis, smsq_env
from bench.nginx_stub import start_nginx_stub
from bench.throughput import TEMPLATE
from smsq.cli.processes import Stack
from smsq.config.celery import make_celery
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from smsq.workers.campaigns.sending import BatchOptions, send_batch
from smsq.workers.context import build_context
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.sending.loop_http import AsyncHttp


def cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--bulk", action="store_true")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--async", dest="use_async", action="store_true", help="singles through the loop")
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--cprofile", type=Path, default=None, help="profile serially into this file")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsq-profile-send-"))
    with private_redis(workdir) as redis_server, Stack(workdir) as stack:
        url = start_nginx_stub(stack, workdir / "nginx", latency_ms=args.latency_ms)
        if args.bulk:  # nginx answers single sends only; bulk needs the counting stub
            from bench.common import start_stub

            url = start_stub(stack, latency_ms=args.latency_ms)
        env = smsq_env(redis_server.url, url, messente__rate_per_second="100000", messente__burst="1000")
        os.environ.update({f"SMSQ_{name.upper()}": value for name, value in env.items()})
        settings = Settings(_env_file=None)
        smsq = Smsq.from_settings(settings)
        recipients = [{"to": f"+3725{n:07d}", "n": str(n)} for n in range(args.messages)]
        campaign = smsq.campaigns.create(name="profile", template=TEMPLATE, recipients=recipients)
        context = build_context(settings, make_celery(settings))
        loop_client = (
            AsyncHttp.for_provider(
                MessenteClient.from_settings(settings.messente), max_connections=args.threads
            )
            if args.use_async
            else None
        )
        options = BatchOptions(chunk=args.chunk, use_bulk=args.bulk, bulk_size=100, concurrency=args.threads,
                               async_http=loop_client)  # fmt: skip
        pool = ThreadPoolExecutor(args.threads)
        started, cpu0 = time.perf_counter(), cpu()
        if args.cprofile:
            with cProfile.Profile() as profile:
                outcome = send_batch(campaign.id, 1, args.messages, context.sender, options, None)
            profile.dump_stats(args.cprofile)
        else:
            outcome = send_batch(campaign.id, 1, args.messages, context.sender, options, pool)
        wall, cpu1 = time.perf_counter() - started, cpu()
        user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        used = user + system
        print(f"{'bulk' if args.bulk else 'single'}: {outcome.statuses} in {wall:.2f} s = "
              f"{args.messages / wall:,.0f}/s; this process used {user:.2f} s user + {system:.2f} s system = "
              f"{used / args.messages * 1e6:,.0f} µs per message")  # fmt: skip
        pool.shutdown()
        if loop_client is not None:
            loop_client.close()
        context.close()


if __name__ == "__main__":
    main()
