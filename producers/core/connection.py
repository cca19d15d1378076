"""The producer's Redis client: explicit timeouts and a short, bounded retry, and every connection
failure raised as one ``StoreUnavailable`` naming the server and the cause (never a hang, never a
raw redis traceback in an application's logs). Workers keep plain clients: their loops log and retry."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.retry import Retry

from smsq.config.settings import RedisClientSettings
from smsq.producers.errors import StoreUnavailable

UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def server_name(client: redis.Redis) -> str:
    """host:port/db (or the socket path) of the client's server: never its password."""
    kwargs = client.connection_pool.connection_kwargs
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
