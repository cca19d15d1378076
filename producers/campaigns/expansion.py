"""Expanding a campaign: recipients in, message records stored and batches queued.

Numbers are normalised with phonenumbers (the expensive step) in a process pool when the input is
big, so expansion uses every core; deduplication, the blacklist check and storage run in this
process in input order, so the first line listing a number is the one that is sent, and the result
does not depend on timing. Records are written with pipelines; batches are ranges of positions.
Nothing is half-created: if anything fails, everything stored so far is removed.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from json.encoder import encode_basestring as encode_string  # the C encoder json.dumps uses
from typing import Any, TextIO

from smsq.config import contract as names
from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.config.settings import RecoverySettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.batches import Batch, Batches, ranges
from smsq.producers.campaigns.model import CampaignTemplate, message_id
from smsq.producers.core.keys import HOUR_MS, CampaignKeys
from smsq.producers.core.records import CREATED_MS, LAST_ERROR_CODE, LAST_ERROR_DETAIL, STATUS, error_fields
from smsq.producers.core.store import MessageStore
from smsq.producers.cost.parts import NO_SMS, Parts, PartsCounter
from smsq.producers.cost.tally import Tally
from smsq.producers.csv_input import BOM, checked_rows
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.numbers import to_e164
from smsq.producers.publisher import Publisher, queue_depth

CHUNK = 20_000  # rows handed to the pool at once
PARALLEL_FROM = 50_000  # fewer rows than this are parsed in-process: a pool costs more than it saves
SKIP_SAMPLES = 1000  # skipped lines kept with their reason, for the report
BLOCKED_FIELDS = error_fields("blacklisted", "the recipient is on the blacklist")
STORE_SLICE = 2000  # records per Lua call
# A registered batch this process does not publish at once is left to the release loop after this.
OUTBOX_GRACE_MS = 10_000

# (position, raw number, values of the template's variables in order) ->
# (position, e164 | None, reason | None, message id, variables as JSON, SMS parts)
Row = tuple[int, str, tuple[str, ...]]
Parsed = tuple[int, str | None, str | None, str, str, Parts]


def parse_rows(
    rows: Sequence[Row], campaign_id: str, variables: Sequence[str], counter: PartsCounter | None = None
) -> list[Parsed]:
    """Normalise each number, derive its message id and variables JSON, count its SMS parts (with a
    ``counter``), or say why the row cannot be used. Runs in pool processes: this is the per-row
    work that costs."""
    out: list[Parsed] = []
    # Same JSON as json.dumps(dict(...)), without building a dict per row: each key written once.
    keys = [encode_string(name) + ": " for name in variables]
    first = "{" + keys[0] if keys else ""
    for position, number, values in rows:
        if None in values:
            out.append((position, None, "malformed", "", "", NO_SMS))
        elif "" in values:
            out.append((position, None, "missing_variable", "", "", NO_SMS))
        else:
            try:
                e164 = to_e164(number)
            except ValueError:
                out.append((position, None, "invalid_number", "", "", NO_SMS))
                continue
            if len(keys) == 1:  # the usual template: one variable (a name)
                vars_json = first + encode_string(values[0]) + "}"
            elif keys:
                vars_json = (
                    "{" + ", ".join([k + encode_string(v) for k, v in zip(keys, values, strict=True)]) + "}"
                )
            else:
                vars_json = ""
            parts = NO_SMS if counter is None else counter.parts(values)
            out.append((position, e164, None, message_id(campaign_id, position), vars_json, parts))
    return out


@dataclass
class Expansion:
    """What expanding one campaign did."""

    recipients: int = 0
    messages: int = 0
    blocked: int = 0
    last_position: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    stored_positions: list[int] = field(default_factory=list)

    def skip(self, position: int, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.samples) < SKIP_SAMPLES:
            self.samples.append({"line": position, "reason": reason})

    def admit(self, seen: set[str], position: int, number: str | None, reason: str | None) -> str | None:
        """Count one parsed recipient: its number when valid and not seen before (now seen), else
        None, skipped with its reason (creation and the dry run count alike)."""
        self.recipients += 1
        self.last_position = max(self.last_position, position)
        if reason is not None or number is None:
            self.skip(position, reason or "invalid_number")
        elif number in seen:
            self.skip(position, "duplicate")
        else:
            seen.add(number)
            return number
        return None


def csv_rows(
    stream: TextIO, number_column: str, variables: Sequence[str], limits: LimitSettings = DEFAULT_LIMITS
) -> Iterator[Row]:
    """Rows of a CSV with a header; position = line number in the file. A line with the wrong number
    of fields gives None values (reported as malformed). The header is checked at once, before any
    row is read, so a campaign that cannot work is refused before anything is stored. Text csv
    cannot read, or a field over SMSQ_LIMITS__CSV_FIELD_CHARS, raises InvalidInput naming the line."""
    reader = csv.reader(stream)  # the file was checked by csv_input.scan_file (encoding, line lengths)
    checked = checked_rows(reader, limits)
    try:
        header = next(checked)
    except StopIteration:
        raise InvalidInput([("csv", "the file is empty")]) from None
    header = [name.strip().removeprefix(BOM) for name in header]
    if number_column not in header:
        raise InvalidInput(
            [("csv", f"no column {number_column!r} for the number (columns: {_shown_columns(header)})")]
        )
    unknown = [name for name in variables if name not in header]
    if unknown:
        names_ = ", ".join(f"%{name}%" for name in unknown)
        raise InvalidInput([("template", f"uses {names_} but the CSV has no such column")])
    number_at = header.index(number_column)
    value_at = [header.index(name) for name in variables]
    width = len(header)

    def rows() -> Iterator[Row]:
        for fields in checked:
            line = reader.line_num
            if not fields:
                continue
            if len(fields) != width:
                yield line, "", tuple(None for _ in value_at)  # type: ignore[misc]
                continue
            yield line, fields[number_at].strip(), tuple([fields[i].strip() for i in value_at])

    return rows()


def _shown_columns(header: Sequence[str], most: int = 20) -> str:
    """The header's names for an error: quoted when odd (a quoted name may hold a newline), cut."""
    shown = [name if name.isprintable() and len(name) <= 40 else repr(name[:40]) for name in header[:most]]
    return ", ".join(shown) + (f", ... ({len(header)} columns)" if len(header) > most else "")


