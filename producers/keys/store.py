"""API keys: what the HTTP API (``smsq api``) authenticates with, created and revoked by ``smsq keys``,
read by the workers (a key's callback URL). Redis keeps a key's hash, never its secret:

    <p>:apikey:<key_id>     hash    fields below (``FIELDS``)
    <p>:apikey-hashes       hash    sha256 of a secret -> its key id (read once per key and process)
    <p>:apikeys             zset    key id -> created ms (``smsq keys list``)

All three are durable (an installation's keys outlive any retention). A secret has 256 random bits,
so one sha256 is enough: a slow password hash protects guessable passwords, not random tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import redis

from smsq.config.settings import Settings
from smsq.producers.core.connection import state_client
from smsq.producers.core.keys import Keys
from smsq.producers.core.store import Clock, to_ms
from smsq.producers.errors import InvalidInput

# -- a key's fields --------------------------------------------------------------------------------
NAME: Final = "name"
PREFIX: Final = "prefix"  # the secret's first characters: tells keys apart in lists and logs
HASH: Final = "hash"  # sha256 hex of the secret
SCOPES: Final = "scopes"  # comma-separated, of SCOPE_NAMES
RATE: Final = "rate"  # "50/s", "600/m", "10000/h"; '' = no limit of its own
TEST: Final = "test"  # "1": its messages go to the simulated provider
CALLBACK_URL: Final = "callback_url"  # '' = none
CREATED_MS: Final = "created_ms"
LAST_USED_MS: Final = "last_used_ms"  # '' = never
REVOKED_MS: Final = "revoked_ms"  # '' = live

SEND: Final = "send"
READ: Final = "read"
CAMPAIGNS: Final = "campaigns"
BLACKLIST: Final = "blacklist"
SCOPE_NAMES: Final = (SEND, READ, CAMPAIGNS, BLACKLIST)

SECRET_PREFIX: Final = "smsq_"
VISIBLE_CHARS: Final = 14  # "smsq_live_" or "smsq_test_" and four random characters
# last_used_ms is rewritten at most this often per key and process: a write per request would double
# the API's Redis traffic for a figure nobody needs to the millisecond.
TOUCH_EVERY_MS: Final = 60_000
# Secret hashes -> key ids remembered per process: a key's id never changes, so only the record is read
# on each request (a revocation marks the record too, so it still holds at once). Bounded: unknown
# secrets are never remembered, and past this many the map starts over.
KNOWN_HASHES_MAX: Final = 10_000

_RATE = re.compile(r"([1-9][0-9]{0,8})/(s|m|h)", re.ASCII)
_PER_SECOND = {"s": 1.0, "m": 60.0, "h": 3600.0}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}", re.ASCII)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    prefix: str
    secret_hash: str
    scopes: frozenset[str]
    rate: str
    test: bool
    callback_url: str | None
    created_ms: int
    last_used_ms: int | None
    revoked_ms: int | None

    @property
    def revoked(self) -> bool:
        return self.revoked_ms is not None

    @property
    def rate_per_second(self) -> float | None:
        return None if not self.rate else parse_rate(self.rate)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_rate(text: str) -> float:
    """ "50/s" -> 50.0 requests a second (also N/m, N/h); InvalidInput naming ``rate`` otherwise."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise InvalidInput([("rate", f"{text[:40]!r} is not a rate such as 50/s, 600/m or 10000/h")])
    return int(match[1]) / _PER_SECOND[match[2]]


def parse_scopes(text: str | Iterable[str]) -> frozenset[str]:
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text)]
    names = [name for name in names if name]
    unknown = sorted({name for name in names if name not in SCOPE_NAMES})
    if unknown or not names:
        shown = ", ".join(repr(name[:20]) for name in unknown) or "(none)"
        raise InvalidInput([("scopes", f"unknown scope {shown}; use {','.join(SCOPE_NAMES)}")])
    return frozenset(names)


