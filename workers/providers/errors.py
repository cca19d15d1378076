"""Provider failures, translated at the HTTP boundary. httpx and tenacity never leak past it.

Their branch of the one error tree, drawn whole in ``smsq.producers.errors``:

SmsqError
  UnknownProvider        no provider of that name is registered (smsq.workers.providers.registry)
  ProviderError          any failure talking to a provider; keeps provider, code, detail, HTTP status
    PermanentError       retrying cannot fix it (invalid number, bad sender, auth) -> failed at once
      UnknownToProvider  a status call for a message the provider does not hold (Messente 101/404)
    TransientError       5xx, 999, timeouts, connection errors -> retry with backoff
      RateLimited        429 -> wait (Retry-After when given); never counted as a failed attempt
"""

from __future__ import annotations

from typing import Any

from smsq.producers.errors import SmsqError


class UnknownProvider(SmsqError, LookupError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        super().__init__(f"no provider named {name!r} is registered (known: {', '.join(known)})")


class ProviderError(SmsqError):
    def __init__(
        self,
        provider: str,
        detail: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        field: str | None = None,
    ) -> None:
        self.provider = provider
        self.detail = detail
        self.code = code
        self.status_code = status_code
        self.field = field
        where = f" ({field})" if field else ""
        tag = f" [{code}]" if code else ""
        super().__init__(f"{provider}{tag}: {detail}{where}")


class PermanentError(ProviderError):
    """The provider refused the request; sending it again would be refused again."""


class UnknownToProvider(PermanentError):
    """The provider does not know the message a status call asked about: cancelled there (it held
    it for later) or not known yet; ``smsq.workers.status.polling`` decides which."""


class TransientError(ProviderError):
    """Worth retrying later. ``maybe_sent``: the request may have reached the provider (a read
    timeout), so a retry may duplicate the message unless the provider deduplicates."""

    def __init__(self, provider: str, detail: str, *, maybe_sent: bool = False, **kwargs: Any) -> None:
        super().__init__(provider, detail, **kwargs)
        self.maybe_sent = maybe_sent


class RateLimited(TransientError):
    def __init__(
        self, provider: str, detail: str, *, retry_after: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(provider, detail, **kwargs)
        self.retry_after = retry_after
