"""The one root settings object. Read once at start-up (``load_settings``), then passed in."""

from __future__ import annotations

import json
import os
from typing import Literal, get_origin

from dotenv import dotenv_values
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from smsq.config.api_settings import ApiSettings
from smsq.config.callback_settings import CallbackSettings
from smsq.config.cost_settings import CostSettings
from smsq.config.limits import LimitSettings
from smsq.config.pacing import PacingSettings
from smsq.config.scale_settings import (
    SENTINEL_SCHEME,
    AmqpSettings,
    BeatSettings,
    SentinelSettings,
    is_amqp_url,
    is_redis_url,
)
from smsq.config.status_settings import PollingSettings, WebhookSettings
from smsq.config.telemetry_settings import LogSettings, MetricsSettings, TracingSettings

ProviderName = Literal["messente", "smsapi", "direct_messenger", "simulated"]
PROVIDER_NAMES: tuple[ProviderName, ...] = ("messente", "smsapi", "direct_messenger", "simulated")
# Those with a status call an operator may poll (SMSQ_POLLING__PROVIDERS). Direct Messenger has none:
# it only pushes reports. The simulated provider is polled always. The registry's test holds this to
# the providers' declared capabilities (workers/providers/registry.py).
POLLABLE: tuple[ProviderName, ...] = ("messente", "smsapi")


class Timeouts(BaseModel):
    connect: float = Field(3.0, gt=0)
    read: float = Field(10.0, gt=0)
    write: float = Field(10.0, gt=0)
    pool: float = Field(5.0, gt=0)


class MessenteSettings(BaseModel):
    enabled: bool = True
    base_url: str = "https://api.messente.com/v1"
    username: SecretStr = SecretStr("")
    password: SecretStr = SecretStr("")
    timeouts: Timeouts = Timeouts()
    # Messente answers 429 above ~150 requests/s per client IP. Requests are paced one interval
    # apart at this rate less settings.pacing.margin (147/s), so the burst is only how far ahead
    # slots may be reserved, never a rush on the wire: 10 (68 ms) keeps slots used while a process
    # is busy between grants (bench/far_end: 76 % of the allowed rate with 2, 88 % with 10).
    rate_per_second: float = Field(150.0, gt=0)
    burst: int = Field(10, ge=1)


class SmsapiSettings(BaseModel):
    enabled: bool = False
    base_url: str = "https://api.smsapi.com"  # or https://api.smsapi.pl for Polish accounts
    token: SecretStr = SecretStr("")
    timeouts: Timeouts = Timeouts()
    rate_per_second: float = Field(100.0, gt=0)
    burst: int = Field(10, ge=1)
    sender: str | None = None  # used when a message names no sender
    fast_for_high: bool = False  # fast=1 (SMSAPI's priority lane, costs more) for priority=high


class DirectMessengerSettings(BaseModel):
    enabled: bool = False
    # The base URL is per account; there is no public default.
    base_url: str = ""
    two_factor_base_url: str = ""
    api_token: SecretStr = SecretStr("")
    timeouts: Timeouts = Timeouts()
    rate_per_second: float = Field(50.0, gt=0)
    burst: int = Field(5, ge=1)
    sender: str | None = None
    conversion: Literal[0, 1, 2] | None = None
    delivery_timezone: str = "UTC"  # DM does not document the zone of deliverytime


class SimulatedSettings(BaseModel):
    """The simulated provider (workers/providers/simulated/): sends nothing; the outcome of a message
    comes from the last digits of its number. Test API keys send through it alone."""

    enabled: bool = True  # harmless: only test messages, or a routing list naming it, reach it
    rate_per_second: float = Field(1000.0, gt=0)
    burst: int = Field(100, ge=1)
    # How long after the send a "delivered late" number (ending 0004) reports delivered.
    late_seconds: float = Field(60.0, ge=0)


class RetrySettings(BaseModel):
    max_attempts: int = Field(5, ge=1, le=100)
    base_delay: float = Field(2.0, gt=0, description="seconds before the first retry")
    max_delay: float = Field(300.0, gt=0, description="cap on one backoff delay, seconds")
    jitter: float = Field(0.5, ge=0, le=1, description="fraction of the delay that is randomised")


LeaseExpiry = Literal["resend", "unknown"]
DEFAULT_LEASE_EXPIRY: dict[str, LeaseExpiry] = {"high": "resend", "regular": "unknown", "low": "unknown"}


