"""Injected faults: which requests they hit and how many times."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

PROVIDERS = ("messente", "smsapi", "dm", "dm2fa")
FAULT_KINDS = ("latency", "status", "rate_limit", "timeout", "malformed")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass
class FaultRule:
    kind: str
    provider: str | None = None
    method: str | None = None
    path_pattern: str = ""
    status: int | None = None
    latency_ms: int = 0
    retry_after: float | None = None
    timeout_seconds: float | None = None
    remaining: int | None = None  # None: forever

    def matches(self, provider: str, method: str, path: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        if self.method is not None and self.method != method:
            return False
        if any(ch in self.path_pattern for ch in "*?["):
            return fnmatch.fnmatchcase(path, self.path_pattern)
        return path.startswith(self.path_pattern)

    def as_json(self) -> dict[str, Any]:
        endpoint = f"{self.method} {self.path_pattern}" if self.method else self.path_pattern
        return {
            "provider": self.provider,
            "endpoint": endpoint,
            "kind": self.kind,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "retry_after": self.retry_after,
            "timeout_seconds": self.timeout_seconds,
            "count": self.remaining,
        }


class FaultBook:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        self._rules.append(rule)

    def clear(self) -> None:
        self._rules.clear()

    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def take(self, provider: str, method: str, path: str) -> FaultRule | None:
        """The first rule hitting this request, counting the use; exhausted rules are dropped."""
        for rule in self._rules:
            if not rule.matches(provider, method, path):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
            return rule
        return None


def parse_fault(body: Any) -> FaultRule:
    """Build a rule from the admin JSON, or raise ValueError naming the bad field."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    provider = body.get("provider")
    if provider in ("*", ""):
        provider = None
    if provider is not None and provider not in PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(PROVIDERS)} or null")
    method, path_pattern = _split_endpoint(body.get("endpoint"))
    status = _optional_int(body, "status")
    if status is not None and not 100 <= status <= 599:
        raise ValueError("status must be an HTTP status code")
    count = _optional_int(body, "count")
    if count is not None and count < 1:
        raise ValueError("count must be a positive integer or null")
    retry_after = _optional_number(body, "retry_after")
    timeout_seconds = _optional_number(body, "timeout_seconds")
    latency_ms = _optional_int(body, "latency_ms") or 0
    if latency_ms < 0:
        raise ValueError("latency_ms must not be negative")
    return FaultRule(
        kind=kind,
        provider=provider,
        method=method,
        path_pattern=path_pattern,
        status=status,
        latency_ms=latency_ms,
        retry_after=retry_after,
        timeout_seconds=timeout_seconds,
        remaining=count,
    )


def _split_endpoint(endpoint: Any) -> tuple[str | None, str]:
    if endpoint is None:
        return None, ""
    if not isinstance(endpoint, str):
        raise ValueError("endpoint must be a string: a path prefix, a glob, or 'METHOD /path'")
    parts = endpoint.strip().split(maxsplit=1)
    if parts and parts[0].upper() in HTTP_METHODS:
        return parts[0].upper(), parts[1].strip() if len(parts) > 1 else ""
    return None, endpoint.strip()


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def _optional_number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)
