"""Settings for outgrowing one Redis: RabbitMQ as the broker (``settings.amqp``), the state store
through Redis Sentinel (``settings.sentinel``), beat on many hosts (``settings.beat``). Part of the one
Settings object."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
SENTINEL_SCHEME = "redis+sentinel://"

QueueType = Literal["quorum", "classic"]


def is_redis_url(url: str) -> bool:
    return url.startswith(REDIS_SCHEMES)


def is_amqp_url(url: str) -> bool:
    return url.startswith(AMQP_SCHEMES)


class AmqpSettings(BaseModel):
    """Used when ``SMSQ_BROKER_URL`` is amqp:// (RabbitMQ)."""

    # Quorum queues are replicated (Raft) and survive a node's loss; smsq needs no feature they lack
    # (its lanes are separate queues, not x-max-priority). "classic" for a RabbitMQ without them.
    queue_type: QueueType = "quorum"
    # Seconds a publish waits for RabbitMQ's confirms of a batch before it raises BrokerUnavailable.
    confirm_timeout: float = Field(10.0, gt=0)
    # AMQP heartbeat: how soon RabbitMQ notices a worker host that vanished (a killed process closes
    # its socket at once) and hands its unacknowledged tasks back. Celery's default is 120 s.
    heartbeat: float = Field(10.0, ge=0)
    connect_timeout: float = Field(3.0, gt=0)


class BeatSettings(BaseModel):
    """Many `smsq beat` processes: one holds the lease and works, the others stand by (workers/lease.py)."""

    # A standby takes over this long after the holder stopped renewing (it renews every third).
    lease_seconds: float = Field(10.0, ge=1, le=300)


class SentinelSettings(BaseModel):
    """The state store through Redis Sentinel: either ``SMSQ_REDIS_URL`` as
    ``redis+sentinel://host:port[,host:port...]/<master name>/<db>``, or these settings with
    ``master_name`` and ``sentinels`` set (they win over the URL's host)."""

    master_name: str | None = None
    sentinels: list[str] = []  # "host:port", each a sentinel
    password: SecretStr | None = None  # the sentinels' own password, if they have one
    socket_timeout: float = Field(1.0, gt=0, description="seconds to wait for a sentinel's answer")

    @field_validator("sentinels")
    @classmethod
    def _host_ports(cls, value: list[str]) -> list[str]:
        for entry in value:
            host, _, port = entry.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"each sentinel is host:port (not {entry!r})")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.master_name and self.sentinels)


def sentinel_url_parts(url: str) -> tuple[list[tuple[str, int]], str, int]:
    """``redis+sentinel://h1:26379,h2:26379/mymaster/0`` -> ([(h1, 26379), (h2, 26379)], mymaster, 0)."""
    parts = urlsplit(url)
    hosts = []
    for entry in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"each sentinel in the URL is host:port (not {entry!r})")
        hosts.append((host, int(port)))
    path = [piece for piece in parts.path.split("/") if piece]
    if not path:
        raise ValueError("a sentinel URL names the master: redis+sentinel://host:port/<master name>/<db>")
    db = path[1] if len(path) > 1 else "0"
    if not db.isdigit():
        raise ValueError(f"the database in a sentinel URL is a number (not {db!r})")
    return hosts, path[0], int(db)
