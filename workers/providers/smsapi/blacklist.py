"""SMSAPI Blacklist API (``/blacklist/phone_numbers``): list with ``q``/``offset``/``limit`` and an
iterator over every page, add (``expire_at`` optional), delete by id, delete all (only with an explicit
confirmation), CSV export (whole, in chunks, or in the background with ``x-async``) and
import. Numbers go out as digits only and come back as E.164.

``SmsapiBlacklistApi`` holds the calls; ``SmsapiClient`` (``smsq.workers.providers.smsapi.sms``) inherits
them, so one client with one connection pool serves both ``sms.do`` and the blacklist."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from smsq.workers.providers import http
from smsq.workers.providers.base import BlacklistEntry
from smsq.workers.providers.errors import TransientError
from smsq.workers.providers.smsapi.codes import NAME, digits, e164_from, error_from

PATH = "blacklist/phone_numbers"
CSV = {"Accept": "text/csv"}
ASYNC = {"x-async": "true"}


@dataclass(frozen=True)
class BlacklistPage:
    size: int  # the total number of matching entries, not the length of this page
    entries: tuple[BlacklistEntry, ...]


def parse_entry(item: Mapping[str, Any]) -> BlacklistEntry:
    return BlacklistEntry(
        phone=e164_from(item["phone_number"]),
        provider_id=str(item["id"]),
        created_at=item.get("created_at"),
        expires_at=item.get("expire_at"),
    )


def parse_blacklist_page(response: httpx.Response) -> BlacklistPage:
    if response.status_code == 204:  # an empty list
        return BlacklistPage(size=0, entries=())
    if response.status_code != 200:
        raise error_from(response)
    data = http.json_body(NAME, response)
    try:
        entries = tuple(parse_entry(item) for item in data["collection"])
        return BlacklistPage(size=int(data.get("size", len(entries))), entries=entries)
    except (KeyError, TypeError, ValueError) as exc:
        raise TransientError(NAME, f"unexpected blacklist body: {exc}", code="malformed") from None


def is_duplicate(response: httpx.Response) -> bool:
    """409, or a 4xx whose error names a duplicate (the exact code is not documented)."""
    if response.status_code == 409:
        return True
    if not 400 <= response.status_code < 500:
        return False
    text = response.text.lower()
    return "duplicat" in text or "already" in text


def expire_at_value(expire_at: date | datetime | str) -> str:
    return expire_at if isinstance(expire_at, str) else expire_at.isoformat()


def _export_params(q: str | None, offset: int | None, limit: int | None) -> dict[str, str | int] | None:
    params: dict[str, str | int] = {}
    if q:
        params["q"] = q
    if offset is not None:
        params["offset"] = offset
    if limit is not None:
        params["limit"] = limit
    return params or None


class SmsapiBlacklistApi:
    """The Blacklist API calls, over the client's ``http`` (Bearer token with the ``blacklist`` scope)."""

    http: httpx.Client
    page_size: int

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return http.request(self.http, NAME, method, url, **kwargs)

    def list_blacklist(
        self, *, q: str | None = None, offset: int = 0, limit: int | None = None
    ) -> BlacklistPage:
        params: dict[str, str | int] = {"offset": offset, "limit": limit or self.page_size}
        if q:
            params["q"] = q
        return parse_blacklist_page(self._call("GET", PATH, params=params))

    def iter_blacklist(self, *, q: str | None = None) -> Iterator[BlacklistEntry]:
        offset = 0
        while True:
            page = self.list_blacklist(q=q, offset=offset)
            yield from page.entries
            offset += len(page.entries)
            if not page.entries or offset >= page.size:
                return

    def add_blacklist_entry(
        self, phone: str, *, expire_at: date | datetime | str | None = None
    ) -> BlacklistEntry | None:
        """Returns the created entry, or None when the number was already listed."""
        body: dict[str, str] = {"phone_number": digits(phone)}
        if expire_at is not None:
            body["expire_at"] = expire_at_value(expire_at)
        response = self._call("POST", PATH, json=body)
        if response.status_code in (200, 201):
            return parse_entry(http.json_body(NAME, response))
        if is_duplicate(response):
            return None
        raise error_from(response)

    def delete_blacklist_entry(self, entry_id: str) -> bool:
        response = self._call("DELETE", f"{PATH}/{entry_id}")
        if response.status_code in (200, 204):
            return True
        if response.status_code == 404:
            return False
        raise error_from(response)

    def delete_all_blacklist(self, *, confirm: bool = False) -> None:
        """Clears the whole provider blacklist. Irreversible, so it needs ``confirm=True``."""
        if confirm is not True:
            raise ValueError(
                "delete_all_blacklist clears the whole SMSAPI blacklist irreversibly; pass confirm=True"
            )
        response = self._call("DELETE", PATH)
        if response.status_code not in (200, 204):
            raise error_from(response)

    def export_blacklist_csv(
        self, *, q: str | None = None, offset: int | None = None, limit: int | None = None
    ) -> str:
        """The list as CSV; ``offset``/``limit`` cut a large export into chunks."""
        response = self._call("GET", PATH, params=_export_params(q, offset, limit), headers=CSV)
        if response.status_code == 204:
            return ""
        if response.status_code != 200:
            raise error_from(response)
        return response.text

    def start_blacklist_export(self, *, q: str | None = None) -> str:
        """An export run in the background (``x-async: true``, for lists too big for one answer);
        returns SMSAPI's ``file_id``. How to fetch the file is not in SMSAPI's public documents."""
        response = self._call("GET", PATH, params=_export_params(q, None, None), headers={**CSV, **ASYNC})
        if response.status_code not in (200, 202):
            raise error_from(response)
        data = http.json_body(NAME, response)
        if not isinstance(data, Mapping) or not data.get("file_id"):
            raise TransientError(
                NAME, f"async export without a file_id: {response.text[:120]!r}", code="malformed"
            )
        return str(data["file_id"])

    def import_blacklist_csv(self, csv: str | bytes, *, filename: str = "blacklist.csv") -> None:
        """Uploads a CSV of numbers; SMSAPI imports it in the background (202)."""
        data = csv.encode() if isinstance(csv, str) else csv
        files = {"file": (filename, data, "text/csv")}
        response = self._call("POST", f"{PATH}/imports", files=files)
        if response.status_code not in (200, 201, 202, 204):
            raise error_from(response)

    # BlacklistProvider
    def blacklist(self) -> list[BlacklistEntry]:
        return list(self.iter_blacklist())

    def blacklist_add(self, phone: str, *, expire_at: date | datetime | str | None = None) -> bool:
        return self.add_blacklist_entry(phone, expire_at=expire_at) is not None

    # ExpiringBlacklistProvider
    def blacklist_add_until(self, phone: str, last_day: date) -> bool:
        """SMSAPI blocks through the whole expire_at day."""
        return self.blacklist_add(phone, expire_at=last_day)

    def blacklist_remove(self, entry: BlacklistEntry) -> bool:
        if entry.provider_id is not None:
            return self.delete_blacklist_entry(entry.provider_id)
        # Deletion is by id only: find the number's entries first (q matches a part of the number).
        number = digits(entry.phone)
        ids = [e.provider_id for e in self.iter_blacklist(q=number) if e.phone.removeprefix("+") == number]
        return any([self.delete_blacklist_entry(i) for i in ids if i is not None])
