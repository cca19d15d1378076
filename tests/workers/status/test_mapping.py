"""The status map as data, the rank of channel results, and the decisive-channel rule."""

from __future__ import annotations

import pytest

from smsq.workers.status.mapping import FINAL, IN_PROGRESS, NOTHING, SEEN, UNSURE, decide, rank, smsq_status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DELIVRD", "delivered"),
        ("SEEN", "delivered"),
        ("UNDELIV", "undeliverable"),
        ("REJECTD", "undeliverable"),
        ("FAILED", "failed"),
        ("EXPIRED", "expired"),
        ("DELETED", "cancelled"),
        ("ACK", None),
        ("ACCEPTD", None),
        ("UNKNOWN", None),
        ("NACK", None),
        (None, None),
        ("SOMETHING_NEW", None),  # a status Messente adds later: in progress, never a crash
        ("", None),
        ("delivrd", "delivered"),
    ],
)
def test_messente_statuses(raw: str | None, expected: str | None) -> None:
    assert smsq_status("messente", raw) == expected


@pytest.mark.parametrize(
    ("provider", "raw", "expected"),
    [
        ("smsapi", "DELIVERED", "delivered"),
        ("smsapi", "UNDELIVERED", "undeliverable"),
        ("smsapi", "QUEUE", None),
        ("smsapi", "NOT_FOUND", "unknown"),
        ("direct_messenger", "1", "delivered"),
        ("direct_messenger", "2", "undeliverable"),
        ("direct_messenger", "16", "failed"),
        ("direct_messenger", "8", None),
        ("direct_messenger", "99", None),
        ("nobody", "DELIVRD", None),
    ],
)
def test_other_providers_use_their_own_tables(provider: str, raw: str, expected: str | None) -> None:
    assert smsq_status(provider, raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, NOTHING), ("ACK", IN_PROGRESS), ("NOT_FOUND", UNSURE), ("UNDELIV", FINAL), ("SEEN", SEEN)],
)
def test_rank_orders_what_is_known(raw: str | None, expected: int) -> None:
    provider = "smsapi" if raw == "NOT_FOUND" else "messente"
    assert rank(raw, smsq_status(provider, raw)) == expected


def r(status: str | None, level: int = FINAL) -> tuple[int, str | None]:
    return (level if status else IN_PROGRESS, status)


@pytest.mark.parametrize(
    ("chain", "results", "gave_up", "expected"),
    [
        (["sms"], {}, False, None),
        (["sms"], {"sms": r(None)}, False, None),
        (["sms"], {"sms": r("delivered")}, False, "delivered"),
        (["sms"], {"sms": r("failed")}, False, "failed"),
        # sms failed, viber not tried yet: the provider goes on to viber
        (["sms", "viber"], {"sms": r("undeliverable")}, False, None),
        (["sms", "viber"], {"sms": r("undeliverable"), "viber": r(None)}, False, None),
        (["sms", "viber"], {"sms": r("undeliverable"), "viber": r("delivered")}, False, "delivered"),
        (["sms", "viber"], {"sms": r("failed"), "viber": r("expired")}, False, "expired"),
        (["viber", "sms"], {"viber": r("delivered")}, False, "delivered"),
        (["sms", "viber"], {"sms": r("cancelled")}, False, "cancelled"),
        # giving up: the furthest channel tried decides when settled, else unknown
        (["sms"], {}, True, "unknown"),
        (["sms"], {"sms": r(None)}, True, "unknown"),
        (["sms", "viber"], {"sms": r("undeliverable")}, True, "undeliverable"),
        (["sms", "viber"], {"sms": r("undeliverable"), "viber": r(None)}, True, "unknown"),
    ],
)
def test_the_decisive_channel(
    chain: list[str], results: dict[str, tuple[int, str | None]], gave_up: bool, expected: str | None
) -> None:
    assert decide(chain, results, gave_up=gave_up) == expected
