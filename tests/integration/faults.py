"""What the fault tests count: per recipient, how many send requests the sandbox received, next to
smsq's final statuses (the short versions of bench/faults.py's scenarios)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from smsq.cli.processes import smsq_command, wait_until
from smsq.producers.client import Smsq
from smsq.producers.core.results import MessageResult
from tests.integration.stack import Running

PENDING = {"scheduled", "queued", "sending"}
SENT = {"sent", "delivered"}


def received_per_number(sandbox: httpx.Client) -> Counter[str]:
    """Send requests that reached the sandbox's Messente (a request counts once it arrived, answered
    or not: the provider has it)."""
    answer = sandbox.get("/_admin/requests", params={"provider": "messente"}).json()
    entries = answer["requests"] if isinstance(answer, dict) else answer
    counts: Counter[str] = Counter()
    for entry in entries:
        if entry["method"] != "POST" or entry["status"] not in (201, None):
            continue
        if entry["path"] == "/v1/omnimessage":
            counts[entry["body"]["to"]] += 1
        elif entry["path"] == "/v1/omnimessages":
            counts.update(message["to"] for message in entry["body"]["messages"])
    return counts


@dataclass
class Figures:
    statuses: Counter[str]
    lost: int  # no record at all (a message smsq accepted and forgot): none may be
    sent_unreceived: int  # marked sent, the provider never got it
    twice_unmarked: int  # received 2+ times without the record saying why (a lease-expired resend)
    twice_marked: int
    pending: int
    unknown_unreceived: int = (
        0  # `unknown` although the provider never got it (handed to the HTTP client only)
    )

    def __str__(self) -> str:
        return (f"statuses {dict(self.statuses)}; lost {self.lost}; sent but not received "
                f"{self.sent_unreceived}; received twice unmarked {self.twice_unmarked}, marked "
                f"{self.twice_marked}; still pending {self.pending}; unknown but never received "
                f"{self.unknown_unreceived}")  # fmt: skip


def figures(smsq: Smsq, ids: Sequence[str], sandbox: httpx.Client) -> Figures:
    results: dict[str, MessageResult | None] = {}
    for start in range(0, len(ids), 500):
        results.update(smsq.results(ids[start : start + 500]))
    received = received_per_number(sandbox)
    statuses: Counter[str] = Counter(r.status if r else "missing" for r in results.values())
    lost = sent_unreceived = twice_unmarked = twice_marked = pending = unknown_unreceived = 0
    for result in results.values():
        if result is None:
            lost += 1
            continue
        got = received[result.to]
        pending += result.status in PENDING
        sent_unreceived += result.status in SENT and got == 0
        unknown_unreceived += result.status == "unknown" and got == 0
        if got >= 2:
            marked = result.last_error is not None and result.last_error.code == "lease-expired"
            twice_marked += marked
            twice_unmarked += not marked
    return Figures(statuses, lost, sent_unreceived, twice_unmarked, twice_marked, pending, unknown_unreceived)


def settle(smsq: Smsq, ids: Sequence[str], sandbox: httpx.Client, timeout: float) -> Figures:
    """Wait until nothing is pending any more (or fail with the figures)."""
    try:
        wait_until(lambda: figures(smsq, ids, sandbox).pending == 0, timeout=timeout, interval=0.5,
                   what="every message to leave scheduled/queued/sending")  # fmt: skip
    except TimeoutError as error:
        raise AssertionError(f"{error}: {figures(smsq, ids, sandbox)}") from None
    return figures(smsq, ids, sandbox)


def replace(
    running: Running, name: str, new_name: str, args: Sequence[str], sig: int = signal.SIGKILL
) -> float:
    """Stop a worker with ``sig`` and start its replacement; returns how long the old one took to exit.
    SIGKILL goes to its whole process group, as a crashed container dies; SIGTERM to its main process
    only, as `docker stop` and Kubernetes signal a container's PID 1."""
    child = next(c for c in running.stack.children if c.name == name)
    started = time.monotonic()
    if sig == signal.SIGTERM:
        child.process.send_signal(signal.SIGTERM)
        child.process.wait(timeout=60)
    took = time.monotonic() - started
    child.stop(sig)
    node = f"{new_name}-{running.settings.key_prefix}@%h"
    running.stack.start(new_name, smsq_command("worker", "--name", node, *args), running.env)
    return took
