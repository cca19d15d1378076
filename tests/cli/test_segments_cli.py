"""`smsq segments TEXT` (issue 16): the encoding, parts and characters, and the character that
forced UCS-2; bad options are one line on stderr, exit 2."""

from __future__ import annotations

import json

import pytest
import redis

from tests.cli.conftest import Run


def test_segments_explains_a_ucs2_text(run: Run) -> None:
    code, out, err = run("segments", "We\u2019re open" + "x" * 140)
    assert (code, err) == (0, "")
    assert out == (
        "3 parts, UCS-2, 150 characters (150 UTF-16 units, 67 a part); UCS-2 because of '\u2019' "
        "(U+2019 RIGHT SINGLE QUOTATION MARK) at position 3\n"
    )


def test_segments_as_json(run: Run) -> None:
    code, out, _ = run("segments", "Sale {today}", "--json")
    assert code == 0
    assert json.loads(out) == {
        "encoding": "GSM-7",
        "segments": 1,
        "characters": 12,
        "units": 14,
        "per_part": 160,
    }


def test_segments_with_autoconvert_and_the_account_table(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("segments", "It\u2019s", "--autoconvert", "full")[1].startswith("1 part, GSM-7, 4 characters")
    monkeypatch.setenv("SMSQ_COST__AUTO_REPLACE", '{"\u2019": "\'"}')
    assert run("segments", "It\u2019s")[1].startswith("1 part, GSM-7")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--autoconvert", "maybe"), "autoconvert: Input should be 'on', 'full' or 'off'"),
        (("--udh", "0Z"), "udh: String should match pattern"),
    ],
)
def test_bad_options_are_one_line(run: Run, args: tuple[str, ...], words: str) -> None:
    code, out, err = run("segments", "hi", *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err


def test_send_prints_the_parts_and_refuses_past_max_segments(run: Run, redis_client: redis.Redis) -> None:
    code, out, err = run("send", "--to", "+37251234567", "--text", "x" * 161, "--max-segments", "1")
    assert code == 2 and err.startswith(
        "error: messages.0.sms.text: takes 2 SMS parts (161 characters in GSM-7)"
    )
    assert redis_client.dbsize() == 0
    code, out, _ = run("send", "--to", "+37251234567", "--text", "x" * 161)
    assert code == 0 and out.endswith(" queued (2 parts, GSM-7, 161 characters (161 septets, 153 a part))\n")
