"""The HTTP boundary: build clients with explicit timeouts, retry only what is safe, translate every
httpx failure into the provider error tree."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from smsq.config.settings import Timeouts
from smsq.telemetry import tracing

if TYPE_CHECKING:
    from smsq.workers.providers.base import LoopTarget
from smsq.workers.providers.errors import PermanentError, RateLimited, TransientError

# Failures where the request never reached the provider: always safe to repeat at once.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Connections per client (one client per provider per worker process): at least the campaign send
# threads of a process (SMSQ_CAMPAIGNS__CONCURRENCY, default 32), or threads wait for a connection.
DEFAULT_MAX_CONNECTIONS = 100


def loop_target_of(client: httpx.Client, header_names: tuple[str, ...]) -> LoopTarget:
    """The event loop's copy of a sync client's base URL, the named headers and its timeouts."""
    from smsq.workers.providers.base import LoopTarget

    timeout = client.timeout
    timeouts = Timeouts.model_validate(
        {"connect": timeout.connect, "read": timeout.read, "write": timeout.write, "pool": timeout.pool}
    )
    headers = {name: client.headers[name] for name in header_names if name in client.headers}
    return LoopTarget(str(client.base_url), headers, timeouts)


def make_client(
    base_url: str,
    timeouts: Timeouts,
    *,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> httpx.Client:
    """Every pooled connection is kept alive: httpx keeps only 20 by default, so with more threads
    sending at once (campaign singles) most calls paid for a new TCP connection and closed it again."""
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        auth=auth,
        headers={"User-Agent": "smsq", **(headers or {})},
        timeout=httpx.Timeout(
            connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
        ),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        transport=transport,
    )


def request(
    client: httpx.Client,
    provider: str,
    method: str,
    url: str,
    *,
    connect_attempts: int = 3,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request. Connection failures are retried briefly (jittered, a few hundred ms); a read
    timeout is not, because the provider may have acted on the request. 429 raises RateLimited and 5xx
    TransientError; other statuses are returned for the provider module to parse."""
    retrying = Retrying(
        retry=retry_if_exception_type(_NOT_SENT),
        stop=stop_after_attempt(connect_attempts),
        wait=wait_random_exponential(multiplier=0.05, max=0.4),
        reraise=True,
    )
    # Tracing on: one span per provider call, over its connect retries (each an HTTP client span).
    with tracing.span(f"{provider} {method}", {tracing.PROVIDER: provider}, kind="client"):
        try:
            response = retrying(client.request, method, url.lstrip("/"), **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(provider, exc) from None
        return checked(provider, response)


def transport_error(provider: str, exc: httpx.HTTPError) -> TransientError:
    """What a failed call means: never sent (connect), or maybe sent (timeout, broken transfer)."""
    if isinstance(exc, _NOT_SENT):
        return TransientError(provider, f"cannot connect: {type(exc).__name__}", code="connect")
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(
            provider, f"no answer in time: {type(exc).__name__}", code="timeout", maybe_sent=True
        )
    return TransientError(
        provider, f"transport error: {type(exc).__name__}", code="transport", maybe_sent=True
    )


def checked(provider: str, response: httpx.Response) -> httpx.Response:
    """429 raises RateLimited and 5xx TransientError; other statuses are for the provider module."""
    if response.status_code == 429:
        raise RateLimited(
            provider,
            "rate limited",
            code="429",
            status_code=429,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if response.status_code >= 500:
        raise TransientError(
            provider,
            f"server error {response.status_code}: {response.text[:200]}",
            code=str(response.status_code),
            status_code=response.status_code,
            maybe_sent=True,
        )
    return response


def retry_after_seconds(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (a date in the past means now). A decimal
    delta ("1.5", not in the RFC but sent by some gateways) is read as given; anything else is None,
    so the caller's default wait applies."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


def json_body(provider: str, response: httpx.Response) -> Any:
    """Parse a JSON body; a malformed one is a transient failure (the provider may be mid-deploy)."""
    try:
        return response.json()
    except ValueError:
        raise TransientError(
            provider,
            f"malformed JSON in a {response.status_code} answer: {response.text[:120]!r}",
            code="malformed",
            status_code=response.status_code,
            maybe_sent=True,
        ) from None


def permanent_for_status(provider: str, response: httpx.Response, detail: str) -> PermanentError:
    return PermanentError(provider, detail, code=str(response.status_code), status_code=response.status_code)
