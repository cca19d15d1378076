"""Every Redis key smsq uses, in one place, under one prefix (``SMSQ_KEY_PREFIX``, "smsq" by default) so
installations can share a Redis.

    <p>:msg:<id>                   hash    a message record (fields: ``smsq.producers.core.records``)
    <p>:idem:<key>                 string  idempotency key -> message id
    <p>:schedule                   zset    message id -> when it is due to be published (ms)
    <p>:leases                     zset    message id -> when its send lease runs out (ms)
    <p>:polls                      zset    message id -> when its next status poll is due (ms)
    <p>:stats:<hour>               hash    status -> messages created in that hour (hours since epoch)
    <p>:dead                       list    dead letters (task payloads that could not be decoded)
    <p>:batches                    zset    campaign batch "<campaign>:<first>:<last>" -> when due or lost (ms)
    <p>:batches:published          hash    campaign batch -> when its task was last published (ms)
    <p>:campaigns                  zset    campaign id -> created ms, until its keys get their expiry
    <p>:campaign:<id>              hash    a campaign
    <p>:campaign:<id>:counts       hash    status -> messages of the campaign
    <p>:campaign:<id>:skipped      list    sample of skipped input lines
    <p>:campaign:<id>:held         list    batches held back while the campaign is paused
    <p>:campaign:<id>:held_ids     list    message ids back from the schedule while it is paused
    <p>:campaign-schedule          zset    campaign id -> when it starts (ms)
    <p>:campaign-idem:<key>        string  idempotency key -> campaign id
    <p>:blacklist:<part>           the local blacklist and its sync (``BlacklistKeys``)
    <p>:rate:<provider>            string  the provider's rate limiter (GCRA: its next free slot)
    <p>:rate-cut:<provider>        hash    the rate a 429 cut it to, and when (until it is back)
    <p>:circuit:<provider>         string  present while the provider's circuit is open
    <p>:health:<provider>:<n>      hash    the provider's outcomes in time bucket n
    <p>:2fa:<session>              string  a two-factor session's Direct Messenger pin_id
    <p>:lane:<lane>:published      hash    RabbitMQ only: tasks smsq published into the lane (total, floor)
    <p>:lane:<lane>:marks          zset    RabbitMQ only: "<total>:<ms>" per publish, the last LANE_MARKS kept
    <p>:beat:lease                 string  the beat that runs the release loop now, until its lease runs out
    <p>:apikey:<key_id>            hash    an API key (fields: ``smsq.producers.keys.store``; no secret)
    <p>:apikey-hashes              hash    sha256 of an API key's secret -> its key id
    <p>:apikeys                    zset    API key id -> created ms
    <p>:rate:apikey:<key_id>       string  an API key's own rate limiter (GCRA arrival time)
    <p>:api-idem:<key_id>:<digest> hash    an HTTP Idempotency-Key's request digest and first answer
    <p>:callbacks:<part>           callbacks to the app: events, their due times, log (``CallbackKeys``)
    <p>:metrics:<metric>           hash    a counter or histogram of ``smsq.telemetry`` (series -> value)

The record scripts (``lua/records.lua``) are given ``record_prefix``, ``campaign_prefix`` and
``stats_prefix`` and append the id, ``CAMPAIGN_COUNTS_SUFFIX`` or the hour themselves, so a chunk of
records costs no key per record on the wire; ``campaign_counts`` and ``stats_hour`` name the same keys
for Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

CAMPAIGN_COUNTS_SUFFIX: Final = ":counts"  # also appended by lua/records.lua
HOUR_MS: Final = 3_600_000


@dataclass(frozen=True)
class Keys:
    prefix: str

    # -- message records -------------------------------------------------------------------------

    def record(self, message_id: str) -> str:
        return f"{self.prefix}:msg:{message_id}"

    @property
    def record_prefix(self) -> str:
        return f"{self.prefix}:msg:"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}:idem:{key}"

    @property
    def schedule(self) -> str:
        return f"{self.prefix}:schedule"

    @property
    def leases(self) -> str:
        return f"{self.prefix}:leases"

    @property
    def polls(self) -> str:
        """The status-poll schedule: message id -> when its next delivery-status check is due (ms)."""
        return f"{self.prefix}:polls"

    @property
    def stats_prefix(self) -> str:
        """Hourly counts per status: ``stats_prefix + str(created_ms // HOUR_MS)``."""
        return f"{self.prefix}:stats:"

    def stats_hour(self, hour: int) -> str:
        """The counts of messages created in ``hour`` (hours since the epoch: created_ms // HOUR_MS)."""
        return f"{self.stats_prefix}{hour}"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def batches(self) -> str:
        """Campaign batches not yet done: "<campaign>:<first>:<last>" -> when to publish it, or (once
        published or running) when it counts as lost (ms). ``smsq.producers.campaigns.batches``."""
        return f"{self.prefix}:batches"

    @property
    def batches_published(self) -> str:
        """Batch -> when its task was last published (ms); absent: not published yet."""
        return f"{self.prefix}:batches:published"

    @property
    def campaigns(self) -> str:
        """Campaigns whose keys have no expiry yet: campaign id -> created ms (the janitor's list)."""
        return f"{self.prefix}:campaigns"

    # -- campaigns -------------------------------------------------------------------------------

    @property
    def campaign_prefix(self) -> str:
        return f"{self.prefix}:campaign:"

    def campaign(self, campaign_id: str) -> str:
        return f"{self.campaign_prefix}{campaign_id}"

    def campaign_counts(self, campaign_id: str) -> str:
        """Status -> count of the campaign's messages, kept by the record scripts."""
        return f"{self.campaign(campaign_id)}{CAMPAIGN_COUNTS_SUFFIX}"

    @property
    def campaign_schedule(self) -> str:
        return f"{self.prefix}:campaign-schedule"

    def campaign_idempotency(self, key: str) -> str:
        return f"{self.prefix}:campaign-idem:{key}"

    # -- blacklist -------------------------------------------------------------------------------

    def blacklist(self, part: str) -> str:
        """The local blacklist and its sync state; ``BlacklistKeys`` names the parts."""
        return f"{self.prefix}:blacklist:{part}"

    # -- workers: limits and two-factor sessions -------------------------------------------------

    def rate(self, provider: str) -> str:
        return f"{self.prefix}:rate:{provider}"

    def rate_cut(self, provider: str) -> str:
        return f"{self.prefix}:rate-cut:{provider}"

    def circuit(self, provider: str) -> str:
        return f"{self.prefix}:circuit:{provider}"

    def health_bucket_prefix(self, provider: str) -> str:
        """Outcome buckets: this prefix + the bucket's index (the health script appends it)."""
        return f"{self.prefix}:health:{provider}:"

    def two_factor_session(self, session_id: str) -> str:
        return f"{self.prefix}:2fa:{session_id}"

    # -- scale-out: RabbitMQ lanes, the beat lease -----------------------------------------------

    def lane_published(self, lane: str) -> str:
        """RabbitMQ only: how many tasks smsq published into ``lane`` (smsq.producers.amqp_lanes)."""
        return f"{self.prefix}:lane:{lane}:published"

    def lane_marks(self, lane: str) -> str:
        return f"{self.prefix}:lane:{lane}:marks"

    @property
    def beat_lease(self) -> str:
        """Held by the beat whose release loop runs (smsq.workers.lease)."""
        return f"{self.prefix}:beat:lease"

    # -- the HTTP API: keys, their limits, idempotency -----------------------------------------------

    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}:apikey:{key_id}"

    @property
    def api_key_hashes(self) -> str:
        """sha256 hex of a secret -> key id: how a request's bearer token finds its key."""
        return f"{self.prefix}:apikey-hashes"

    @property
    def api_keys(self) -> str:
        return f"{self.prefix}:apikeys"

    def api_key_rate(self, key_id: str) -> str:
        """An API key's own GCRA limiter, beside the providers' (``rate``)."""
        return self.rate(f"apikey:{key_id}")

    def api_idempotency(self, key_id: str, digest: str) -> str:
        """One Idempotency-Key of one API key (``digest``: sha256 of the header's value)."""
        return f"{self.prefix}:api-idem:{key_id}:{digest}"

    # -- telemetry --------------------------------------------------------------------------------

    def metrics(self, metric: str) -> str:
        """One metric's series (``smsq.telemetry.recorder``): durable, bounded by its labels."""
        return f"{self.prefix}:metrics:{metric}"


