"""Campaign singles through asyncio. The worker's main thread stays synchronous: it hands a chunk's
requests to the loop's client (``loop_http.AsyncHttp``) in one hop, where each waits for a free
connection and then takes its rate-limit token (the requests asking at once in one Redis round
trip), then records the answers of the previous chunk while this one is in flight
(``start_singles`` returns at once).

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
from smsq.producers.core.store import MessageStore, marked_of
from smsq.producers.messages.models import Omnimessage
from smsq.workers.limits.ratelimit import grant_of
from smsq.workers.providers import http
from smsq.workers.providers.base import LoopSingles, OutboundMessage, SendResult
from smsq.workers.providers.errors import ProviderError
from smsq.workers.sending.loop_http import (
    MARK_LEAD,
    NOT_OURS,
    Answer,
    AsyncHttp,
    Deferred,
    Late,
    Mark,
    NoToken,
    NotOurs,
    Reply,
    Take,
    Token,
)
from smsq.workers.sending.single import (
    Decision,
    Outcome,
    Sender,
    decide,
    not_ours,
    outbound_for,
    record_outcomes,
)

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
    outbound: list[OutboundMessage]  # one per item, in order (the answers are to these)
    client: AsyncHttp
    answers: Future[list[Answer]]

    def finish(self) -> list[Decision]:
        # The client's timeouts end every call; this only guards against a stopped loop.
        wait = self.client.answer_timeout + self.client.timeouts.pool + self.sender.max_inline_wait
        try:
            answers: list[Answer] = self.answers.result(timeout=wait)
        except TimeoutError:  # the loop stopped: unanswered, so maybe sent
            answers = [httpx.ReadTimeout("no answer from the event loop in time")] * len(self.items)
        each = zip(self.items, self.outbound, answers, strict=True)
        decisions = [self._decide(item, outbound, answer) for item, outbound, answer in each]
        deferred = sum(1 for answer in answers if isinstance(answer, Deferred) and answer.wait)
        if deferred:
            self.sender.telemetry.limiter_deferred(self.provider.name, deferred)
        # One health count and at most one pause for the whole chunk, not a round trip per call.
        record_outcomes(self.sender, self.provider.name, decisions)
        return decisions

    def _decide(self, item: Item, outbound: OutboundMessage, answer: Answer) -> Decision:
        if isinstance(answer, Late):
            return waiting("late for its rate-limit slot", self.sender.store.now_ms(), 0.0)
        if isinstance(answer, Deferred):
            due = self.sender.store.now_ms() + int(answer.wait * 1000)
            return waiting(answer.reason, due, answer.wait)
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
    """Hand every message to the loop in one hop and return without waiting for the answers: each
    request takes the next free connection, then its token and slot (``AsyncHttp.post_many``); what
    gets no token within the inline wait goes back to wait (no attempt spent). ``mark``: notes on the
    records that their requests leave now."""
    outbound = [outbound_for(sender, provider.name, mid, message) for mid, _, message in items]
    bodies = [provider.single_body(message) for message in outbound]
    limited = sender.limiter is not None and sender.limiter.limited(provider.name)
    answers = client.post_many(
        provider.single_path,
        bodies,
        ids=[mid for mid, _, _ in items],
        take=tokens_for(sender, provider.name, priority, mark) if limited else None,
        retake=tokens_for(sender, provider.name, priority, mark, late=True) if limited else None,
        mark=mark,
        give_up_at=time.monotonic() + sender.max_inline_wait,
    )
    return InFlight(items, provider, sender, outbound, client, answers)


@dataclass(frozen=True)
class CallMarks:
    """The Mark of one chunk's records (held with ``lease_token``), which can also go in a pipeline
    with the limiter's take when both are on one Redis client."""

    store: MessageStore
    lease_token: str
    provider: str

    def __call__(self, ids: list[str]) -> Sequence[bool]:
        return self.store.mark_calling(ids, self.lease_token, self.provider)

    def take_back(self, ids: list[str]) -> None:
        """The notes of requests that did not go after all (mark_calling.lua with no provider)."""
        self.store.mark_calling(ids, self.lease_token, "")