class LaneSettings(BaseModel):
    # How long a worker may hold a message in `sending` before its outcome is considered lost: more
    # than one request's timeouts (3 + 10 + 10 + 5 s) plus a chunk's rate-limit waits, and short enough
    # that a killed worker's OTP is resent within a minute.
    lease_seconds: float = Field(60.0, gt=0)
    # What to do with a message whose lease expired (worker killed mid-call): an OTP is worth a
    # possible duplicate; a marketing message is not.
    on_lease_expiry: dict[str, LeaseExpiry] = DEFAULT_LEASE_EXPIRY
    # Share of each provider's burst that only the high lane may use, so bulk never starves OTP.
    high_reserve: float = Field(0.3, ge=0, lt=1)
    # A rate-limit wait up to this long is slept in the task; a longer one requeues the message.
    max_inline_wait: float = Field(0.5, ge=0)

    @field_validator("on_lease_expiry", mode="before")
    @classmethod
    def _every_lane(cls, value: object) -> object:
        # SMSQ_LANES__ON_LEASE_EXPIRY__REGULAR=resend sets one lane: the others keep their defaults
        # (the high lane would otherwise lose its resend).
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(DEFAULT_LEASE_EXPIRY))
        if unknown:
            raise ValueError(f"the lanes are high, regular and low (not {', '.join(map(str, unknown))})")
        return {**DEFAULT_LEASE_EXPIRY, **value}


class HealthSettings(BaseModel):
    """Circuit breaker per provider: errors over a sliding window (see workers/health.py)."""

    window_seconds: int = Field(60, ge=1)
    bucket_seconds: int = Field(10, ge=1)
    threshold: float = Field(0.5, gt=0, le=1)
    min_requests: int = Field(5, ge=1)
    cooldown_seconds: float = Field(30.0, gt=0)


class ScheduleSettings(BaseModel):
    release_interval: float = Field(0.2, gt=0, le=5, description="seconds between release passes")
    release_batch: int = Field(1000, ge=1)
    # Refuse time_to_send further ahead than this.
    horizon_days: float = Field(90.0, gt=0)
    # A message claimed for release is re-released after this long if its publisher died.
    claim_lease_seconds: float = Field(30.0, gt=0)
    # False: hold scheduled messages in smsq until due (blacklist and cancel apply at send time).
    # True: send at once with the time attached; the provider schedules (Messente time_to_send,
    # SMSAPI date, Direct Messenger deliverytime) and cancel asks the provider.
    at_provider: bool = False


class BlacklistSettings(BaseModel):
    """The local blacklist and its sync with the providers (see workers/blacklist_sync.py)."""

    periodic_sync: bool = True  # beat runs blacklist-sync every sync_interval seconds
    sync_interval: float = Field(900.0, ge=5)
    # A local removal leaves a tombstone this long, so the sync can remove the number at every
    # provider; it must outlast any provider outage, or that provider brings the number back.
    tombstone_days: float = Field(30.0, gt=0)
    # Mass-delete guard: a provider whose list lost more than this fraction of the numbers it had at the
    # previous sync (and more than mass_delete_min numbers) is left untouched until a forced sync.
    mass_delete_fraction: float = Field(0.2, gt=0, le=1)
    mass_delete_min: int = Field(10, ge=0)
    lock_seconds: float = Field(600.0, ge=5)  # the sync lock expires unless the running sync renews it
    concurrency: int = Field(8, ge=1, le=64)  # parallel calls per provider while applying changes
    call_attempts: int = Field(3, ge=1, le=10)  # tries per provider call on transient errors, within a run
    outage_after: int = Field(20, ge=1)  # consecutive failed calls that end a provider's part of a run
    # A provider whose part failed is retried by a later run after base * 2^(n-1) seconds, capped.
    retry_base_delay: float = Field(60.0, gt=0)
    retry_max_delay: float = Field(3600.0, gt=0)
    retry_check_interval: float = Field(30.0, ge=1)  # how often beat looks for due retries
    smsapi_page_size: int = Field(100, ge=1, le=10_000)