@dataclass(frozen=True)
class CampaignKeys:
    """One campaign's keys."""

    keys: Keys
    campaign_id: str

    @property
    def campaign(self) -> str:
        return self.keys.campaign(self.campaign_id)

    @property
    def counts(self) -> str:  # maintained by the record scripts
        return self.keys.campaign_counts(self.campaign_id)

    @property
    def skipped(self) -> str:
        return f"{self.campaign}:skipped"

    @property
    def held(self) -> str:
        return f"{self.campaign}:held"

    @property
    def held_ids(self) -> str:  # window-deferred messages that came due while the campaign was paused
        return f"{self.campaign}:held_ids"


@dataclass(frozen=True)
class CallbackKeys:
    """Callbacks to the app (``smsq.producers.callbacks``): one hash per event, written by
    ``lua/records.lua`` in the step that changes the message's status, which is handed ``base`` and
    ``api_key_prefix`` and appends ``EVENT``, ``DUE`` and ``LOG`` itself.

        <p>:callbacks:event:<event id>  hash    one status change to tell the app (``events.py`` fields)
        <p>:callbacks:due               zset    event id -> when it is due, or its claim runs out (ms)
        <p>:callbacks:log               zset    event id -> when it happened (ms), for list and replay
        <p>:callbacks:dead              zset    dead-lettered event id -> when (ms)
        <p>:callbacks:busy:<url id>     zset    event id -> claim deadline: requests in flight to a URL
        <p>:callbacks:gone:<url id>     string  the URL answered 410: not called until it expires
    """

    keys: Keys

    EVENT: ClassVar[str] = "event:"  # also spelled in lua/records.lua
    DUE: ClassVar[str] = "due"
    LOG: ClassVar[str] = "log"

    @property
    def base(self) -> str:
        return f"{self.keys.prefix}:callbacks:"

    @property
    def api_key_prefix(self) -> str:
        """API keys (``smsq.producers.keys``): ``<p>:apikey:<key id>``, with its ``callback_url``."""
        return f"{self.keys.prefix}:apikey:"

    def event(self, event_id: str) -> str:
        return f"{self.base}{self.EVENT}{event_id}"

    @property
    def event_prefix(self) -> str:
        return f"{self.base}{self.EVENT}"

    @property
    def due(self) -> str:
        return f"{self.base}{self.DUE}"

    @property
    def log(self) -> str:
        return f"{self.base}{self.LOG}"

    @property
    def dead(self) -> str:
        return f"{self.base}dead"

    @property
    def busy_prefix(self) -> str:
        return f"{self.base}busy:"

    def busy(self, url_id: str) -> str:
        return f"{self.busy_prefix}{url_id}"

    def gone(self, url_id: str) -> str:
        return f"{self.base}gone:{url_id}"


