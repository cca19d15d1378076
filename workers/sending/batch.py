"""Sending a chunk of messages at once: claimed with one pipeline, checked against the blacklist with
one call, sent in one go per channel chain (a provider bulk call, or parallel single calls), and the
outcomes recorded with one pipeline. Campaign batches and the release loop's groups of due messages
both go through here; one message costs a few round trips' share instead of a task and six trips.

``start_chunk`` returns once the chunk's requests are on their way and gives back the step that
waits for the answers and records them: with async singles a campaign claims and starts its next
chunk before finishing this one, so connections are not left idle between chunks."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from smsq.producers.core.records import (
    ATTEMPTS,
    LAST_FAILED_PROVIDER,
    LEASE_TOKEN,
    PRIORITY,
    RESEND_VIA,
    error_fields,
)
from smsq.producers.errors import UnsendableRecord
from smsq.producers.messages.models import Omnimessage
from smsq.workers.campaigns.messages import message_from_record
from smsq.workers.providers.base import BulkProvider, LoopSingles, Provider, SendResult
from smsq.workers.providers.errors import ProviderError, TransientError
from smsq.workers.sending.event_loop import CallMarks, LoopClients, client_for, start_singles
from smsq.workers.sending.loop_http import AsyncHttp
from smsq.workers.sending.recording import write_outcomes
from smsq.workers.sending.routing import capable_providers, is_test, no_provider_detail, pick
from smsq.workers.sending.single import (
    CLAIM_FIELDS,
    Decision,
    Outcome,
    Sender,
    after_transient,
    apply_side_effects,
    circuit_wait,
    decide,
    not_ours,
    outbound_for,
    take_token,
)
from smsq.workers.sending.windows import SendWindows, hold_outside_windows

log = logging.getLogger(__name__)


_pools: dict[int, ThreadPoolExecutor] = {}


def send_pool(size: int) -> ThreadPoolExecutor:
    """Threads for parallel single sends, one pool per worker process (made after the fork)."""
    pid = os.getpid()
    if pid not in _pools:
        _pools[pid] = ThreadPoolExecutor(size, thread_name_prefix="smsq-send")
    return _pools[pid]


@dataclass(frozen=True)
class BatchOptions:
    chunk: int = 100
    use_bulk: bool = True
    bulk_size: int = 100
    concurrency: int = 32
    # Singles through one event loop per provider and process (SMSQ_CAMPAIGNS__ASYNC_SEND), else threads.
    async_http: AsyncHttp | LoopClients | None = None
    # Marketing messages wait for their recipient's send window (smsq.workers.sending.windows).
    windows: SendWindows | None = None


@dataclass
class BatchOutcome:
    statuses: dict[str, int] = field(default_factory=dict)
    held_from: int | None = None  # paused: positions from here on wait for resume
    stopped: str | None = None  # why the batch stopped early (paused, cancelled, gone)

    def count(self, status: str, n: int = 1) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + n


def _claim(ids: Sequence[str], sender: Sender, token: str) -> list[tuple[str, dict[str, str]]]:
    store = sender.store
    lease_until = store.now_ms() + int(sender.lease_seconds * 1000)
    claim: dict[str, Any] = {
        "allowed_from": {"queued"},
        "fields": CLAIM_FIELDS | {LEASE_TOKEN: token},
        "lease_until_ms": lease_until,
        "return_record": True,
        "unschedule": True,  # a due message's watch (campaign messages have none: their batch has)
    }
    answers = store.transition_many([(i, "sending", claim) for i in ids])
    # A campaign that was scheduled: its messages wait in `scheduled`; release them, then claim.
    waiting = [i for i, a in zip(ids, answers, strict=True) if a.previous == "scheduled"]
    if waiting:
        store.transition_many([(i, "queued", {"allowed_from": {"scheduled"}}) for i in waiting])
        again = dict(
            zip(waiting, store.transition_many([(i, "sending", claim) for i in waiting]), strict=True)
        )
        answers = [again.get(i, a) for i, a in zip(ids, answers, strict=True)]
    return [(i, a.record) for i, a in zip(ids, answers, strict=True) if a.ok and a.record is not None]


def send_chunk(
    ids: Sequence[str],
    sender: Sender,
    options: BatchOptions,
    pool: ThreadPoolExecutor | None,
    outcome: BatchOutcome,
) -> None:
    start_chunk(ids, sender, options, pool, outcome)()


def start_chunk(
    ids: Sequence[str],
    sender: Sender,
    options: BatchOptions,
    pool: ThreadPoolExecutor | None,
    outcome: BatchOutcome,
) -> Callable[[], None]:
    """Claim, check and send ``ids``; returns the step that waits for the answers and records every
    outcome (call it exactly once)."""
    token = uuid.uuid4().hex
    claimed = _claim(ids, sender, token)
    finishes: list[tuple[str, str, dict[str, Any]]] = []

    def finish(mid: str, to: str, opts: dict[str, Any]) -> None:
        finishes.append((mid, to, {**opts, LEASE_TOKEN: token}))
        outcome.count(to)

    ready: list[tuple[str, dict[str, str], Omnimessage]] = []
    for mid, record in claimed:
        try:
            ready.append((mid, record, message_from_record(record, sender.templates)))
        except UnsendableRecord as exc:
            finish(mid, "failed", {"fields": error_fields(exc.code, exc.detail)})
    blocked = sender.blocked_among([message.to for _, _, message in ready])
    for mid, _, message in ready:
        if message.to in blocked:
            finish(
                mid, "blocked", {"fields": error_fields("blacklisted", "the recipient is on the blacklist")}
            )
            sender.telemetry.message("blocked", None, message.messages[0].channel)
    ready = [item for item in ready if item[2].to not in blocked]
    ready = hold_outside_windows(ready, sender, options.windows, outcome.count)

    # One delivery per channel chain and priority: a chunk from the schedule may mix them.
    # A retry also avoids the provider that failed it last (failover before the circuit opens).
    groups: dict[
        tuple[tuple[str, ...], str, str, str, bool], list[tuple[str, dict[str, str], Omnimessage]]
    ] = {}
    for item in ready:
        key = (
            tuple(item[2].channels),
            item[1].get(PRIORITY, "low"),
            item[1].get(LAST_FAILED_PROVIDER, ""),
            item[1].get(RESEND_VIA, ""),
            is_test(item[1]),  # a test message goes to the simulated provider alone
        )
        groups.setdefault(key, []).append(item)

    def calling(ids: list[str], provider: str) -> list[bool]:
        return sender.store.mark_calling(ids, token, provider)

    deliveries = [
        (group, _deliver(group, sender, options, pool, calling, token)) for group in groups.values()
    ]

    def complete() -> None:
        for group, decisions in deliveries:
            for (mid, _, _), decision in zip(group, decisions(), strict=True):
                if decision.outcome.status == "skipped":  # its lease was lost: the record is not ours
                    outcome.count("skipped")
                    continue
                finish(mid, decision.to, decision.options)
        if finishes:  # the answers are in: kept through a Redis outage, up to the lease
            write_outcomes(sender.store, finishes, within=sender.lease_seconds)

    return complete


def _deliver(
    ready: list[tuple[str, dict[str, str], Omnimessage]],
    sender: Sender,
    options: BatchOptions,
    pool: ThreadPoolExecutor | None,
    calling: Callable[[list[str], str], list[bool]],
    lease_token: str,
) -> Callable[[], list[Decision]]:
    """The step giving one decision per message, in order: async singles are still in flight when
    this returns; every other way has its answers already. ``calling`` marks records held with
    ``lease_token`` (for ``provider``) as called."""
    provider = _provider_for(ready, sender)
    if isinstance(provider, list):  # no provider to use: already decided
        return _ready(provider)
    name = provider.name
    priority = ready[0][1].get(PRIORITY, "low")
    # A lone message goes as a plain send; two or more in one bulk call where the provider has one.
    bulk = provider if options.use_bulk and len(ready) > 1 and isinstance(provider, BulkProvider) else None
    client = client_for(options.async_http, provider) if bulk is None else None
    if client is not None and isinstance(provider, LoopSingles):
        # The loop marks each record when its request is about to leave (a connection and its slot):
        # one still waiting for either when the worker dies goes back to `queued`, not `unknown`.
        marks = CallMarks(sender.store, lease_token, name)
        return start_singles(ready, provider, sender, priority, client, marks).finish
    # From here on requests may leave: a lease lost after this point means "maybe sent". One whose
    # lease was already lost is not sent (another worker may have it).
    ours = calling([mid for mid, _, _ in ready], name)
    going = [item for item, mine in zip(ready, ours, strict=True) if mine]
    sent = iter(_send_now(going, provider, bulk, sender, options, pool, priority) if going else [])
    return _ready([next(sent) if mine else not_ours() for mine in ours])


def _ready(decisions: list[Decision]) -> Callable[[], list[Decision]]:
    return lambda: decisions


def _provider_for(
    ready: list[tuple[str, dict[str, str], Omnimessage]], sender: Sender
) -> Provider | list[Decision]:
    """The provider for a group, or every message's decision when there is none to use."""
    first_message = ready[0][2]  # one template: every message of the chunk has the same channels
    test = is_test(ready[0][1])  # one group: all test messages or none
    capable = capable_providers(first_message, sender.providers, sender.routing, test=test)
    if not capable:
        detail = no_provider_detail(first_message, test=test)
        return [
            Decision("failed", {"fields": error_fields("no-provider", detail)}, Outcome("failed", detail))
        ] * len(ready)
    failing = sender.health.open_circuits([p.name for p in capable]) if sender.health else set()
    provider = pick(
        capable,
        failing=failing,
        avoid=ready[0][1].get(LAST_FAILED_PROVIDER) or None,
        pinned=ready[0][1].get(RESEND_VIA) or None,
    )
    if provider is None:  # every circuit open: the group waits, no attempt spent
        return [circuit_wait(sender, [p.name for p in capable]) for _ in ready]
    return provider


