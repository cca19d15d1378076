"""SMSQ_TRACING__*: checked when read, one line naming the variable."""

from __future__ import annotations

from smsq.config.settings import Settings
from tests.config.conftest import Problem


def test_tracing_is_off_by_default() -> None:
    assert Settings(_env_file=None).tracing.enabled is False  # type: ignore[call-arg]


def test_the_tracing_settings_are_checked(problem: Problem) -> None:
    assert problem(SMSQ_TRACING__ENDPOINT="collector:4318") == (
        "invalid settings: SMSQ_TRACING__ENDPOINT: must be an http:// or https:// URL (the OTLP/HTTP receiver)"
    )
    assert "SMSQ_TRACING__SAMPLE_RATIO" in problem(SMSQ_TRACING__SAMPLE_RATIO="1.5")
