"""The CSV readers: random bytes give a created campaign or a one-line InvalidInput (and then nothing
is stored); a blacklist import gives a report or a one-line InvalidInput."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsq.config.limits import LimitSettings
from smsq.producers.blacklist.csv_files import import_csv
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from tests.support.fakes import RecordingPublisher

LIMITS = LimitSettings(csv_line_chars=512, csv_field_chars=128)
PIECES = [b"phone", b"name", b",", b"\n", b"\r\n", b'"', b"+37251234567", b"+3725123456", b"\xef\xbb\xbf",
          b"\xff\xfe", b"\x00", b"\xe9", b"%name%", b"a" * 600, b"\xf0\x9f\x98", b"\xd9\xa1"]  # fmt: skip
CSV_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join),
    st.lists(st.sampled_from(PIECES), max_size=40).map(lambda parts: b"phone,name\n" + b"".join(parts)),
)


@pytest.fixture
def campaigns(store: MessageStore) -> Campaigns:
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    return Campaigns(store, RecordingPublisher(), blacklist, limits=LIMITS)


@given(data=CSV_BYTES)
def test_random_bytes_make_a_campaign_or_one_line_of_error(
    campaigns: Campaigns, store: MessageStore, tmp_path: Path, data: bytes
) -> None:
    store.redis.flushdb()
    csv_file = tmp_path / "fuzz.csv"
    csv_file.write_bytes(data)
    template: dict[str, Any] = {"messages": [{"channel": "sms", "text": "Hi"}]}
    try:
        progress = campaigns.create(name="fuzz", template=template, csv_path=csv_file)
    except InvalidInput as error:
        assert "\n" not in str(error) and store.redis.dbsize() == 0
        return
    assert progress.recipients >= progress.messages >= 0


@given(data=CSV_BYTES)
def test_a_blacklist_import_reports_or_refuses_in_one_line(store: MessageStore, data: bytes) -> None:
    store.redis.flushdb()
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    text = data.decode("utf-8", "surrogateescape")
    try:
        report = import_csv(blacklist, text, limits=LIMITS)
    except InvalidInput as error:
        assert "\n" not in str(error) and store.redis.dbsize() == 0
        return
    assert report.imported == len(blacklist.active_numbers())
    assert all("\n" not in problem for _, problem in report.problems)
