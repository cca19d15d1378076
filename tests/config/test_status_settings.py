"""Delivery-status settings (smsq.config.status_settings), read as SMSQ_POLLING__* and SMSQ_WEBHOOKS__*:
the validators written by hand (the numeric bounds are covered for every group in test_settings.py)."""

from __future__ import annotations

import pytest

from tests.config.conftest import Load, Problem

URL_PROBLEM = "SMSQ_WEBHOOKS__PUBLIC_BASE_URL: must be an http(s) URL without query or fragment"
SECRET = "0123456789abcdef"  # 16 characters, the shortest accepted


@pytest.mark.parametrize("intervals", ["[]", "[30, 0]", "[30, -60]"])
def test_poll_intervals_are_a_non_empty_list_of_positive_seconds(problem: Problem, intervals: str) -> None:
    assert problem(SMSQ_POLLING__INTERVALS=intervals) == (
        "invalid settings: SMSQ_POLLING__INTERVALS: must be a non-empty list of positive numbers of seconds"
    )


def test_poll_intervals_are_taken_in_order(load: Load) -> None:
    assert load(SMSQ_POLLING__INTERVALS="[5, 0.5, 3600]").polling.intervals == [5.0, 0.5, 3600.0]


def test_only_providers_with_a_status_call_can_be_polled(problem: Problem, load: Load) -> None:
    # Direct Messenger has no status call: it only pushes delivery reports.
    assert problem(SMSQ_POLLING__PROVIDERS='["messente", "direct_messenger"]') == (
        "invalid settings: SMSQ_POLLING__PROVIDERS: 'direct_messenger' cannot be polled (pollable: messente, smsapi)"
    )
    assert problem(SMSQ_POLLING__PROVIDERS='["twilio"]') == (
        "invalid settings: SMSQ_POLLING__PROVIDERS: 'twilio' cannot be polled (pollable: messente, smsapi)"
    )
    assert load(SMSQ_POLLING__PROVIDERS='["smsapi", "messente"]').polling.providers == ["smsapi", "messente"]


@pytest.mark.parametrize(
    "url",
    [
        "smsq.example.com",  # no scheme
        "ftp://smsq.example.com",
        "https://",  # no host
        "https://smsq.example.com/?tenant=1",
        "https://smsq.example.com/#reports",
    ],
)
def test_the_public_base_url_is_a_plain_http_url(problem: Problem, url: str) -> None:
    assert problem(SMSQ_WEBHOOKS__PUBLIC_BASE_URL=url, SMSQ_WEBHOOKS__SECRET=SECRET) == (
        f"invalid settings: {URL_PROBLEM}"
    )


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://smsq.example.com/", "https://smsq.example.com"),  # callback paths are appended to it
        ("http://10.0.0.7:8000/smsq", "http://10.0.0.7:8000/smsq"),
        ("", None),  # set but empty: no delivery reports asked for, as when unset
    ],
)
def test_a_good_public_base_url_is_kept_without_its_trailing_slash(
    load: Load, url: str, kept: str | None
) -> None:
    assert (
        load(SMSQ_WEBHOOKS__PUBLIC_BASE_URL=url, SMSQ_WEBHOOKS__SECRET=SECRET).webhooks.public_base_url
        == kept
    )


def test_callbacks_need_a_secret_of_16_characters_and_the_error_does_not_show_it(
    problem: Problem, load: Load
) -> None:
    message = problem(
        SMSQ_WEBHOOKS__PUBLIC_BASE_URL="https://smsq.example.com", SMSQ_WEBHOOKS__SECRET=SECRET[:-1]
    )
    assert message == (
        "invalid settings: SMSQ_WEBHOOKS: webhooks.secret of at least 16 characters is required with public_base_url"
    )
    assert SECRET[:-1] not in message
    settings = load(SMSQ_WEBHOOKS__SECRET=SECRET)
    assert settings.webhooks.secret.get_secret_value() == SECRET


def test_without_a_public_url_no_secret_is_needed(load: Load) -> None:
    webhooks = load(SMSQ_WEBHOOKS__SECRET="short").webhooks
    assert webhooks.public_base_url is None and webhooks.messente_signature_key is None
