"""Settings tests read a clean environment: no SMSQ_* variable of the machine's, no .env of the repo's."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from smsq.config.settings import Settings, load_settings
from smsq.producers.errors import SettingsError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SMSQ_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # the .env read is the one a test writes here, if any


Load = Callable[..., Settings]
Problem = Callable[..., str]


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Load:
    """Settings read from the given SMSQ_* variables, as an application or worker reads them."""

    def read(**variables: str) -> Settings:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return load_settings()

    return read


@pytest.fixture
def problem(load: Load) -> Problem:
    """The message of the one SettingsError these SMSQ_* variables raise."""

    def refused(**variables: str) -> str:
        with pytest.raises(SettingsError) as caught:
            load(**variables)
        return str(caught.value)

    return refused
