"""Which callback URLs smsq will call (server-side request forgery): the key store and the HTTP API
call ``check_callback_url`` when a URL is set; the callback workers call ``check_address`` for every
address they connect to (workers/callbacks/transport.py), since DNS may answer differently later.

https only unless ``SMSQ_CALLBACKS__ALLOW_HTTP``; the host must resolve, and every address it resolves
to must be public (globally routable) unless ``SMSQ_CALLBACKS__ALLOW_PRIVATE`` lets loopback,
private, shared (100.64/10) and link-local addresses through. Multicast, unspecified and reserved
addresses are never called: no receiver lives there.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.errors import UnsafeCallbackUrl

MAX_URL_CHARS = 2048
# (host, port) -> every address it resolves to, as text
Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), as the system resolver answers now."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_callback_url(url: str, settings: CallbackSettings, *, resolver: Resolver = resolve) -> str:
    """``url`` if smsq may call it, else UnsafeCallbackUrl naming what is wrong. Resolves the host."""
    host, port = _parts(url, settings)
    literal = _literal(host)
    if literal is not None:
        check_address(literal, settings, url=url)
        return url
    try:
        addresses = list(resolver(host, port))
    except (OSError, UnicodeError) as error:
        raise UnsafeCallbackUrl(url, f"its host {host!r} does not resolve ({_reason(error)})") from None
    if not addresses:
        raise UnsafeCallbackUrl(url, f"its host {host!r} resolves to no address")
    for address in addresses:
        check_address(address, settings, url=url, host=host)
    return url


def check_address(address: str, settings: CallbackSettings, *, url: str = "", host: str = "") -> None:
    """Raise UnsafeCallbackUrl unless a callback may connect to ``address``."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        raise UnsafeCallbackUrl(url, f"{address!r} is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    kind = refused_kind(ip, allow_private=settings.allow_private)
    if kind is None:
        return
    where = f"its host {host!r} resolves to {ip}" if host else f"{ip}"
    hint = "" if kind in NEVER else "; SMSQ_CALLBACKS__ALLOW_PRIVATE=true allows it"
    article = "an" if kind[0] in "aeiou" else "a"
    raise UnsafeCallbackUrl(url, f"{where}, {article} {kind} address{hint}")


NEVER = frozenset({"multicast", "unspecified", "reserved"})


def refused_kind(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``ip`` is refused (``"loopback"``, ``"private"``...), or None: it may be called."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    # Loopback and link-local first: ::1 and fe80::/10 also sit in IPv6 ranges marked reserved.
    if ip.is_loopback:
        private = "loopback"
    elif ip.is_link_local:
        private = "link-local"
    elif ip.is_reserved:
        return "reserved"
    elif ip.is_private:
        private = "private"
    elif not ip.is_global:
        private = "non-public (shared or special-purpose)"
    else:
        return None
    return None if allow_private else private


def _parts(url: str, settings: CallbackSettings) -> tuple[str, int]:
    if not isinstance(url, str) or not url.strip():
        raise UnsafeCallbackUrl(str(url), "is empty")
    if len(url) > MAX_URL_CHARS:
        raise UnsafeCallbackUrl(url[:80], f"is longer than {MAX_URL_CHARS} characters")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise UnsafeCallbackUrl(url, "contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeCallbackUrl(url, f"is not a valid URL ({error})") from None
    schemes = ("https", "http") if settings.allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        got = parts.scheme or "none"
        hint = "" if settings.allow_http or got != "http" else "; SMSQ_CALLBACKS__ALLOW_HTTP=true allows http"
        raise UnsafeCallbackUrl(url, f"must use {' or '.join(schemes)} (scheme: {got}){hint}")
    if parts.username is not None or parts.password is not None:
        raise UnsafeCallbackUrl(
            url, "must not carry a user name or password (use the signature to authenticate)"
        )
    if not parts.hostname:
        raise UnsafeCallbackUrl(url, "has no host")
    if parts.fragment:
        raise UnsafeCallbackUrl(url, "must not have a #fragment")
    default = 443 if parts.scheme.lower() == "https" else 80
    return parts.hostname, port or default


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


def _reason(error: BaseException) -> str:
    return str(error.args[1]) if isinstance(error, socket.gaierror) and len(error.args) > 1 else str(error)