def _send_now(
    ready: list[tuple[str, dict[str, str], Omnimessage]],
    provider: Provider,
    bulk: BulkProvider | None,
    sender: Sender,
    options: BatchOptions,
    pool: ThreadPoolExecutor | None,
    priority: str,
) -> list[Decision]:
    """``bulk``: the same provider, to be called with send_many (None: one send per message)."""
    size = options.bulk_size if bulk is not None else 1
    groups = [ready[i : i + size] for i in range(0, len(ready), size)]
    if bulk is None and pool is not None and len(groups) > 1:
        # Parallel singles: each thread takes its own token right before its call. Taking a chunk's
        # tokens one after another first (one Redis round trip each) left every thread idle until the
        # last one was granted: bench/throughput.py measured that as most of a chunk's overhead.
        return list(pool.map(lambda group: _single_with_token(group[0], provider, sender, priority), groups))
    granted: list[list[tuple[str, dict[str, str], Omnimessage]]] = []
    later: list[Decision] = []
    for index, group in enumerate(groups):
        wait = take_token(sender, provider.name, priority)
        if wait > 0:
            # Our own global limit: what has no token goes back to wait; no attempt is spent.
            due = sender.store.now_ms() + int(wait * 1000)
            waiting = sum(len(g) for g in groups[index:])
            later = [
                Decision("queued", {"schedule_at_ms": due}, Outcome("queued", "rate limit", wait))
            ] * waiting
            break
        granted.append(group)
    if bulk is not None:
        sent = [decision for group in granted for decision in _bulk(group, bulk, sender)]
    else:
        sent = [_single(group[0], provider, sender) for group in granted]
    return sent + later