@dataclass(frozen=True)
class BlacklistKeys:
    """The blacklist's Redis keys (``smsq.producers.blacklist.store`` describes them), and those of its
    sync (read by producers for reports)."""

    keys: Keys

    @property
    def entries(self) -> str:
        return self.keys.blacklist("entries")

    @property
    def active(self) -> str:
        return self.keys.blacklist("active")

    @property
    def tombstones(self) -> str:
        return self.keys.blacklist("tombstones")

    @property
    def tombstone_info(self) -> str:
        return self.keys.blacklist("tombstone_info")

    @property
    def sync_lock(self) -> str:
        return self.keys.blacklist("sync:lock")

    @property
    def sync_runs(self) -> str:
        """Task ids of finished syncs, newest first."""
        return self.keys.blacklist("sync:runs")

    @property
    def sync_state(self) -> str:
        """Per provider: when it was last read, consecutive failures, when its retry is due."""
        return self.keys.blacklist("sync:state")

    def synced(self, provider: str) -> str:
        """The numbers a provider listed after the previous sync: the record the next sync diffs against."""
        return self.keys.blacklist(f"sync:synced:{provider}")

    def synced_scratch(self, provider: str, token: str) -> str:
        """Where the next ``synced`` set is built before it is renamed over the old one."""
        return f"{self.synced(provider)}:new:{token}"

    @property
    def four(self) -> list[str]:
        return [self.entries, self.active, self.tombstones, self.tombstone_info]