class CampaignSettings(BaseModel):
    batch_size: int = Field(500, ge=1, le=10_000, description="messages per queued batch task")
    chunk: int = Field(100, ge=1, description="messages claimed at once; pause is checked between chunks")
    use_bulk: bool = True  # Messente: one POST /omnimessages per bulk_size messages
    bulk_size: int = Field(100, ge=1, le=1000)
    concurrency: int = Field(32, ge=1, le=1000, description="parallel requests per worker process")
    # Singles (use_bulk=false) to Messente through one asyncio loop per worker process (aiohttp), or,
    # when false, through `concurrency` threads on httpx's sync pool: 1,716/s vs 636/s at 100 ms and
    # 200 connections (README "Campaign throughput").
    async_send: bool = True
    max_queued_batches: int = Field(10_000, ge=1, description="back-pressure on the bulk lane")
    expansion_workers: int | None = Field(None, ge=1, description="processes that parse numbers")


class RecoverySettings(BaseModel):
    """Recovery of work a lost worker held (workers/sending/recovery.py). A message or campaign batch
    that is `queued`, was taken off its lane's queue and is still unclaimed after its lane's limit is
    published again; the compare-and-set claim makes a second copy harmless."""

    high_seconds: float = Field(5.0, gt=0, description="limit for the high lane (OTP)")
    regular_seconds: float = Field(60.0, gt=0, description="limit for the regular lane")
    low_seconds: float = Field(60.0, gt=0, description="limit for the low lane and campaign batches")
    # A campaign stuck in `creating` this long without progress (its expanding process died) is undone.
    expansion_seconds: float = Field(300.0, gt=0)
    janitor_interval: float = Field(10.0, gt=0, description="seconds between campaign clean-up passes")

    def limit_for(self, lane: str) -> float:
        return {"high": self.high_seconds, "regular": self.regular_seconds}.get(lane, self.low_seconds)


class RedisClientSettings(BaseModel):
    """How long a producer waits for Redis before it raises StoreUnavailable (never a hang)."""

    connect_timeout: float = Field(2.0, gt=0)
    socket_timeout: float = Field(5.0, gt=0)
    retries: int = Field(1, ge=0, le=10, description="retries of a command on a connection error")


