"""``Smsq.send_many``: many messages accepted as ``Smsq.send`` accepts one, at batch speed.

Most of a batch's messages share everything but the number (one text to many recipients), and
pydantic's validation of each omnimessage was half the cost of a batch. So each distinct body shape
(the message without its ``to``, and its class) is validated once, as a whole omnimessage with a
stand-in number; each message then only has its number normalised (``to_e164``, the fast path
campaign expansion uses) and its body written as the shape's JSON around that number. Whatever the
shortcut cannot vouch for (a shape that does not validate, a number that does not normalise, a body
over the size limit, a message that is not a plain mapping) goes through the single path's
``prepare`` itself, so every refusal is the very error ``send`` gives, naming its fields.

What depends on the number stays per message and is the single path's code: the send window
(deferral of a marketing message), the charges (caps, the pumping guard), the idempotency key. The
records, their outbox entries and their charges are stored by one script call per chunk
(``smsq.producers.core.batch_store``), and the messages due now published in groups."""

from __future__ import annotations

import marshal
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from smsq.config import contract as names
from smsq.producers.accept import (
    PUBLISH_GRACE_MS,
    Prepared,
    Receipt,
    checked_class,
    prepare,
    shared_fields,
    sms_segments,
    when_due,
    window_opening,
)
from smsq.producers.core.batch_store import NewMessage, Stored, create_batch, flat
from smsq.producers.core.records import (
    BODY,
    ID,
    IDEMPOTENCY_KEY,
    QUEUED_MS,
    SCHEDULED_FOR_MS,
    STATUS,
    TO,
    WINDOW_DEFERRED,
)
from smsq.producers.cost.caps import Charge, cap_charges
from smsq.producers.cost.prices import MICROS, country_of
from smsq.producers.cost.pumping import pumping_charges
from smsq.producers.errors import InvalidInput, PolicyRefused
from smsq.producers.messages.idempotency import checked_idempotency_key
from smsq.producers.messages.models import Omnimessage, parse_omnimessage
from smsq.producers.messages.numbers import to_e164
from smsq.producers.messages.record import record_fields
from smsq.producers.messages.segments import Segments
from smsq.producers.outbox import publish_many

if TYPE_CHECKING:
    from smsq.producers.client import Smsq

# The number a shape is validated with: any valid E.164 number (its own fields never depend on it).
STAND_IN: Final = "+37251234567"
_HEAD: Final = '{"to":"'  # the body JSON starts with the number: ``to`` is the model's first field
# Fields every record has but a shape does not share: the number, the body, and what the send
# window may change per message (its status and due time).
_OWN: Final = frozenset({ID, TO, BODY, STATUS, QUEUED_MS, SCHEDULED_FOR_MS})

# marshal's format 2 has no back-references, so equal values always give equal bytes (and, unlike
# ==, it tells True, 1 and 1.0 apart: pydantic does not take them alike).
_KEY_FORMAT: Final = 2

Answer = Receipt | InvalidInput | PolicyRefused