def tokens_for(
    sender: Sender, provider: str, priority: str, mark: Mark | None, *, late: bool = False
) -> Take:
    """Tokens for the requests asking now, in one limiter round trip (on the loop's gathering thread);
    ``late``: for requests that missed their slot (counted).

    While the last grant was whole and due at once (the rate is not what holds requests back), the
    records are marked in the same round trip as the take, on trust; what the limiter then did not
    grant at once has its mark taken back. Otherwise the due ones are marked after it (mark_due)."""
    assert sender.limiter is not None
    limiter = sender.limiter
    together = isinstance(mark, CallMarks) and mark.store.redis is limiter.redis
    trusted = [False]  # from the second take on, once one was whole and due

    def take(ids: list[str | None]) -> list[Token | NoToken | Answer]:
        if late:
            sender.telemetry.pacing_late(provider, len(ids))
        named = [mid for mid in ids if mid is not None]
        ours: list[bool] | None = None
        if trusted[0] and isinstance(mark, CallMarks) and len(named) == len(ids):
            with limiter.redis.pipeline(transaction=False) as pipe:
                limiter.take_in(pipe, provider, priority, len(ids))
                mark.store.mark_calling_in(pipe, named, mark.lease_token, mark.provider)
                took, noted = pipe.execute()
            grant, ours = grant_of(took), marked_of(noted, named)
        else:
            grant = limiter.take(provider, priority, len(ids))
        # The slots on this process's monotonic clock (the loop's), counted from when the limiter
        # granted them, not from when this thread got to read the grant (SlotClock says why).
        base = limiter.slot_clock.base(grant)
        tokens: list[Token | NoToken | Answer] = [Token(base + grant.slot(k)) for k in range(grant.granted)]
        if grant.granted < len(ids):
            sender.telemetry.limiter_wait(provider, grant.wait)
            tokens += [NoToken(grant.wait)] * (len(ids) - grant.granted)
        soon = time.monotonic() + MARK_LEAD
        trusted[0] = together and all(isinstance(t, Token) and t.slot <= soon for t in tokens)
        if ours is None:
            return mark_due(mark, ids, tokens)
        assert isinstance(mark, CallMarks)
        return settle_trusted(mark, named, ours, tokens, soon)

    return take


def settle_trusted(
    mark: CallMarks, ids: list[str], ours: list[bool], tokens: list[Token | NoToken | Answer], soon: float
) -> list[Token | NoToken | Answer]:
    """The tokens of a take whose records were all marked with it: a request not granted, or granted
    a slot after ``soon``, must not stay marked (a lease lost while it waits would make recovery
    count it as maybe sent), so those marks are taken back and the loop marks the later ones
    ``MARK_LEAD`` ahead of their slot; a record found not ours is not sent."""
    settled: list[Token | NoToken | Answer] = []
    back: list[str] = []
    for mid, mine, token in zip(ids, ours, tokens, strict=True):
        due = isinstance(token, Token) and token.slot <= soon
        if mine and not due:
            back.append(mid)
        if isinstance(token, Token) and not mine:
            settled.append(NOT_OURS)
        elif isinstance(token, Token) and due:
            settled.append(Token(token.slot, marked=True))
        else:
            settled.append(token)
    if back:
        mark.take_back(back)
    return settled


def mark_due(
    mark: Mark | None, ids: Sequence[str | None], tokens: list[Token | NoToken | Answer]
) -> list[Token | NoToken | Answer]:
    """The records of tokens due within ``MARK_LEAD`` marked now, in the same call (one more round
    trip from the same thread): their requests then go straight to the wire. Marking on the loop
    after the token cost a hop to the gathering thread and back, and when the rate was not what held
    requests back (every slot now) a fifth of them came late for their slot by it and took a new
    token (bench/throughput.py's scenario 2). Tokens further ahead are marked by the loop
    ``MARK_LEAD`` before their slot."""
    if mark is None:
        return tokens
    soon = time.monotonic() + MARK_LEAD
    due = [
        k
        for k, token in enumerate(tokens)
        if isinstance(token, Token) and token.slot <= soon and ids[k] is not None
    ]
    if not due:
        return tokens
    try:
        flags = mark([str(ids[k]) for k in due])
    except Exception:  # Redis unreachable: the loop's own mark tries again and answers for it
        return tokens
    for k, ours in zip(due, flags, strict=True):
        token = tokens[k]
        assert isinstance(token, Token)
        tokens[k] = Token(token.slot, marked=True) if ours else NOT_OURS
    return tokens


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
