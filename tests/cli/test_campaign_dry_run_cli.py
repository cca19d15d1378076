"""`smsq campaign create --dry-run` (issue 16): the report, nothing stored; bad input one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from tests.cli.conftest import Run

EXAMPLE = Path(__file__).parents[2] / "config" / "prices.example.toml"


def test_dry_run_prints_the_estimate_and_stores_nothing(
    run: Run, redis_client: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_COST__PRICES_FILE", str(EXAMPLE))
    people = tmp_path / "people.csv"
    people.write_text(
        "phone,name\n+37251000001,Mari\n+37251000002,Zoë\n+12125550104,Bob\nnope,X\n", encoding="utf-8"
    )
    args = ("campaign", "create", "--name", "promo", "--text", "Hi %name%", "--csv", str(people), "--dry-run")
    code, out, err = run(*args)
    assert (code, err) == (0, "")
    assert "nothing stored" in out and "SMS in UCS-2" in out and "estimated cost (messente)" in out
    assert "0.10 EUR" in out  # 2 x 0.045 (EE) + 0.01 (US)
    code, out, _ = run(*args, "--json")
    report = json.loads(out)
    assert (report["to_send"], report["skipped"], report["total_cost"]) == (3, {"invalid_number": 1}, 0.1)
    assert report["segments_by_encoding"]["UCS-2"] == {"messages": 1, "segments": 1}
    assert redis_client.dbsize() == 0


def test_dry_run_refuses_bad_input_in_one_line(run: Run, redis_client: redis.Redis) -> None:
    code, _, err = run("campaign", "create", "--name", "x", "--text", "hi", "--groups", "g1", "--dry-run")
    assert code == 2 and err.count("\n") == 1 and "a dry run needs recipients or a CSV" in err
    assert redis_client.dbsize() == 0