def list_rows(recipients: Sequence[Any], variables: Sequence[str]) -> Iterator[Row]:
    """Rows from the producer API: each recipient a number, or a mapping with "to" and variables."""
    for position, recipient in enumerate(recipients, start=1):
        if isinstance(recipient, str):
            yield position, recipient, tuple("" for _ in variables)
        elif isinstance(recipient, dict) and isinstance(recipient.get("to"), str):
            yield position, recipient["to"], tuple(str(recipient.get(name) or "") for name in variables)
        else:
            yield position, "", tuple(None for _ in variables)  # type: ignore[misc]


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parsed_chunks(
    rows: Iterable[Row],
    campaign_id: str,
    variables: Sequence[str],
    *,
    expected: int | None,
    workers: int | None,
    counter: PartsCounter | None = None,
) -> Iterator[list[Parsed]]:
    """Parse in order; in a process pool when the input is big enough to pay for one."""
    chunks = _chunks(rows, CHUNK)
    if (expected is not None and expected < PARALLEL_FROM) or (workers or os.cpu_count() or 1) < 2:
        for chunk in chunks:
            yield parse_rows(chunk, campaign_id, variables, counter)
        return
    # forkserver: a child never inherits a lock some thread of ours (a sandbox, a Celery pool) held.
    context = multiprocessing.get_context("forkserver")
    size = workers or os.cpu_count() or 2
    with ProcessPoolExecutor(max_workers=size, mp_context=context) as pool:
        # Executor.map would submit every chunk at once (reading and pickling the whole file before
        # the first result); a window of a few chunks per process keeps reading, parsing and storing
        # overlapped, in order, in bounded memory.
        window: deque[Future[list[Parsed]]] = deque()
        for chunk in chunks:
            window.append(pool.submit(parse_rows, chunk, campaign_id, variables, counter))
            if len(window) >= 2 * size:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


