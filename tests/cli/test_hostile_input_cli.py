"""Bad input on the command line (issue 13): one line on stderr, exit 2, nothing stored; never a
traceback."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
import redis

from tests.cli.conftest import Run

GOOD = "phone\n" + "".join(f"+3725100{n:04d}\n" for n in range(1, 31))


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2, (out, err)
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (GOOD.encode() + b"+37251009999\n" + "Jos\u00e9\n".encode("latin-1"), "line 33 is not UTF-8 text"),
        (codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le"), "is UTF-16 text"),
        (bytes(range(256)) * 4, "NUL byte"),
        (GOOD.encode() + b"+3725" + b"1" * 70_000 + b"\n", "line 32 is longer than 65536 characters"),
        (GOOD.encode() + b'"' + b"a" * 200_000 + b'"\n', "line 32 is longer than"),
        (GOOD.encode() + b'"' + b"a\n" * 3000 + b'"\n', "has a field longer than 4096 characters"),
    ],
)
def test_campaign_create_refuses_a_bad_csv_in_one_line(
    run: Run, redis_client: redis.Redis, tmp_path: Path, data: bytes, words: str
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_bytes(data)
    err = one_line_error(*run("campaign", "create", "--name", "x", "--text", "hi", "--csv", str(csv_file)))
    assert words in err
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_to_send_at_the_edges_is_refused_not_a_traceback(
    run: Run, redis_client: redis.Redis, tmp_path: Path, when: str
) -> None:
    err = one_line_error(*run("send", "--to", "+37251234567", "--text", "hi", "--time-to-send", when))
    assert "time_to_send: is out of range" in err
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(GOOD)
    args = (
        "campaign",
        "create",
        "--name",
        "x",
        "--text",
        "hi",
        "--csv",
        str(csv_file),
        "--time-to-send",
        when,
    )
    assert "template.time_to_send: is out of range" in one_line_error(*run(*args))
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--idempotency-key", "abc\n"), "idempotency_key: must be 1-200 printable ASCII"),
        (("--idempotency-key", "k" * 201), "idempotency_key"),
        (("--sender", "Acme\n"), "sender: must be a phone number"),
        (("--text", "x" * 2000), "text: is 2000 characters; sms takes at most 1530"),
    ],
)
def test_send_refuses_keys_senders_and_texts_beyond_the_rules(
    run: Run, redis_client: redis.Redis, args: tuple[str, ...], words: str
) -> None:
    base = ["send", "--to", "+37251234567"]
    if "--text" not in args:
        base += ["--text", "hi"]
    assert words in one_line_error(*run(*base, *args))
    assert redis_client.dbsize() == 0


def test_blacklist_import_strips_a_utf8_bom_and_check_sees_every_digit_form(run: Run, tmp_path: Path) -> None:
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes(codecs.BOM_UTF8 + b"number,reason\r\n+37251234567,STOP\r\n")
    code, out, err = run("blacklist", "import", str(csv_file))
    assert code == 0 and "imported 1, 0 already blacklisted, 0 bad lines" in out, err
    code, out, _ = run("blacklist", "check", "+3725\u0661\u0662\u0663\u0664\u0665\u0666\u0667")
    assert code == 0 and out.strip() == "+37251234567 blocked"
