"""Campaign singles through asyncio. The worker's main thread stays synchronous: it reserves
connections, takes rate-limit tokens for as many messages per Redis round trip, and hands each
granted group to the loop's client (``loop_http.AsyncHttp``) in one hop, then records the answers of
the previous chunk while this one is in flight (``start_singles`` returns at once).

Singles of a provider that is a ``LoopSingles`` go this way (SMSQ_CAMPAIGNS__ASYNC_SEND=true,
use_bulk=false). The provider gives each body and reads each answer with the same parse and error
rules as its sync client (workers/providers/http.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import httpx

from smsq.producers.core.records import ATTEMPTS, CALL_PROVIDER
from smsq.producers.messages.models import Omnimessage
from smsq.workers.limits.ratelimit import Grant
from smsq.workers.providers import http
from smsq.workers.providers.base import LoopSingles, OutboundMessage, SendResult
from smsq.workers.providers.errors import ProviderError
from smsq.workers.sending.loop_http import Answer, AsyncHttp, Late, Mark, NotOurs, Reply
from smsq.workers.sending.single import (
    Decision,
    Outcome,
    Sender,
    decide,
    not_ours,
    outbound_for,
    record_outcomes,
)

TOKENS_PER_TRIP = 50  # rate-limit tokens asked for in one Redis round trip
# The GIL switch interval in a process whose loop thread paces requests: at CPython's default 5 ms
# the sending thread (claiming, rendering, recording) held the loop off its slots for more than
# SMSQ_PACING__LATE_AFTER (15 ms) on a busy host, and late requests are put back, not sent.
LOOP_SWITCH_INTERVAL = 0.001
Item = tuple[str, dict[str, str], Omnimessage]


def answer_of(
    provider: LoopSingles, answer: Reply | httpx.HTTPError, message: OutboundMessage
) -> SendResult | ProviderError:
    """The provider's answer to one send, read like the sync client reads it."""
    if isinstance(answer, httpx.HTTPError):
        return http.transport_error(provider.name, answer)
    try:
        return provider.read_single(answer.status, answer.content, answer.as_httpx, message)
    except ProviderError as exc:
        return exc


def waiting(detail: str, due_ms: int, wait: float) -> Decision:
    """Back to wait for our own limit: nothing was sent, no attempt is spent (and the record's note
    of a call, made before the request waited for its slot, is taken back)."""
    return Decision(
        "queued", {"schedule_at_ms": due_ms, "fields": {CALL_PROVIDER: ""}}, Outcome("queued", detail, wait)
    )


@dataclass
class InFlight:
    """A chunk's singles on their way: ``finish`` waits for the answers and decides each message."""

    items: Sequence[Item]
    provider: LoopSingles
    sender: Sender
    outbound: list[OutboundMessage]  # what went out of items, in order (the answers are to these)
    client: AsyncHttp
    groups: list[tuple[int, Future[list[Answer]]]]  # (messages, their answers to come)
    later: list[Decision]

    def finish(self) -> list[Decision]:
        answers: list[Answer] = []
        for size, group in self.groups:
            try:
                answers.extend(group.result(timeout=self.client.answer_timeout))
            except TimeoutError:  # the loop stopped: unanswered, so maybe sent
                answers.extend([httpx.ReadTimeout("no answer from the event loop in time")] * size)
        each = zip(self.items, self.outbound, answers, strict=False)
        decisions = [self._decide(item, outbound, answer) for item, outbound, answer in each]
        # One health count and at most one pause for the whole chunk, not a round trip per call.
        record_outcomes(self.sender, self.provider.name, decisions)
        return decisions + self.later

    def _decide(self, item: Item, outbound: OutboundMessage, answer: Answer) -> Decision:
        if isinstance(answer, Late):
            return waiting("late for its rate-limit slot", self.sender.store.now_ms(), 0.0)
        if isinstance(answer, NotOurs):
            return not_ours()
        mid, record, message = item
        attempt = int(record.get(ATTEMPTS, 0)) + 1
        answered = answer_of(self.provider, answer, outbound)
        return decide(mid, record, message, self.provider.name, attempt, answered, self.sender)


