"""The campaign calls producers offer: create (from a list, a CSV file or Messente phonebook groups),
progress, pause, resume, cancel."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smsq.config import contract as names
from smsq.config.cost_settings import CostSettings
from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.config.settings import RecoverySettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.charging import charge_campaign, parts_counter
from smsq.producers.campaigns.control import CampaignControl
from smsq.producers.campaigns.expansion import (
    Expander,
    Expansion,
    Row,
    csv_rows,
    list_rows,
    new_campaign_id,
)
from smsq.producers.campaigns.model import (
    CampaignProgress,
    CampaignTemplate,
    parse_template,
)
from smsq.producers.core.records import KEY_ID, MESSAGE_CLASS, TEST
from smsq.producers.core.store import MessageStore, to_ms
from smsq.producers.cost.estimate import DryRun, estimate
from smsq.producers.cost.parts import PartsCounter
from smsq.producers.cost.prices import NO_PRICES, PriceTable
from smsq.producers.cost.tally import Tally
from smsq.producers.csv_input import scan_file
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.idempotency import checked_idempotency_key
from smsq.producers.publisher import Publisher
from smsq.producers.windows.check import MARKETING, checked_class

# Contact fields of a Messente phonebook contact, usable as %var% in a campaign from groups.
CONTACT_FIELDS = (
    "phoneNumber",
    "email",
    "firstName",
    "lastName",
    "company",
    "title",
    "custom",
    "custom2",
    "custom3",
    "custom4",
)


@dataclass(frozen=True)
class Owner:
    """Who creates a campaign: the API key (None: the Python producer API) and whether it is a test key."""

    key_id: str | None = None
    test: bool = False


class Campaigns(CampaignControl):
    """Creating campaigns here; reading and controlling them: ``CampaignControl``."""

    def __init__(
        self,
        store: MessageStore,
        publisher: Publisher,
        blacklist: Blacklist,
        *,
        batch_size: int = 500,
        max_queued_batches: int = 10_000,
        workers: int | None = None,
        recovery: RecoverySettings | None = None,
        limits: LimitSettings = DEFAULT_LIMITS,
        cost: CostSettings | None = None,
        prices: PriceTable = NO_PRICES,
        sms_provider: str | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self.cost = cost or CostSettings()
        self.prices = prices
        self.sms_provider = sms_provider  # whose prices estimate an SMS: the route's first enabled
        self.publisher = publisher
        self.expander = Expander(
            store,
            publisher,
            blacklist,
            batch_size=batch_size,
            max_queued_batches=max_queued_batches,
            recovery=recovery,
        )
        self.workers = workers
        super().__init__(store)

    # -- creating -------------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        template: CampaignTemplate | dict[str, Any],
        recipients: Sequence[Any] | None = None,
        csv_path: str | Path | None = None,
        number_column: str = "phone",
        group_ids: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        key_id: str | None = None,
        test: bool = False,
        message_class: str | None = None,
    ) -> CampaignProgress:
        """Validate, store and queue a campaign. Bad input raises InvalidInput naming the field and
        creates nothing. With ``idempotency_key``, a repeat returns the first campaign. The whole
        campaign is charged to the spend caps (global, and ``key_id``'s) once expanded: CapExceeded
        if it would pass one, and nothing is left stored. ``message_class``: ``marketing`` (the
        default: each message goes only inside its recipient's send window, checked when it is sent)
        or ``transactional``. ``key_id`` and ``test`` are the HTTP API's: the key that created it
        (noted on the campaign before any message is stored, so its callbacks go to that key), and
        whether it is a test key's (every message is marked ``test``: the simulated provider alone
        sends it)."""
        kind = checked_class(message_class, MARKETING)
        parsed = template if isinstance(template, CampaignTemplate) else parse_template(template, self.limits)
        _check_name(name)
        variables = parsed.variables()
        idempotency_key = checked_idempotency_key(idempotency_key, self.limits)
        if idempotency_key is not None:
            existing = self.store.redis.get(self._idem_key(idempotency_key))
            if existing:
                return self.progress(str(existing))
        owner = Owner(key_id, test)
        if group_ids is not None and recipients is None and csv_path is None:
            return self._create_from_groups(
                name, parsed, list(group_ids), variables, idempotency_key, kind, owner
            )
        with self._rows(recipients, csv_path, number_column, group_ids, variables) as (rows, expected):
            return self._expand(
                name, parsed, rows, idempotency_key, expected=expected, owner=owner, message_class=kind
            )

    def dry_run(
        self,
        *,
        name: str,
        template: CampaignTemplate | dict[str, Any],
        recipients: Sequence[Any] | None = None,
        csv_path: str | Path | None = None,
        number_column: str = "phone",
        group_ids: Sequence[str] | None = None,
    ) -> DryRun:
        """What ``create`` with the same arguments would do, storing nothing: recipients, skipped,
        blocked, SMS parts by encoding, the estimated cost by country and in total. Bad input raises
        the same InvalidInput as ``create``."""
        parsed = template if isinstance(template, CampaignTemplate) else parse_template(template, self.limits)
        _check_name(name)
        variables = parsed.variables()
        if group_ids is not None and recipients is None and csv_path is None:
            raise InvalidInput(
                [("group_ids", "a dry run needs recipients or a CSV (group contacts are at Messente)")]
            )
        counter = PartsCounter.of(parsed, variables, self.cost.auto_replace)
        tally = Tally(self.prices, self.sms_provider, by_country=True)
        with self._rows(recipients, csv_path, number_column, group_ids, variables) as (rows, expected):
            expansion = estimate(
                self.expander, rows, variables, counter, tally, expected=expected, workers=self.workers
            )
        return DryRun.of(name, expansion, tally)

    @contextmanager
    def _rows(
        self,
        recipients: Sequence[Any] | None,
        csv_path: str | Path | None,
        number_column: str,
        group_ids: Sequence[str] | None,
        variables: list[str],
    ) -> Iterator[tuple[Iterator[Row], int]]:
        """The recipients as rows, checked first (the CSV's encoding, lines and header; the list's
        variables), and how many are expected."""
        sources = [s for s in (recipients, csv_path, group_ids) if s is not None]
        if len(sources) != 1:
            raise InvalidInput([("recipients", "give exactly one of recipients, csv_path or group_ids")])
        if csv_path is not None:
            path = Path(csv_path)
            if not path.is_file():
                raise InvalidInput([("csv", f"no such file: {path}")])
            # The whole file is checked first (UTF-8, no NUL, line lengths), before anything is stored.
            lines = scan_file(path, self.limits)
            stream = path.open(newline="", encoding="utf-8-sig")
            try:
                yield csv_rows(stream, number_column, variables, self.limits), lines  # checks the header now
            finally:
                stream.close()
            return
        assert recipients is not None
        if not recipients:
            raise InvalidInput([("recipients", "the list is empty")])
        for variable in variables:
            if not any(isinstance(r, dict) and r.get(variable) not in (None, "") for r in recipients):
                raise InvalidInput([("template", f"uses %{variable}% but no recipient has a value for it")])
        yield list_rows(recipients, variables), len(recipients)

    def _begin(
        self,
        name: str,
        template: CampaignTemplate,
        idempotency_key: str | None,
        message_class: str = MARKETING,
        owner: Owner = Owner(),
    ) -> tuple[str, bool]:
        campaign_id = new_campaign_id()
        if idempotency_key is not None and not self.store.redis.set(
            self._idem_key(idempotency_key), campaign_id, nx=True
        ):
            return str(self.store.redis.get(self._idem_key(idempotency_key))), False
        fields: dict[Any, str | int] = {
            "id": campaign_id,
            "name": name,
            "status": "creating",
            "priority": template.priority,
            MESSAGE_CLASS: message_class,
            "template": json.dumps(template.body()),
            "created_ms": self.store.now_ms(),
        }
        if template.time_to_send is not None:
            fields["time_to_send_ms"] = to_ms(template.time_to_send.timestamp())
        if idempotency_key is not None:
            fields["idempotency_key"] = idempotency_key
        if owner.key_id:
            fields[KEY_ID] = owner.key_id
        if owner.test:
            fields[TEST] = "1"
        with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._keys(campaign_id).campaign, mapping=fields)
            # Listed until its keys get their expiry (smsq.producers.campaigns.janitor).
            pipe.zadd(self.store.keys.campaigns, {campaign_id: fields["created_ms"]})
            pipe.execute()
        return campaign_id, True

    def _expand(
        self,
        name: str,
        template: CampaignTemplate,
        rows: Any,
        idempotency_key: str | None,
        *,
        expected: int,
        owner: Owner = Owner(),
        message_class: str = MARKETING,
    ) -> CampaignProgress:
        campaign_id, fresh = self._begin(name, template, idempotency_key, message_class, owner)
        if not fresh:
            return self.progress(campaign_id)
        scheduled = (
            template.time_to_send is not None
            and to_ms(template.time_to_send.timestamp()) > self.store.now_ms()
        )
        expansion = Expansion()  # filled as records are stored: the undo needs every position
        tally = Tally(self.prices, self.sms_provider)
        try:
            self.expander.store_messages(
                campaign_id,
                template,
                rows,
                expected=expected,
                workers=self.workers,
                initial_status="scheduled" if scheduled else "queued",
                into=expansion,
                counter=parts_counter(self.cost, template),
                tally=tally,
                test=owner.test,
            )
            # Checked whole, before any batch is queued: a refusal undoes everything stored.
            charge_campaign(self.store, self.cost, tally, owner.key_id)
            self._finish(campaign_id, template, expansion, tally, scheduled=scheduled)
        except BaseException:
            self._undo(campaign_id, expansion, idempotency_key)
            raise
        return self.progress(campaign_id)

    def expand_into(self, campaign_id: str, recipients: Sequence[dict[str, Any]]) -> CampaignProgress:
        """Expand a campaign created empty (from phonebook groups, whose contacts a worker fetched)."""
        record: dict[str, str] = self.store.redis.hgetall(self._keys(campaign_id).campaign)  # type: ignore[assignment]
        if record.get("status") != "creating":
            return self.progress(campaign_id)  # a redelivered task: already expanded
        due_ms = int(record["time_to_send_ms"]) if record.get("time_to_send_ms") else None
        template = CampaignTemplate.model_validate(
            {
                **json.loads(record["template"]),
                "priority": record.get("priority", "low"),
                **({"time_to_send": due_ms / 1000} if due_ms else {}),
            }
        )
        scheduled = due_ms is not None and due_ms > self.store.now_ms()
        expansion = Expansion()  # filled as records are stored: the undo needs every position
        tally = Tally(self.prices, self.sms_provider)
        try:
            self.expander.store_messages(
                campaign_id,
                template,
                list_rows(recipients, template.variables()),
                expected=len(recipients),
                workers=self.workers,
                initial_status="scheduled" if scheduled else "queued",
                into=expansion,
                counter=parts_counter(self.cost, template),
                tally=tally,
                test=record.get(TEST) == "1",
            )
            # Charged whole, as a campaign from a list or a CSV is (its key's caps too).
            charge_campaign(self.store, self.cost, tally, record.get(KEY_ID) or None)
            self._finish(campaign_id, template, expansion, tally, scheduled=scheduled)
        except BaseException:
            self._undo(campaign_id, expansion, record.get("idempotency_key"))
            raise
        return self.progress(campaign_id)

    def _finish(
        self,
        campaign_id: str,
        template: CampaignTemplate,
        expansion: Expansion,
        tally: Tally,
        *,
        scheduled: bool,
    ) -> None:
        keys = self._keys(campaign_id)
        with self.store.redis.pipeline(transaction=False) as pipe:
            pipe.hset(
                keys.campaign,
                mapping={
                    "recipients": expansion.recipients,
                    "messages": expansion.messages,
                    "last_position": expansion.last_position,
                    "skipped": json.dumps(dict(expansion.skipped)),
                    # SMS parts of the messages to send, by encoding (issue 16)
                    "sms_segments": json.dumps(tally.segments),
                    "sms_messages": json.dumps(tally.messages),
                    "status": "scheduled" if scheduled else "running",
                },
            )
            if expansion.samples:
                pipe.rpush(keys.skipped, *[json.dumps(sample) for sample in expansion.samples])
            if scheduled and template.time_to_send is not None:
                pipe.zadd(self._schedule, {campaign_id: to_ms(template.time_to_send.timestamp())})
            pipe.execute()
        if not scheduled:
            self._queue_all(campaign_id, template.priority, expansion.last_position)

    def _undo(self, campaign_id: str, expansion: Expansion, idempotency_key: str | None) -> None:
        keys = self._keys(campaign_id)
        self.expander.remove(campaign_id, expansion.stored_positions)
        self.store.redis.delete(keys.campaign, keys.counts, keys.skipped)
        self.store.redis.zrem(self.store.keys.campaigns, campaign_id)
        if idempotency_key is not None:
            self.store.redis.delete(self._idem_key(idempotency_key))

    def _create_from_groups(
        self,
        name: str,
        template: CampaignTemplate,
        group_ids: list[str],
        variables: list[str],
        key: str | None,
        message_class: str,
        owner: Owner,
    ) -> CampaignProgress:
        if not group_ids or not all(isinstance(g, str) and g for g in group_ids):
            raise InvalidInput([("group_ids", "give one or more Messente phonebook group ids")])
        unknown = [v for v in variables if v not in CONTACT_FIELDS]
        if unknown:
            raise InvalidInput(
                [("template", f"uses %{unknown[0]}%, not a contact field ({', '.join(CONTACT_FIELDS)})")]
            )
        campaign_id, fresh = self._begin(name, template, key, message_class, owner)
        if fresh:
            # The contacts live at Messente: a worker fetches them and expands there.
            self.publisher.publish(
                names.CAMPAIGN_FROM_GROUPS_TASK,
                names.CampaignFromGroupsPayload(campaign_id=campaign_id, group_ids=group_ids),
                names.SYNC,
            )
        return self.progress(campaign_id)

    def _idem_key(self, key: str) -> str:
        return self.store.keys.campaign_idempotency(key)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput([("name", "give a campaign name of 1-200 characters")])
