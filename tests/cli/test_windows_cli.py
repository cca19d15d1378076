"""`smsq windows check NUMBER [--at TIME]` (issue 16)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Run


def test_windows_check_explains(run: Run) -> None:
    code, out, err = run("windows", "check", "+33612345678", "--at", "2026-07-14T10:00")
    assert (code, err) == (0, "")
    assert out.endswith(
        "not allowed (public holiday National Day (2026-07-14)); next opening 2026-07-15T06:00Z.\n"
    )
    assert run("windows", "check", "+12125550104", "--at", "2026-03-09T12:30Z")[1].endswith("allowed.\n")


def test_windows_check_with_rules_from_settings(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SMSQ_COST__WINDOWS__RULES", '{"FR": {"start": "10:00", "end": "11:00", "days": ["tue"]}}'
    )
    out = run("windows", "check", "+33612345678", "--at", "2026-07-14T10:00")[1]
    assert "window 10:00-11:00 local, tue" in out and "next opening 2026-07-21T08:00Z" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [(("12",), "number: '12' is not a phone number"), (("+33612345678", "--at", "x"), "at: must be")],
)
def test_bad_input_is_one_line(run: Run, args: tuple[str, ...], words: str) -> None:
    code, out, err = run("windows", "check", *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err


def test_send_class_marketing_is_deferred_or_not(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    # A rule shut every day makes the deferral independent of when the test runs.
    monkeypatch.setenv(
        "SMSQ_COST__WINDOWS__RULES", '{"*": {"start": "00:00", "end": "00:01", "days": ["mon"]}}'
    )
    code, out, _ = run("send", "--to", "+37251234567", "--text", "Sale", "--class", "marketing")
    assert code == 0 and " scheduled (" in out and "outside its send window: goes at " in out
    assert " queued (" in run("send", "--to", "+37251234567", "--text", "Your code 1")[1]
    code, _, err = run("send", "--to", "+37251234567", "--text", "x", "--class", "promo")
    assert code == 2 and "message_class: must be transactional or marketing" in err


def test_campaign_create_takes_a_class(run: Run) -> None:
    code, out, _ = run("campaign", "create", "--name", "sale", "--text", "Sale", "--to", "+33612345678")
    assert code == 0 and "class" in out and "marketing" in out
    code, out, _ = run("campaign", "create", "--name", "bills", "--text", "Due", "--to", "+33612345678",
                       "--class", "transactional")  # fmt: skip
    assert code == 0 and "transactional" in out
    code, out, err = run("campaign", "create", "--name", "x", "--text", "x", "--to", "+33612345678",
                         "--class", "promo")  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "message_class: must be transactional or marketing, not 'promo'" in err