def start_singles(
    items: Sequence[Item],
    provider: LoopSingles,
    sender: Sender,
    priority: str,
    client: AsyncHttp,
    mark: Mark | None = None,
) -> InFlight:
    """Hand each message to the loop as soon as its token is granted, to leave at its token's slot,
    and return without waiting for the answers; what gets no token within the inline wait goes back
    to wait (no attempt spent). ``mark``: see ``AsyncHttp.post_many``."""

    def reslot(late: list[str | None]) -> list[float]:
        """New slots, now, for requests the loop held past theirs (on its gathering thread)."""
        sender.telemetry.pacing_late(provider.name, len(late))
        grant = take_tokens(sender, provider.name, priority, len(late))
        base = slot_base(sender, grant)
        return [base + grant.slot(k) for k in range(grant.granted)]

    groups: list[tuple[int, Future[list[Answer]]]] = []
    later: list[Decision] = []
    outbound: list[OutboundMessage] = []
    waited = 0.0
    sent = 0
    while sent < len(items):
        # Tokens only for requests that have a connection to leave on at their slot.
        wanted = client.reserve(min(TOKENS_PER_TRIP, len(items) - sent))
        if not wanted:  # every connection busy for the whole pool timeout: the rest waits, unspent
            later = [waiting("no free connection", sender.store.now_ms(), 0.0)] * (len(items) - sent)
            break
        grant = take_tokens(sender, provider.name, priority, wanted)
        granted = grant.granted
        client.unreserve(wanted - granted)
        if granted:
            # The slots on this process's monotonic clock (the loop's), counted from when the limiter
            # granted them, not from when this thread got to read the grant (SlotClock says why).
            base = slot_base(sender, grant)
            chosen = items[sent : sent + granted]
            going = [outbound_for(sender, provider.name, mid, message) for mid, _, message in chosen]
            outbound.extend(going)
            bodies = [provider.single_body(message) for message in going]
            slots = [base + grant.slot(k) for k in range(granted)] if grant.interval else None
            answers = client.post_many(
                provider.single_path,
                bodies,
                slots=slots,
                mark=mark,
                ids=[mid for mid, _, _ in chosen],
                reslot=reslot,
            )
            groups.append((granted, answers))
            sent += granted
        if granted == wanted:
            continue
        if waited + grant.wait > sender.max_inline_wait:
            # Our own global limit: what has no token goes back to wait; no attempt is spent.
            due = sender.store.now_ms() + int(grant.wait * 1000)
            later = [waiting("rate limit", due, grant.wait)] * (len(items) - sent)
            sender.telemetry.limiter_deferred(provider.name, len(items) - sent)
            break
        sender.sleep(grant.wait)
        sender.telemetry.limiter_wait(provider.name, grant.wait)
        waited += grant.wait
    return InFlight(items, provider, sender, outbound, client, groups, later)


class LoopClients:
    """One ``AsyncHttp`` per provider a worker process sends singles to, made by ``make`` when first
    asked for (None: that provider's singles go the sync way)."""

    def __init__(self, make: Callable[[LoopSingles], AsyncHttp | None]) -> None:
        self.make = make
        self.clients: dict[str, AsyncHttp | None] = {}
        self._lock = threading.Lock()

    def get(self, provider: LoopSingles) -> AsyncHttp | None:
        with self._lock:
            if provider.name not in self.clients:
                self.clients[provider.name] = self.make(provider)
            return self.clients[provider.name]


def client_for(clients: AsyncHttp | LoopClients | None, provider: object) -> AsyncHttp | None:
    """The loop client for ``provider``'s singles, if they go through one (a lone ``AsyncHttp``, as
    tests give, serves every provider)."""
    if clients is None or not isinstance(provider, LoopSingles):
        return None
    return clients if isinstance(clients, AsyncHttp) else clients.get(provider)


def slot_base(sender: Sender, grant: Grant) -> float:
    """The local monotonic time ``grant``'s slots count from."""
    return sender.limiter.slot_clock.base(grant) if sender.limiter is not None else time.monotonic()


def take_tokens(sender: Sender, provider: str, priority: str, count: int) -> Grant:
    if sender.limiter is None:
        return Grant(count, 0.0, 0.0, 0.0)
    return sender.limiter.take(provider, priority, count)
