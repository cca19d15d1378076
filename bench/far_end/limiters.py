"""The common limiter algorithms a provider may run, as the far end applies them to every request on
arrival (sends and status polls alike). A refused request is not counted against the limit, as nginx
does not count it."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol


class Limiter(Protocol):
    def allow(self, now: float) -> bool: ...


@dataclass
class TokenBucket:
    """``rate`` tokens a second into a bucket of ``capacity``; a request takes one or is refused."""

    rate: float
    capacity: float
    tokens: float = field(init=False)
    last: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def allow(self, now: float) -> bool:
        if self.last is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class FixedWindow:
    """At most ``limit`` requests in each calendar second (a counter reset on the second)."""

    limit: int
    window: int = field(default=-1, init=False)
    count: int = field(default=0, init=False)

    def allow(self, now: float) -> bool:
        second = math.floor(now)
        if second != self.window:
            self.window, self.count = second, 0
        if self.count >= self.limit:
            return False
        self.count += 1
        return True


@dataclass
class SlidingWindow:
    """At most ``limit`` requests in any one-second span (a log of accepted arrival times)."""

    limit: int
    span: float = 1.0
    accepted: deque[float] = field(default_factory=deque, init=False)

    def allow(self, now: float) -> bool:
        while self.accepted and self.accepted[0] <= now - self.span:
            self.accepted.popleft()
        if len(self.accepted) >= self.limit:
            return False
        self.accepted.append(now)
        return True


@dataclass
class Unlimited:
    def allow(self, now: float) -> bool:
        return True


KINDS = ("token-bucket", "fixed-window", "sliding-window", "none")


def make(kind: str, rate: float, burst: int) -> Limiter:
    if kind == "token-bucket":
        return TokenBucket(rate, burst)
    if kind == "fixed-window":
        return FixedWindow(int(rate))
    if kind == "sliding-window":
        return SlidingWindow(int(rate))
    if kind == "none":
        return Unlimited()
    raise ValueError(f"unknown limiter {kind!r}; one of {', '.join(KINDS)}")