def _bulk(
    group: list[tuple[str, dict[str, str], Omnimessage]], provider: BulkProvider, sender: Sender
) -> list[Decision]:
    outbound = [outbound_for(sender, provider.name, mid, message) for mid, _, message in group]
    started = time.perf_counter()
    try:
        answers = provider.send_many(outbound)
        healthy = True
    except ProviderError as exc:
        answers = [exc] * len(group)
        healthy = not isinstance(exc, TransientError)
    sender.telemetry.send_seconds(provider.name, time.perf_counter() - started)
    decisions = [
        decide(mid, record, message, provider.name, int(record.get(ATTEMPTS, 0)) + 1, answer, sender)
        for (mid, record, message), answer in zip(group, answers, strict=True)
    ]
    # Health is about the call, not each entry: one outcome per request.
    apply_side_effects(sender, provider.name, Decision("", {}, Outcome(""), healthy, decisions[0].pause_for))
    return decisions


def _single_with_token(
    item: tuple[str, dict[str, str], Omnimessage], provider: Provider, sender: Sender, priority: str
) -> Decision:
    wait = take_token(sender, provider.name, priority)
    if wait > 0:  # no token within the inline wait: back to wait; no attempt is spent
        due = sender.store.now_ms() + int(wait * 1000)
        return Decision("queued", {"schedule_at_ms": due}, Outcome("queued", "rate limit", wait))
    return _single(item, provider, sender)


def _single(item: tuple[str, dict[str, str], Omnimessage], provider: Provider, sender: Sender) -> Decision:
    mid, record, message = item
    started = time.perf_counter()
    try:
        answer: SendResult | ProviderError = provider.send(outbound_for(sender, provider.name, mid, message))
    except ProviderError as exc:
        answer = exc
    sender.telemetry.send_seconds(provider.name, time.perf_counter() - started)
    decision = decide(mid, record, message, provider.name, int(record.get(ATTEMPTS, 0)) + 1, answer, sender)
    apply_side_effects(sender, provider.name, decision)
    return decision


def _transient(
    mid: str, record: dict[str, str], exc: TransientError, provider: str, sender: Sender
) -> Decision:
    to, opts, outcome = after_transient(mid, exc, int(record.get(ATTEMPTS, 0)) + 1, provider, sender)
    return Decision(to, opts, outcome, healthy=None)
