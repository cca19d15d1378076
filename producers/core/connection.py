"""The producer's Redis client: explicit timeouts and a short, bounded retry, and every connection
failure raised as one ``StoreUnavailable`` naming the server and the cause (never a hang, never a
raw redis traceback in an application's logs). Workers keep plain clients: their loops log and retry.

``state_client`` builds every process's client of the state store: from ``SMSQ_REDIS_URL``, or through
Redis Sentinel (``redis+sentinel://`` URL, or ``SMSQ_SENTINEL__MASTER_NAME`` and ``__SENTINELS``), where
redis-py's sentinel pool asks the sentinels for the master and finds the new one after a failover
(a command that fails over the switch is retried, ``SMSQ_REDIS_CLIENT__RETRIES``)."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from smsq.config.scale_settings import SENTINEL_SCHEME, sentinel_url_parts
from smsq.config.settings import RedisClientSettings, Settings
from smsq.producers.errors import SettingsError, StoreUnavailable

UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def server_name(client: redis.Redis) -> str:
    """host:port/db (or the socket path) of the client's server: never its password."""
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        return f"the master {pool.service_name!r} (through Sentinel)"
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def unavailable(client: redis.Redis, error: Exception) -> StoreUnavailable:
    reason = str(error).strip() or type(error).__name__
    return StoreUnavailable(server_name(client), f"{type(error).__name__}: {reason}")


class StorePipeline(Pipeline):
    def __init__(self, owner: StoreClient, *args: Any) -> None:
        super().__init__(*args)
        self._owner = owner

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return super().execute(raise_on_error)
        except UNREACHABLE as error:
            raise unavailable(self._owner, error) from None


class StoreClient(redis.Redis):
    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)
        except UNREACHABLE as error:
            raise unavailable(self, error) from None

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> StorePipeline:
        return StorePipeline(self, self.connection_pool, self.response_callbacks, transaction, shard_hint)


def store_client(url: str, settings: RedisClientSettings, *, decode_responses: bool = True) -> StoreClient:
    """A client that gives up within about (retries + 1) x (connect or socket timeout) + 0.5 s."""
    client = StoreClient.from_url(
        url,
        decode_responses=decode_responses,
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=settings.socket_timeout,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), settings.retries),
        health_check_interval=30,
    )
    assert isinstance(client, StoreClient)
    return client


def sentinel_target(settings: Settings) -> tuple[list[tuple[str, int]], str, int] | None:
    """(sentinels, master name, db) when the state store is reached through Sentinel, else None."""
    block = settings.sentinel
    hosts: list[tuple[str, int]] = []
    master: str | None = None
    db = 0
    if settings.redis_url.startswith(SENTINEL_SCHEME):
        try:
            hosts, master, db = sentinel_url_parts(settings.redis_url)
        except ValueError as error:
            raise SettingsError(f"invalid settings: SMSQ_REDIS_URL: {error}") from None
    if block.enabled:
        if not settings.redis_url.startswith(SENTINEL_SCHEME):  # the database still comes from the URL
            db = int(settings.redis_url.rsplit("/", 1)[-1] or 0) if settings.redis_url.count("/") > 2 else 0
        hosts = [(entry.rpartition(":")[0], int(entry.rpartition(":")[2])) for entry in block.sentinels]
        master = block.master_name
    return (hosts, master, db) if master else None


def state_client(settings: Settings, *, decode_responses: bool = True, bounded: bool = False) -> redis.Redis:
    """The state store's client. ``bounded``: a ``StoreClient`` (the producer's: bounded timeouts,
    ``StoreUnavailable``); otherwise a plain client, as workers use."""
    target = sentinel_target(settings)
    client_settings = settings.redis_client
    if target is None:
        if bounded:
            return store_client(settings.redis_url, client_settings, decode_responses=decode_responses)
        return redis.Redis.from_url(settings.redis_url, decode_responses=decode_responses)
    hosts, master, db = target
    password = settings.sentinel.password
    sentinel = Sentinel(
        hosts,
        socket_timeout=settings.sentinel.socket_timeout,
        sentinel_kwargs={
            "socket_timeout": settings.sentinel.socket_timeout,
            **({"password": password.get_secret_value()} if password else {}),
        },
    )
    # A failover drops the old master's connections (or answers READONLY): redis-py's retry asks
    # the sentinels again, so a command in flight over the switch is tried on the new master.
    options: dict[str, Any] = {
        "db": db,
        "decode_responses": decode_responses,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.1), max(client_settings.retries, 3)),
        "retry_on_error": [redis.exceptions.ReadOnlyError],
    }
    if bounded:
        options |= {
            "socket_connect_timeout": client_settings.connect_timeout,
            "socket_timeout": client_settings.socket_timeout,
        }
    return sentinel.master_for(master, redis_class=StoreClient if bounded else redis.Redis, **options)
