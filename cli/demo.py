"""`smsq demo`: the whole system on this machine. A private Redis (unless one is given), the provider
sandbox, a high-lane worker, a general worker and beat as child processes; a batch of messages of
every priority (one scheduled a few seconds ahead); a progress bar; a results table. Every child is
stopped on exit or Ctrl-C."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from smsq.cli.campaign import progress_table
from smsq.cli.processes import Stack, child_env, http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.cli.render import results_table
from smsq.config.celery import make_celery
from smsq.config.settings import Settings, load_settings
from smsq.producers.callbacks.targets import callback_signing_secret, set_callback
from smsq.producers.client import Smsq
from smsq.producers.core.states import FINAL
from smsq.producers.keys.store import KeyStore
from smsq.workers.callbacks.receiver import Receiver, describe, running_receiver

# Numbers in a range phonenumbers accepts as valid mobile numbers (Estonia, +372 5...).
DEMO_NUMBERS = [f"+3725{n:07d}" for n in range(1000, 1100)]
SETTLED = FINAL | {"sent"}


def run_demo(*, per_priority: int, redis_url: str | None, console: Console) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="smsq-demo-"))
    private_redis: RedisServer | None = None
    try:
        if redis_url is None:
            private_redis = RedisServer(workdir)
            private_redis.start()
            redis_url = private_redis.url
            console.print(f"[bold]redis[/]    private redis-server on {redis_url}")
        else:
            redis.Redis.from_url(redis_url).ping()
            console.print(f"[bold]redis[/]    {redis_url}")
        with Stack(workdir) as stack:
            env = _start_children(stack, redis_url, console)
            _send_and_watch(env, per_priority, console)
        console.print(f"[dim]logs of the children were in {workdir} (removed)[/]")
    finally:
        if private_redis is not None:
            private_redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _start_children(stack: Stack, redis_url: str, console: Console) -> dict[str, str]:
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = child_env(
        redis_url=redis_url,
        key_prefix="smsq-demo",
        messente__base_url=f"{sandbox_url}/v1",
        messente__username="sandbox",
        messente__password="sandbox",
        retry__base_delay="0.5",
        # The demo's callback receiver listens on loopback over http.
        callbacks__allow_http="true",
        callbacks__allow_private="true",
        # The demo campaign (marketing, as campaigns are by default) goes out whatever the hour.
        cost__windows__enabled="false",
    )
    stack.start("sandbox", smsq_command("sandbox", "--port", str(port)), env)
    wait_until(http_ready(f"{sandbox_url}/_admin/health"), timeout=20, what="the sandbox to answer")
    console.print(f"[bold]sandbox[/]  {sandbox_url} (Messente at /v1)")
    stack.start(
        "worker-high",
        smsq_command("worker", "--lanes", "high", "--concurrency", "1", "--name", "demo-high@%h"),
        env,
    )
    stack.start("worker", smsq_command("worker", "--concurrency", "2", "--name", "demo-all@%h"), env)
    stack.start(
        "worker-callbacks", smsq_command("worker", "--lanes", "callbacks", "--name", "demo-cb@%h"), env
    )
    stack.start("beat", smsq_command("beat"), env)
    app = make_celery(load_settings(redis_url=redis_url))
    try:
        wait_until(
            lambda: len(app.control.ping(timeout=0.5) or []) >= 3, timeout=60, what="the workers to start"
        )
    except TimeoutError:
        for child in stack.children:
            console.print(f"[red]{child.name}[/] log:\n{child.log_tail()}")
        raise
    console.print("[bold]workers[/]  demo-high (high lane only), demo-all (every lane, high first), "
                  "demo-cb (callbacks); beat")  # fmt: skip
    return env


def _send_and_watch(env: dict[str, str], per_priority: int, console: Console) -> None:
    settings = load_settings(redis_url=env["SMSQ_REDIS_URL"], key_prefix=env["SMSQ_KEY_PREFIX"])
    smsq = Smsq.from_settings(settings)
    numbers = iter(DEMO_NUMBERS * (1 + 3 * per_priority // len(DEMO_NUMBERS)))
    ids: list[str] = []
    for priority in ("high", "regular", "low"):
        for n in range(per_priority):
            text = f"Your code is {1000 + n}" if priority == "high" else f"Demo {priority} message {n + 1}"
            message = {"to": next(numbers), "priority": priority,
                       "messages": [{"channel": "sms", "text": text, "sender": "smsq"}]}  # fmt: skip
            ids.append(smsq.send(message).message_id)
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    scheduled = {"to": next(numbers), "time_to_send": soon,
                 "messages": [{"channel": "sms", "text": "Scheduled three seconds ahead"}]}  # fmt: skip
    ids.append(smsq.send(scheduled).message_id)

    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    deadline = time.monotonic() + 90
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("send", total=len(ids))
        while True:
            results = smsq.results(ids)
            settled = sum(1 for r in results.values() if r and r.status in SETTLED)
            progress.update(task, completed=settled)
            if settled == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    final = [r for r in smsq.results(ids).values() if r is not None]
    console.print(results_table(final, title="smsq demo: results"))
    sent = sum(1 for r in final if r.status == "sent")
    console.print(f"{sent} of {len(ids)} messages sent")
    _campaign(smsq, console)
    _callbacks(smsq, settings, console)
    _through_the_api(smsq, settings, console)


def _campaign(smsq: Smsq, console: Console, recipients: int = 500) -> None:
    """A small campaign: personalised, deduplicated, one number blacklisted, sent in bulk calls."""
    people = [{"to": f"+3725{2000000 + n:07d}", "name": f"Customer {n + 1}"} for n in range(recipients)]
    people.append(dict(people[0]))  # a repeat: sent once
    smsq.blacklist.add(people[1]["to"], source="cli", reason="demo opt-out")
    template = {"messages": [{"channel": "sms", "text": "Hi %name%, spring sale today", "sender": "smsq"}]}
    progress = smsq.campaigns.create(name="demo campaign", template=template, recipients=people)
    columns = (TextColumn("campaign"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    deadline = time.monotonic() + 90
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("campaign", total=progress.messages)
        while progress.pending and time.monotonic() < deadline:
            time.sleep(0.1)
            progress = smsq.campaigns.progress(progress.id)
            bar.update(task, completed=progress.done)
    console.print(progress_table(progress))


def _callbacks(smsq: Smsq, settings: Settings, console: Console, messages: int = 3) -> None:
    """An app's callbacks: a key whose callback URL is a receiver on loopback that verifies each
    request with the standardwebhooks library; messages sent under that key; what it received."""
    keys = KeyStore(smsq.store.redis, prefix=settings.key_prefix)
    key = keys.create("demo app", "send,read").key
    receiver = Receiver(callback_signing_secret(keys.redis, keys.keys, key.key_id))
    with running_receiver(receiver) as url:
        loopback = settings.callbacks.model_copy(update={"allow_http": True, "allow_private": True})
        set_callback(keys.redis, keys.keys, key.key_id, f"{url}/smsq", loopback)
        console.print(f"[bold]callbacks[/] key {key.key_id} -> {url}/smsq (signatures verified)")
        ids = [
            smsq.send({"to": number, "messages": [{"channel": "sms", "text": "Your order shipped"}]},
                      key_id=key.key_id).message_id
            for number in DEMO_NUMBERS[:messages]
        ]  # fmt: skip
        told = lambda: all(receiver.received.for_message(i) for i in ids)  # noqa: E731
        with contextlib.suppress(TimeoutError):
            wait_until(told, timeout=60, what="the callbacks")
        for message_id in ids:
            for event in receiver.received.for_message(message_id):
                console.print(f"  received {describe(event)}", highlight=False)
        console.print(f"{receiver.received.count()} callbacks received, {receiver.received.refused} refused")


def _through_the_api(smsq: Smsq, settings: Settings, console: Console, messages: int = 3) -> None:
    """What an app in another language does: a test key with a callback URL, messages POSTed to the
    HTTP API (served here in-process on loopback), read back with GET, and the callbacks they caused."""
    from smsq.api.server import running_api
    from smsq.api.services import Services

    keys = KeyStore(smsq.store.redis, prefix=settings.key_prefix)
    created = keys.create("demo api app", "send,read", test=True)
    receiver = Receiver(callback_signing_secret(keys.redis, keys.keys, created.key.key_id))
    with running_receiver(receiver) as receiver_url, running_api(Services.from_settings(settings)) as api_url:
        loopback = settings.callbacks.model_copy(update={"allow_http": True, "allow_private": True})
        set_callback(keys.redis, keys.keys, created.key.key_id, f"{receiver_url}/smsq", loopback)
        console.print(
            f"[bold]api[/]      {api_url} with test key {created.key.prefix}... (callbacks to {receiver_url})"
        )
        headers = {"Authorization": f"Bearer {created.secret}"}
        with httpx.Client(base_url=api_url, headers=headers, timeout=10) as http:
            ids = []
            for number in DEMO_NUMBERS[10 : 10 + messages]:
                body = {"to": number, "messages": [{"channel": "sms", "text": "Sent through the HTTP API"}]}
                answer = http.post("/v1/messages", json=body, headers={"Idempotency-Key": f"demo-{number}"})
                accepted = answer.json()
                console.print(
                    f"  POST /v1/messages -> {answer.status_code} {accepted['id']} {accepted['status']}"
                )
                ids.append(accepted["id"])
            told = lambda: all(receiver.received.for_message(i) for i in ids)  # noqa: E731
            with contextlib.suppress(TimeoutError):
                wait_until(told, timeout=60, what="the callbacks")
            listed = http.get("/v1/messages", params={"ids": ",".join(ids)}).json()["messages"]
            console.print(
                "  GET /v1/messages -> " + ", ".join(f"{m['id'][:8]} {m['status']}" for m in listed)
            )
    for message_id in ids:
        for event in receiver.received.for_message(message_id):
            console.print(f"  received {describe(event)}", highlight=False)
    console.print(f"{receiver.received.count()} callbacks received through the API's test key")
