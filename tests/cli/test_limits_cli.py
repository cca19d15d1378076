"""`smsq limits` as a user runs it: each provider's configured, paced and learned rate."""

from __future__ import annotations

import json
import os
import re

import pytest
import redis

from smsq.config.settings import Settings
from smsq.workers.context import build_limiter
from tests.cli.conftest import Run


def test_limits_show_the_paced_rate_and_a_cut_after_a_429(run: Run, redis_client: redis.Redis) -> None:
    code, out, _ = run("limits", "--json")
    assert code == 0
    rates = json.loads(out)
    assert rates["messente"] == {"configured": 150.0, "paced": 147.0, "current": 147.0, "cut_at": None}
    assert set(rates) == {"messente", "smsapi", "direct_messenger", "simulated"}

    # A worker is told 429 by Messente: every worker's rate is cut, and the command shows it.
    settings = Settings(_env_file=None, redis_url=os.environ["SMSQ_REDIS_URL"])  # type: ignore[call-arg]
    build_limiter(settings, redis_client).pause("messente", 0.0)
    code, out, _ = run("limits")
    assert code == 0
    row = next(line for line in out.splitlines() if "messente" in line)
    configured, paced, now = (float(n) for n in re.findall(r"\d+(?:\.\d+)?", row)[:3])
    # 0.8 x 147 = 117.6, climbing back 2.94/s since
    assert (configured, paced) == (150, 147) and 117.6 <= now < 125 and "recovering from a 429" in row


def test_limits_without_redis_is_one_clear_line(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSQ_REDIS_URL", "redis://127.0.0.1:1/0")
    code, _, err = run("limits")
    assert code == 2 and err.count("\n") == 1 and "cannot reach Redis" in err
