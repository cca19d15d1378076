"""What blacklist syncs keep in Redis between runs: the lock that keeps two from running at once, and per
provider the record of its list after the previous sync plus its read time, failures and retry time."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import redis

from smsq.producers.core.keys import BlacklistKeys
from smsq.producers.core.lua import read

# Renew or release the lock only while it is still ours (it may have expired and been taken).
_RENEW = read(__package__, "lock_renew.lua")
_RELEASE = read(__package__, "lock_release.lua")
RUNS_KEPT = 100
SET_CHUNK = 5000


class SyncLock:
    """A Redis lock with expiry: a sync killed mid-run blocks the next one for at most ``ttl_seconds``.
    While held, a thread renews it every third of the ttl; ``lost`` is set if it ever was not ours."""

    def __init__(self, client: redis.Redis, key: str, ttl_seconds: float) -> None:
        self.redis = client
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.token = uuid.uuid4().hex
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> bool:
        if not self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._renewer = threading.Thread(target=self._keep, name="blacklist-sync-lock", daemon=True)
        self._renewer.start()
        return True

    def renew(self) -> bool:
        return bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    def _keep(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                still_ours = self.renew()
            except redis.RedisError:
                still_ours = False
            if not still_ours:
                self.lost.set()
                return

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        self._release(keys=[self.key], args=[self.token])


@dataclass
class ProviderState:
    read_ms: int | None = None  # when the last successful sync read it; None: never synced
    failures: int = 0  # consecutive runs whose part for this provider failed
    retry_due_ms: int | None = None
    last_status: str = ""
    last_error: str = ""


class SyncRecords:
    def __init__(self, client: redis.Redis, keys: BlacklistKeys) -> None:
        self.redis = client
        self.keys = keys

    def states(self) -> dict[str, ProviderState]:
        raw: dict[str, str] = self.redis.hgetall(self.keys.sync_state)  # type: ignore[assignment]
        return {name: ProviderState(**json.loads(value)) for name, value in raw.items()}

    def state(self, provider: str) -> ProviderState:
        return self.states().get(provider, ProviderState())

    def save_state(self, provider: str, state: ProviderState) -> None:
        self.redis.hset(self.keys.sync_state, provider, json.dumps(asdict(state)))

    def previous(self, provider: str) -> frozenset[str] | None:
        """The provider's list as the previous sync left it; None when it was never synced."""
        if self.state(provider).read_ms is None:
            return None  # an empty Redis set does not exist, so the state says whether there was a sync
        members: set[str] = self.redis.smembers(self.keys.synced(provider))  # type: ignore[assignment]
        return frozenset(members)

    def save(self, provider: str, numbers: Iterable[str], state: ProviderState) -> None:
        """Replace the provider's record in one step (built aside, then renamed over the old one)."""
        key = self.keys.synced(provider)
        scratch = self.keys.synced_scratch(provider, uuid.uuid4().hex)
        ordered = list(numbers)
        with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(ordered), SET_CHUNK):
                pipe.sadd(scratch, *ordered[start : start + SET_CHUNK])
            pipe.execute()
        with self.redis.pipeline(transaction=True) as pipe:
            if ordered:
                pipe.rename(scratch, key)
            else:
                pipe.delete(key)
            pipe.hset(self.keys.sync_state, provider, json.dumps(asdict(state)))
            pipe.execute()

    def due_retries(self, now_ms: int) -> list[str]:
        return sorted(
            name
            for name, state in self.states().items()
            if state.retry_due_ms is not None and state.retry_due_ms <= now_ms
        )

    def postpone_retries(self, providers: Iterable[str], until_ms: int) -> None:
        """Claim due retries so the next check does not queue them again while they wait in the queue."""
        states = self.states()
        for name in providers:
            state = states.get(name, ProviderState())
            state.retry_due_ms = until_ms
            self.save_state(name, state)

    def record_run(self, task_id: str) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.keys.sync_runs, task_id)
            pipe.ltrim(self.keys.sync_runs, 0, RUNS_KEPT - 1)
            pipe.execute()