class Routing(BaseModel):
    sms: list[ProviderName] = ["messente", "direct_messenger", "smsapi"]
    viber: list[ProviderName] = ["messente"]
    whatsapp: list[ProviderName] = ["messente"]
    telegram: list[ProviderName] = ["messente"]

    @field_validator("viber", "whatsapp", "telegram")
    @classmethod
    def _messente_only(cls, value: list[ProviderName]) -> list[ProviderName]:
        if any(name not in ("messente", "simulated") for name in value):
            raise ValueError("only messente (or the simulated provider) delivers this channel")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMSQ_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None  # defaults to redis_url
    result_backend: str | None = None  # defaults to redis_url
    key_prefix: str = Field("smsq", pattern=r"^[A-Za-z0-9_.-]+$")

    messente: MessenteSettings = MessenteSettings()
    smsapi: SmsapiSettings = SmsapiSettings()
    direct_messenger: DirectMessengerSettings = DirectMessengerSettings()
    simulated: SimulatedSettings = SimulatedSettings()
    routing: Routing = Routing()

    retry: RetrySettings = RetrySettings()
    lanes: LaneSettings = LaneSettings()
    health: HealthSettings = HealthSettings()
    campaigns: CampaignSettings = CampaignSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    blacklist: BlacklistSettings = BlacklistSettings()
    polling: PollingSettings = PollingSettings()
    webhooks: WebhookSettings = WebhookSettings()
    recovery: RecoverySettings = RecoverySettings()
    redis_client: RedisClientSettings = RedisClientSettings()
    limits: LimitSettings = LimitSettings()  # bounds on bad input (config/limits.py)
    metrics: MetricsSettings = MetricsSettings()  # config/telemetry_settings.py
    log: LogSettings = LogSettings()
    tracing: TracingSettings = TracingSettings()  # OpenTelemetry, the tracing extra
    pacing: PacingSettings = PacingSettings()  # pacing and AIMD against provider limits (config/pacing.py)
    amqp: AmqpSettings = AmqpSettings()  # RabbitMQ as the broker (config/scale_settings.py)
    sentinel: SentinelSettings = SentinelSettings()  # the state store through Redis Sentinel
    beat: BeatSettings = BeatSettings()  # one active beat among many (workers/lease.py)
    api: ApiSettings = ApiSettings()  # the HTTP API, `smsq api` (config/api_settings.py)
    callbacks: CallbackSettings = CallbackSettings()  # callbacks to the app (config/callback_settings.py)
    cost: CostSettings = CostSettings()  # segments, prices, caps, pumping guard, send windows

    # Finished records expire after this long.
    retention_days: float = Field(30.0, gt=0)
    # Must exceed any countdown the code uses and any task's run time; long waits use the schedule.
    visibility_timeout: int = Field(3600, ge=1)

    @field_validator("result_backend")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not is_redis_url(value):
            raise ValueError("must be a redis:// , rediss:// or unix:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _store_scheme(cls, value: str) -> str:
        if not is_redis_url(value) and not value.startswith(SENTINEL_SCHEME):
            raise ValueError("must be a redis:// , rediss:// , unix:// or redis+sentinel:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str | None) -> str | None:
        if value is not None and not (is_redis_url(value) or is_amqp_url(value)):
            raise ValueError("must be a redis:// , rediss:// , unix:// or amqp:// (RabbitMQ) URL")
        return value

    @model_validator(mode="after")
    def _sentinel_needs_a_broker(self) -> Settings:
        # The state store behind Sentinel: the broker and Celery's result backend are named on their own.
        behind_sentinel = self.sentinel.enabled or self.redis_url.startswith(SENTINEL_SCHEME)
        if behind_sentinel and (self.broker_url is None or self.result_backend is None):
            raise ValueError(
                "with the state store behind Sentinel, set SMSQ_BROKER_URL and SMSQ_RESULT_BACKEND too"
            )
        return self

    @model_validator(mode="after")
    def _only_pollable_providers_are_polled(self) -> Settings:
        other = [name for name in self.polling.providers if name not in POLLABLE]
        if other:
            raise ValueError(
                f"SMSQ_POLLING__PROVIDERS: {other[0]!r} cannot be polled (pollable: {', '.join(POLLABLE)})"
            )
        return self

    @model_validator(mode="after")
    def _enabled_providers_are_configured(self) -> Settings:
        if self.direct_messenger.enabled and not self.direct_messenger.base_url:
            raise ValueError("direct_messenger.base_url is required when direct_messenger is enabled")
        return self

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    @property
    def broker_is_redis(self) -> bool:
        """True: smsq writes task messages straight into the broker's Redis lists (the fast path)."""
        return is_redis_url(self.effective_broker_url)

    @property
    def effective_result_backend(self) -> str:
        return self.result_backend or self.redis_url


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and .env) once; turn pydantic's error into one readable line per setting
    (``smsq.producers.errors.SettingsError``)."""
    # Imported here, not at the top: smsq.producers imports this module, so importing it from
    # this module's top would run smsq.producers before Settings exists.
    from smsq.producers.errors import SettingsError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            location = "__".join(str(part) for part in error["loc"]).upper()
            # A validator's own message reads better without pydantic's "Value error, " in front.
            message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
            problems.append(f"SMSQ_{location}: {message}" if location else message)
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
    except PydanticSettingsError:
        # pydantic-settings could not parse a list or group value as JSON; its message names only
        # the top-level field and the source, so name the variables here (never their values).
        problems = [f"{name}: must be {JSON_EXAMPLES[kind]}" for name, kind in _unparsable_variables()]
        raise SettingsError(
            "invalid settings: " + ("; ".join(problems) or "a list or group setting must be JSON")
        ) from None


JSON_EXAMPLES = {
    "list": 'a JSON list, e.g. [30, 60] or ["messente", "smsapi"]',
    "group": 'a JSON object, e.g. {"read": 10}',
}


def _unparsable_variables() -> list[tuple[str, str]]:
    """(name, "list" or "group") of each SMSQ_* variable (environment, then .env) that sets a list,
    mapping or group of settings to text that is not JSON, as pydantic-settings requires."""
    env_file = Settings.model_config.get("env_file")
    values = {**(dotenv_values(env_file) if isinstance(env_file, str) else {}), **os.environ}
    bad = []
    for name, value in values.items():
        kind = _complex_kind(name[5:].lower().split("__")) if name.upper().startswith("SMSQ_") else None
        if kind is None:
            continue
        try:
            json.loads(value or "")
        except ValueError:
            bad.append((name.upper(), kind))
    return sorted(bad)


def _complex_kind(path: list[str]) -> str | None:
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = get_origin(field.annotation) or field.annotation
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if depth == len(path) - 1:
            return "list" if annotation is list else "group" if is_model or annotation is dict else None
        if not is_model:
            return None
        model = annotation  # type: ignore[assignment]
    return None