class KeyStore:
    def __init__(self, client: redis.Redis, *, prefix: str = "smsq", clock: Clock = time.time) -> None:
        self.redis = client
        self.keys = Keys(prefix)
        self.clock = clock
        self._touched: dict[str, int] = {}  # key id -> last_used_ms this process last wrote
        self._known: dict[str, str] = {}  # secret hash -> key id (KNOWN_HASHES_MAX)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        return cls(state_client(settings, bounded=True), prefix=settings.key_prefix)

    def create(
        self,
        name: str,
        scopes: str | Iterable[str],
        *,
        rate: str = "",
        test: bool = False,
        callback_url: str | None = None,
        check_callback_url: Callable[[str], object] | None = None,
    ) -> CreatedKey:
        """A new key; its secret is in the answer only. ``check_callback_url`` (a function that raises
        InvalidInput) vets the URL first: the callbacks' SSRF rules live with the callbacks."""
        problems: list[tuple[str, str]] = []
        if not _NAME.fullmatch(name):
            problems.append(("name", "must be 1-64 letters, digits, spaces, '.', '_' or '-'"))
        scope_set: frozenset[str] = frozenset()
        for check in (lambda: parse_scopes(scopes), lambda: rate and parse_rate(rate)):
            try:
                value = check()
                if isinstance(value, frozenset):
                    scope_set = value
            except InvalidInput as error:
                problems.extend(error.problems)
        if callback_url and check_callback_url is not None:
            try:
                check_callback_url(callback_url)
            except InvalidInput as error:
                problems.extend(error.problems)
        if problems:
            raise InvalidInput(problems)
        secret = f"{SECRET_PREFIX}{'test' if test else 'live'}_{secrets.token_urlsafe(32)}"
        key_id = uuid.uuid4().hex
        now = to_ms(self.clock())
        fields: dict[Any, str | int] = {
            NAME: name,
            PREFIX: secret[:VISIBLE_CHARS],
            HASH: secret_hash(secret),
            SCOPES: ",".join(sorted(scope_set)),
            RATE: rate.strip(),
            TEST: "1" if test else "0",
            CALLBACK_URL: callback_url or "",
            CREATED_MS: now,
            LAST_USED_MS: "",
            REVOKED_MS: "",
        }
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.api_key(key_id), mapping=fields)
            pipe.hset(self.keys.api_key_hashes, fields[HASH], key_id)
            pipe.zadd(self.keys.api_keys, {key_id: now})
            pipe.execute()
        key = self.get(key_id)
        assert key is not None
        return CreatedKey(key, secret)

    def get(self, key_id: str) -> ApiKey | None:
        record: dict[str, str] = self.redis.hgetall(self.keys.api_key(key_id))  # type: ignore[assignment]
        return _from_record(key_id, record) if record else None

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live key whose secret this is, else None (unknown, revoked or malformed). Read from Redis
        on every call, so a revocation holds on every API process at once."""
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            return None
        presented = secret_hash(secret)
        key_id = self._known.get(presented) or self.redis.hget(self.keys.api_key_hashes, presented)
        key = self.get(str(key_id)) if key_id else None
        # Constant time on the hashes: the lookup already matched, this guards a corrupt or raced entry.
        # A revoked key's record says so (``revoke``), so the remembered id lets nothing more through.
        if key is None or not hmac.compare_digest(key.secret_hash, presented) or key.revoked:
            self._known.pop(presented, None)
            return None
        if presented not in self._known:
            if len(self._known) >= KNOWN_HASHES_MAX:
                self._known.clear()
            self._known[presented] = key.key_id
        now = to_ms(self.clock())
        if now - self._touched.get(key.key_id, 0) >= TOUCH_EVERY_MS:
            self._touched[key.key_id] = now
            self.redis.hset(self.keys.api_key(key.key_id), LAST_USED_MS, now)
        return key

    def all(self) -> list[ApiKey]:
        ids: list[str] = self.redis.zrange(self.keys.api_keys, 0, -1)  # type: ignore[assignment]
        with self.redis.pipeline(transaction=False) as pipe:
            for key_id in ids:
                pipe.hgetall(self.keys.api_key(key_id))
            records = pipe.execute()
        return [_from_record(key_id, record) for key_id, record in zip(ids, records, strict=True) if record]

    def revoke(self, key_id_or_prefix: str) -> ApiKey:
        """Revoke by key id or by the visible prefix (when it names one key); InvalidInput otherwise.
        The hash lookup goes at once; the record stays, marked, so `smsq keys list` shows it."""
        key = self._find(key_id_or_prefix)
        if not key.revoked:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.api_key(key.key_id), REVOKED_MS, to_ms(self.clock()))
                pipe.hdel(self.keys.api_key_hashes, key.secret_hash)
                pipe.execute()
        revoked = self.get(key.key_id)
        assert revoked is not None
        return revoked

    def _find(self, text: str) -> ApiKey:
        key = self.get(text) if re.fullmatch(r"[0-9a-f]{32}", text) else None
        if key is not None:
            return key
        matches = [key for key in self.all() if text and key.prefix == text[:VISIBLE_CHARS]]
        if len(matches) == 1 and text.startswith(matches[0].prefix):
            return matches[0]
        reason = "names several keys; give the key id" if matches else "is no key id or prefix"
        raise InvalidInput([("key", f"{text[:40]!r} {reason}")])


def _from_record(key_id: str, record: dict[str, str]) -> ApiKey:
    return ApiKey(
        key_id=key_id,
        name=record.get(NAME, ""),
        prefix=record.get(PREFIX, ""),
        secret_hash=record.get(HASH, ""),
        scopes=frozenset(filter(None, record.get(SCOPES, "").split(","))),
        rate=record.get(RATE, ""),
        test=record.get(TEST) == "1",
        callback_url=record.get(CALLBACK_URL) or None,
        created_ms=int(record.get(CREATED_MS) or 0),
        last_used_ms=int(record[LAST_USED_MS]) if record.get(LAST_USED_MS) else None,
        revoked_ms=int(record[REVOKED_MS]) if record.get(REVOKED_MS) else None,
    )
