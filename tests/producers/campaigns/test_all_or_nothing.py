"""Campaign creation is all-or-nothing for every error, including one raised in the middle of the
stream after chunks were already stored (issue 13: the undo ran on a fresh Expansion that never
learned which positions were stored, so 20,000 of 30,000 records stayed)."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsq.config.limits import LimitSettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns import expansion as campaign_expansion
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.expansion import Expander
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from tests.support.fakes import RecordingPublisher

PLAIN = {"messages": [{"channel": "sms", "text": "Sale today"}]}
LIMITS = LimitSettings(csv_line_chars=1024, csv_field_chars=256)


@pytest.fixture
def campaigns(store: MessageStore, monkeypatch: pytest.MonkeyPatch) -> Campaigns:
    monkeypatch.setattr(campaign_expansion, "CHUNK", 10)  # ten records a stored chunk
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    return Campaigns(store, RecordingPublisher(), blacklist, batch_size=5, limits=LIMITS)


def numbers(count: int) -> list[str]:
    return [f"+3725100{n:04d}" for n in range(1, count + 1)]


class FailingAfter(list[str]):
    """Recipients whose iteration fails part-way, as a stream that cannot be read further does."""

    def __init__(self, items: list[str], after: int, error: BaseException) -> None:
        super().__init__(items)
        self.after, self.error = after, error

    def __iter__(self) -> Iterator[str]:
        for index, item in enumerate(super().__iter__()):
            if index == self.after:
                raise self.error
            yield item


@pytest.mark.parametrize("after_chunks", [1, 3, 5])
def test_a_write_failing_after_n_stored_chunks_leaves_nothing_in_redis(
    campaigns: Campaigns, store: MessageStore, monkeypatch: pytest.MonkeyPatch, after_chunks: int
) -> None:
    real_write = Expander._write
    calls = {"n": 0}

    def write(self: Expander, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] > after_chunks:
            raise ConnectionError("redis went away")
        real_write(self, *args)

    monkeypatch.setattr(Expander, "_write", write)
    with pytest.raises(ConnectionError):
        campaigns.create(name="x", template=PLAIN, recipients=numbers(100), idempotency_key="k1")
    assert calls["n"] > after_chunks  # chunks were stored before the failure
    assert store.redis.dbsize() == 0


@pytest.mark.parametrize(
    "error",
    [UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid"), OSError("disk gone"), KeyboardInterrupt()],
)
def test_a_stream_failing_mid_way_leaves_nothing_in_redis(
    campaigns: Campaigns, store: MessageStore, error: BaseException
) -> None:
    with pytest.raises(type(error)):
        campaigns.create(name="x", template=PLAIN, recipients=FailingAfter(numbers(100), 45, error))
    assert store.redis.dbsize() == 0


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


GOOD = b"phone\n" + b"".join(n.encode() + b"\n" for n in numbers(30))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (GOOD + "+37251009999,Jos\u00e9\n".encode("latin-1"), "line 32 is not UTF-8 text"),
        (codecs.BOM_UTF16_LE + "phone\n+37251000001\n".encode("utf-16-le"), "is UTF-16 text"),
        ("phone\n+37251000001\n".encode("utf-16-le"), "NUL byte"),
        (GOOD + bytes(range(256)), "NUL byte"),
        (GOOD + b"+3725100" + b"9" * 5000 + b"\n", "line 32 is longer than 1024 characters"),
        (b"phone" + b"x" * 5000 + b"\n", "line 1 is longer than 1024"),
        (GOOD + b'"' + b"a" * 300 + b'"\n', "line 32 has a field longer than 256 characters"),
        (GOOD + b'"' + b"a\n" * 200 + b'"\n', "has a field longer than 256"),
        (b'"\x01\n\x01', "no column 'phone'"),  # found by the fuzz suite: a header name holding a newline
    ],
)
def test_a_bad_csv_is_one_line_of_error_and_nothing_is_stored(
    campaigns: Campaigns, store: MessageStore, tmp_path: Path, data: bytes, words: str
) -> None:
    csv_file = write_bytes(tmp_path / "people.csv", data)
    with pytest.raises(InvalidInput, match=words) as refused:
        campaigns.create(name="x", template=PLAIN, csv_path=csv_file)
    assert "\n" not in str(refused.value) and str(refused.value).startswith("csv: ")
    assert store.redis.dbsize() == 0


def test_a_utf8_bom_and_crlf_lines_are_read(campaigns: Campaigns, tmp_path: Path) -> None:
    csv_file = write_bytes(tmp_path / "excel.csv", codecs.BOM_UTF8 + GOOD.replace(b"\n", b"\r\n"))
    progress = campaigns.create(name="x", template=PLAIN, csv_path=csv_file)
    assert progress.messages == 30 and progress.skipped == {}