def new_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the OS's randomness: the same
    ids ``str(uuid.uuid4())`` makes, at a fraction of its cost per id."""
    digits = os.urandom(16 * count).hex()
    return [
        f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-4{digits[i + 13 : i + 16]}-"
        f"{'89ab'[int(digits[i + 16], 16) & 3]}{digits[i + 17 : i + 20]}-{digits[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


@dataclass(frozen=True)
class Shape:
    """A body validated once: what every message of this shape shares."""

    index: int  # its place in the shapes list sent to the store (0: the empty shape)
    tail: str  # the body JSON after the number
    sms: Segments | None
    priority: str
    lane: str
    kind: str  # transactional | marketing
    due_ms: int | None  # its time_to_send
    scheduled: bool
    fields: dict[str, str | int]


@dataclass(slots=True)
class Ready:
    """An accepted message about to be stored."""

    record: NewMessage
    lane: str
    outbox_ms: int
    scheduled: bool
    sms: Segments | None
    deferred_to: int | None


class Batch:
    """One send_many call: its shapes, built as they are met, and its messages."""

    def __init__(self, smsq: Smsq, key_id: str | None, test: bool, count: int) -> None:
        self.smsq = smsq
        self.key_id = key_id
        self.test = test
        self.now_ms = smsq.store.now_ms()
        self.shapes: list[dict[str, str | int]] = [{}]  # 0: the empty shape (a message built in full)
        self._by_key: dict[tuple[bytes, str | None], Shape | None] = {}
        self._caps: dict[tuple[int, int], list[Charge]] = {}  # (SMS parts, cost) -> the caps it charges
        self._ids = new_ids(count)

    def accept(self, message: Any, idempotency_key: str | None, message_class: str | None) -> Ready:
        """The message ready to store; InvalidInput or PolicyRefused (nothing stored) as ``send``."""
        fast = self._fast(message, idempotency_key, message_class)
        if fast is not None:
            return fast
        prepared = prepare(self.smsq, message, idempotency_key, self.key_id, self.test, None, message_class)
        return _from_prepared(prepared)

    def _fast(self, message: Any, idempotency_key: str | None, message_class: str | None) -> Ready | None:
        """The shortcut, or None where only the single path can answer."""
        if not isinstance(message, Mapping) or "to" not in message:
            return None
        shape = self._shape(message, message_class)
        if shape is None:
            return None
        try:
            to = to_e164(message["to"])
        except ValueError:
            return None  # the single path names the field, with the message's other problems
        body = f"{_HEAD}{to}{shape.tail}"
        if len(body) > self.smsq.limits.message_bytes:
            return None
        idempotency_key = checked_idempotency_key(idempotency_key, self.smsq.limits)
        due_ms, scheduled = shape.due_ms, shape.scheduled
        deferred_to = window_opening(self.smsq, to, shape.kind, self.now_ms if due_ms is None else due_ms)
        if deferred_to is not None:
            due_ms, scheduled = deferred_to, True
        found = self._charges(to, shape, self.now_ms / 1000)
        message_id = self._ids.pop()
        own = [ID, message_id, TO, to, BODY, body]
        if scheduled:
            status = "scheduled"
        else:
            status = "queued"
            own += (QUEUED_MS, str(self.now_ms))
        if deferred_to is not None:
            own += (SCHEDULED_FOR_MS, str(deferred_to), WINDOW_DEFERRED, "1")
        elif shape.due_ms is not None:
            own += (SCHEDULED_FOR_MS, str(shape.due_ms))
        if idempotency_key:
            own += (IDEMPOTENCY_KEY, idempotency_key)
        outbox_ms = due_ms if scheduled and due_ms is not None else self.now_ms + PUBLISH_GRACE_MS
        record = NewMessage(message_id, status, shape.index, own, idempotency_key, outbox_ms, found)
        return Ready(record, shape.lane, outbox_ms, scheduled, shape.sms, deferred_to)

    def _charges(self, to: str, shape: Shape, now_s: float) -> list[Charge]:
        """``accept.charges`` for one message of ``shape``: the caps (the same counters for every
        message of one SMS size and price) computed once per batch; the pumping guard per number."""
        smsq, sms = self.smsq, shape.sms
        cost = smsq.cost
        if sms is None or not cost.enabled:
            return []
        price = smsq.prices.price(smsq.sms_provider, country_of(to)) if smsq.prices.priced else None
        cost_micros = round(price * sms.segments * MICROS) if price else 0
        caps = self._caps.get((sms.segments, cost_micros))
        if caps is None:
            caps = cap_charges(
                cost, smsq.store.keys, key_id=self.key_id, segments=sms.segments, cost_micros=cost_micros,
                now_s=now_s,
            )  # fmt: skip
            self._caps[(sms.segments, cost_micros)] = caps
        keys = smsq.store.keys
        return [*pumping_charges(cost.pumping, keys, to=to, priority=shape.priority, now_s=now_s), *caps]

    def _shape(self, message: Mapping[str, Any], message_class: str | None) -> Shape | None:
        """The message's shape, validated the first time it is met; None: it does not validate (or
        cannot be told apart), so its messages take the single path."""
        rest = dict(message)
        del rest["to"]
        try:
            key = marshal.dumps(rest, _KEY_FORMAT)
        except ValueError:  # a datetime or an object: a caller's Python value
            return None
        found = self._by_key.get((key, message_class), False)
        if found is not False:
            return found  # type: ignore[return-value]
        shape = self._validated(message, message_class)
        self._by_key[(key, message_class)] = shape
        return shape

    def _validated(self, message: Mapping[str, Any], message_class: str | None) -> Shape | None:
        smsq = self.smsq
        try:
            template = parse_omnimessage({**message, "to": STAND_IN}, smsq.limits, smsq.cost.auto_replace)
            sms = sms_segments(smsq, template, smsq.limits)
            due_ms, scheduled = when_due(smsq, template, self.now_ms)
            kind = checked_class(message_class, template.priority)
        except InvalidInput:
            return None
        dumped = template.model_dump_json(exclude_none=True)
        start = f'{_HEAD}{STAND_IN}"'
        if not dumped.startswith(start):
            return None
        fields = {
            name: value
            for name, value in record_fields("", template, self.now_ms, "queued").items()
            if name not in _OWN
        }
        fields.update(shared_fields(kind, self.key_id, self.test, sms))
        self.shapes.append(fields)
        lane = names.LANE_FOR_PRIORITY[template.priority]
        tail = dumped[len(start) - 1 :]
        return Shape(
            len(self.shapes) - 1, tail, sms, template.priority, lane, kind, due_ms, scheduled, fields
        )


def send_many(
    smsq: Smsq,
    messages: Sequence[Omnimessage | Mapping[str, Any]],
    *,
    idempotency_keys: Sequence[str | None] | None = None,
    key_id: str | None = None,
    test: bool = False,
    message_classes: Sequence[str | None] | None = None,
) -> list[Answer]:
    """See ``Smsq.send_many``."""
    keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(messages)
    classes = list(message_classes) if message_classes is not None else [None] * len(messages)
    batch = Batch(smsq, key_id, test, len(messages))
    answers: list[Answer | None] = [None] * len(messages)
    ready: list[tuple[int, Ready]] = []
    for index, (message, idempotency_key, kind) in enumerate(zip(messages, keys, classes, strict=True)):
        try:
            ready.append((index, batch.accept(message, idempotency_key, kind)))
        except (InvalidInput, PolicyRefused) as refused:
            answers[index] = refused
    stored = create_batch(
        smsq.store, batch.now_ms, batch.shapes, [item.record for _, item in ready], smsq.cost.warn_at
    )
    due: list[tuple[str, str, int]] = []
    for (index, item), outcome in zip(ready, stored, strict=True):
        answers[index] = _answer(item, outcome)
        if isinstance(outcome, Stored) and outcome.created and not item.scheduled:
            due.append((outcome.message_id, item.lane, item.outbox_ms))
    publish_many(smsq, due)
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


def _answer(item: Ready, outcome: Stored | PolicyRefused) -> Answer:
    if isinstance(outcome, PolicyRefused):
        return outcome
    if not outcome.created:
        return Receipt(outcome.message_id, outcome.status, duplicate=True)
    deferred = None if item.deferred_to is None else datetime.fromtimestamp(item.deferred_to / 1000, UTC)
    return Receipt(outcome.message_id, outcome.status, duplicate=False, sms=item.sms, deferred_to=deferred)


def _from_prepared(prepared: Prepared) -> Ready:
    """A message the single path prepared, stored in full (the empty shape)."""
    fields = flat({name: value for name, value in prepared.fields.items() if name != STATUS})
    status = str(prepared.fields[STATUS])
    record = NewMessage(
        prepared.message_id, status, 0, fields, prepared.idempotency_key, prepared.outbox_ms, prepared.charges
    )
    return Ready(
        record, prepared.lane, prepared.outbox_ms, prepared.scheduled, prepared.sms, prepared.deferred_to
    )