class Expander:
    """Stores one campaign's messages and queues its batches."""

    def __init__(
        self,
        store: MessageStore,
        publisher: Publisher,
        blacklist: Blacklist,
        *,
        batch_size: int = 500,
        max_queued_batches: int = 10_000,
        recovery: RecoverySettings | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.blacklist = blacklist
        self.batch_size = batch_size
        self.max_queued_batches = max_queued_batches
        self.recovery = recovery or RecoverySettings()
        self.batches = Batches(store)

    def store_messages(
        self,
        campaign_id: str,
        template: CampaignTemplate,
        rows: Iterable[Row],
        *,
        expected: int | None = None,
        workers: int | None = None,
        initial_status: str = "queued",
        into: Expansion | None = None,
        counter: PartsCounter | None = None,
        tally: Tally | None = None,
        test: bool = False,
    ) -> Expansion:
        """Store the records; ``into`` (when given) is filled as this goes, so a caller whose call
        raised part-way still knows every position that may have been stored, and can remove them.
        With a ``counter``, each message's SMS parts are counted, and added up in ``tally``
        (blocked ones left out: they are never sent). ``test``: a test key's campaign, each record
        marked ``test`` so that the simulated provider alone sends it."""
        variables = template.variables()
        keys = CampaignKeys(self.store.keys, campaign_id)
        result = Expansion() if into is None else into
        seen: set[str] = set()
        now_ms = self.store.now_ms()
        channels = ",".join(part.channel for part in template.messages)
        # Counted in their creation hour like every other record, so summaries by time add up.
        hour_counts = self.store.keys.stats_hour(now_ms // HOUR_MS)
        writes: deque[Future[None]] = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="smsq-expand-write") as writer:
            chunks = parsed_chunks(
                rows, campaign_id, variables, expected=expected, workers=workers, counter=counter
            )
            for chunk in chunks:
                fresh: list[tuple[int, str, str, str]] = []
                counted: list[tuple[str, Parts]] = []
                for position, number, reason, mid, vars_json, parts in chunk:
                    if (admitted := result.admit(seen, position, number, reason)) is not None:
                        fresh.append((position, admitted, mid, vars_json))
                        if counter is not None:  # without one every row's parts are NO_SMS: nothing to add
                            counted.append((admitted, parts))
                blocked = self.blacklist.blocked_among([number for _, number, _, _ in fresh])
                if tally is not None and counted:
                    tally.add_all(counted, blocked)
                lines = [
                    f"{mid}\t{position}\t{number}\t{'b' if number in blocked else 'q'}\t{vars_json}"
                    for position, number, mid, vars_json in fresh
                ]
                result.stored_positions.extend(position for position, _, _, _ in fresh)
                # records.lua's store_campaign: the records go through its create path with their
                # counts added once per call; blocked ones are final and expire after the retention.
                common: list[str | int] = [
                    "store_campaign",
                    self.store.keys.record_prefix,
                    campaign_id,
                    template.priority,
                    channels,
                    now_ms,
                    initial_status,
                    BLOCKED_FIELDS[LAST_ERROR_CODE],
                    BLOCKED_FIELDS[LAST_ERROR_DETAIL],
                ]
                # Written by a thread while this one parses the next chunk (the wait is Redis's time).
                if len(writes) >= 3:
                    writes.popleft().result()
                # The expansion's heartbeat, before the write: the janitor undoes an expansion whose
                # process died part-way, up to the last position it may have written.
                progress: dict[Any, str | int] = {
                    "expanding_ms": self.store.now_ms(),
                    "expanded_through": result.last_position,
                }
                self.store.redis.hset(keys.campaign, mapping=progress)
                writes.append(writer.submit(self._write, [keys.counts, hour_counts], common, lines, test))
                result.messages += len(fresh)
                result.blocked += len(blocked)
            while writes:
                writes.popleft().result()  # an error in a write is raised here, before anything is queued
            return result

    def _write(self, keys: list[str], common: list[str | int], lines: list[str], test: bool) -> None:
        with self.store.redis.pipeline(transaction=False) as pipe:
            # STORE_SLICE records a call: each is short, so other clients (an OTP) are not held up.
            for start in range(0, len(lines), STORE_SLICE):
                batch = "\n".join(lines[start : start + STORE_SLICE])
                args = [*common, batch, self.store.stats_ttl_seconds, self.store.retention_seconds]
                args.append("1" if test else "")
                self.store.records_script(keys=keys, args=args, client=pipe)
            pipe.execute()

    def queue_batches(self, campaign_id: str, lane: str, first: int, last: int) -> int:
        """Register batches covering positions first..last (``smsq.producers.campaigns.batches``) and
        publish as many as the lane has room for (back-pressure: ``max_queued_batches``); the release
        loop publishes the rest as the lane drains, and any this process did not live to publish.
        Returns how many were published here."""
        batches = ranges(campaign_id, first, last, self.batch_size)
        self.batches.register(batches, due_ms=self.store.now_ms() + OUTBOX_GRACE_MS)
        room = max(0, self.max_queued_batches - queue_depth(self.publisher, lane))
        now = batches[:room]
        if now:
            self.publisher.publish_many([(names.SEND_BATCH_TASK, batch_payload(b), lane) for b in now])
            published_ms = self.store.now_ms()
            deadline = published_ms + int(self.recovery.limit_for(lane) * 1000)
            self.batches.mark_published(now, published_ms, deadline)
        return len(now)

    def remove(self, campaign_id: str, positions: Sequence[int]) -> None:
        """Undo a failed expansion: delete every record it stored."""
        for start in range(0, len(positions), 10_000):
            ids = [
                self.store.keys.record(message_id(campaign_id, p)) for p in positions[start : start + 10_000]
            ]
            if ids:
                # Out of the hourly status counts too (records.lua counts each stored record).
                with self.store.redis.pipeline(transaction=False) as pipe:
                    for key in ids:
                        pipe.hmget(key, STATUS, CREATED_MS)
                    found = pipe.execute()
                self.store.uncount(
                    {STATUS: status, CREATED_MS: created} for status, created in found if status
                )
                self.store.redis.delete(*ids)


def batch_payload(batch: Batch) -> names.SendBatchPayload:
    return names.SendBatchPayload(campaign_id=batch.campaign_id, first=batch.first, last=batch.last)


def new_campaign_id() -> str:
    return uuid.uuid4().hex
