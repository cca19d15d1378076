"""The root settings object (smsq.config.settings): every validator refuses a bad value with one
clear error naming the SMSQ_* variable, SMSQ_ prefix and __ nesting, .env, and secrets kept out of
every printout. The delivery-status groups (polling, webhooks) are in test_status_settings.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr

from smsq.config.settings import DEFAULT_LEASE_EXPIRY, Settings
from tests.config.conftest import Load, Problem

# Every numeric bound of every setting, read from the models themselves, so a setting added later
# with a bound is tested too: the value just beyond the bound is refused naming the variable, and
# the bound itself (or the nearest value inside an open bound) is accepted.


def bounded_settings(model: type[BaseModel] = Settings, prefix: str = "SMSQ_") -> Iterator[tuple[str, Any]]:
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from bounded_settings(field.annotation, variable + "__")
        else:
            yield variable, field


def is_int(field: Any) -> bool:
    kinds = set(get_args(field.annotation)) - {type(None)} or {field.annotation}
    return kinds == {int}


def bound_cases() -> Iterator[Any]:
    for variable, field in bounded_settings():
        step = 1 if is_int(field) else 0.5
        bounds: list[Any] = [m for m in field.metadata if isinstance(m, Gt | Ge | Lt | Le)]
        for bound in bounds:
            kind = type(bound).__name__.lower()
            edge: Any = getattr(bound, kind)
            bad, good, phrase = {
                "gt": (edge, edge + step, f"greater than {edge}"),
                "ge": (edge - step, edge, f"greater than or equal to {edge}"),
                "lt": (edge, edge - step, f"less than {edge}"),
                "le": (edge + step, edge, f"less than or equal to {edge}"),
            }[kind]
            yield pytest.param(variable, str(bad), good, phrase, id=f"{variable}-{kind}")


BOUND_CASES = list(bound_cases())


def value_at(settings: Settings, variable: str) -> Any:
    value: Any = settings
    for part in variable.removeprefix("SMSQ_").lower().split("__"):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("variable", "bad", "good", "phrase"), BOUND_CASES)
def test_every_bound_refuses_the_value_beyond_it_and_names_the_variable(
    problem: Problem, load: Load, variable: str, bad: str, good: float, phrase: str
) -> None:
    assert problem(**{variable: bad}) == f"invalid settings: {variable}: Input should be {phrase}"
    assert value_at(load(**{variable: str(good)}), variable) == good


def test_the_bound_table_reaches_every_group_and_both_ends() -> None:
    ids = {case.id for case in BOUND_CASES}
    assert {
        "SMSQ_RETRY__MAX_ATTEMPTS-ge",
        "SMSQ_RETRY__MAX_ATTEMPTS-le",
        "SMSQ_MESSENTE__TIMEOUTS__READ-gt",
        "SMSQ_LANES__HIGH_RESERVE-lt",
        "SMSQ_CAMPAIGNS__EXPANSION_WORKERS-ge",
        "SMSQ_POLLING__CLAIM_INTERVAL-le",
        "SMSQ_VISIBILITY_TIMEOUT-ge",
    } <= ids
    groups = {case.id.split("__")[0] for case in BOUND_CASES if "__" in case.id}
    assert groups == {f"SMSQ_{name.upper()}" for name in
                      ("messente", "smsapi", "direct_messenger", "simulated", "retry", "lanes", "health",
                       "campaigns", "schedule", "blacklist", "polling", "recovery", "redis_client", "limits",
                       "api", "pacing", "amqp", "sentinel", "beat", "callbacks", "metrics", "cost", "tracing")}  # fmt: skip


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        (
            {"SMSQ_LIMITS__TTL_MIN_SECONDS": "100", "SMSQ_LIMITS__TTL_MAX_SECONDS": "99"},
            "ttl_min_seconds must not exceed",
        ),
        (
            {"SMSQ_LIMITS__VALIDITY_MIN_MINUTES": "10", "SMSQ_LIMITS__VALIDITY_MAX_MINUTES": "9"},
            "validity_min_minutes",
        ),
    ],
)
def test_a_limit_range_upside_down_is_refused(
    problem: Problem, variables: dict[str, str], words: str
) -> None:
    assert words in problem(**variables)


# Types, choices and the validators written by hand


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SMSQ_RETRY__MAX_ATTEMPTS": "three"}, "SMSQ_RETRY__MAX_ATTEMPTS: Input should be a valid integer, unable to parse string as an integer"),
        ({"SMSQ_MESSENTE__ENABLED": "sometimes"}, "SMSQ_MESSENTE__ENABLED: Input should be a valid boolean, unable to interpret input"),
        ({"SMSQ_KEY_PREFIX": "my app"}, "SMSQ_KEY_PREFIX: String should match pattern '^[A-Za-z0-9_.-]+$'"),
        ({"SMSQ_KEY_PREFIX": "a:b"}, "SMSQ_KEY_PREFIX: String should match pattern '^[A-Za-z0-9_.-]+$'"),
        ({"SMSQ_DIRECT_MESSENGER__CONVERSION": "3"}, "SMSQ_DIRECT_MESSENGER__CONVERSION: Input should be 0, 1 or 2"),
        ({"SMSQ_ROUTING__SMS": '["twilio"]'},
         "SMSQ_ROUTING__SMS__0: Input should be 'messente', 'smsapi', 'direct_messenger' or 'simulated'"),
        ({"SMSQ_LANES__ON_LEASE_EXPIRY__HIGH": "retry"},
         "SMSQ_LANES__ON_LEASE_EXPIRY__HIGH: Input should be 'resend' or 'unknown'"),
        ({"SMSQ_LANES__ON_LEASE_EXPIRY__URGENT": "resend"},
         "SMSQ_LANES__ON_LEASE_EXPIRY: the lanes are high, regular and low (not urgent)"),
        ({"SMSQ_ROUTING__SMS": "smsapi"},
         'SMSQ_ROUTING__SMS: must be a JSON list, e.g. [30, 60] or ["messente", "smsapi"]'),
        ({"SMSQ_MESSENTE__TIMEOUTS": "fast"}, 'SMSQ_MESSENTE__TIMEOUTS: must be a JSON object, e.g. {"read": 10}'),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_kind_is_refused_naming_the_variable(
    problem: Problem, variables: dict[str, str], message: str
) -> None:
    assert problem(**variables) == f"invalid settings: {message}"


@pytest.mark.parametrize("channel", ["viber", "whatsapp", "telegram"])
def test_only_messente_may_deliver_the_chat_channels(problem: Problem, load: Load, channel: str) -> None:
    variable = f"SMSQ_ROUTING__{channel.upper()}"
    assert problem(**{variable: '["messente", "smsapi"]'}) == (
        f"invalid settings: {variable}: only messente (or the simulated provider) delivers this channel"
    )
    assert getattr(load(**{variable: '["messente"]'}).routing, channel) == ["messente"]
    assert getattr(load(**{variable: '["simulated"]'}).routing, channel) == ["simulated"]


REFUSED_SCHEME = {
    "SMSQ_REDIS_URL": ("amqp://guest:hunter2@127.0.0.1:5672//", "must be a redis:// , rediss:// , unix:// or redis+sentinel:// URL"),
    "SMSQ_BROKER_URL": ("http://guest:hunter2@127.0.0.1:5672//", "must be a redis:// , rediss:// , unix:// or amqp:// (RabbitMQ) URL"),
    "SMSQ_RESULT_BACKEND": ("amqp://guest:hunter2@127.0.0.1:5672//", "must be a redis:// , rediss:// or unix:// URL"),
}  # fmt: skip


@pytest.mark.parametrize("variable", list(REFUSED_SCHEME))
def test_redis_urls_must_name_a_redis_scheme_and_the_error_never_echoes_the_url(
    problem: Problem, load: Load, variable: str
) -> None:
    url, expected = REFUSED_SCHEME[variable]
    message = problem(**{variable: url})
    assert message == f"invalid settings: {variable}: {expected}"
    assert "hunter2" not in message
    for good in (
        "redis://127.0.0.1:6390/2",
        "rediss://user:pw@redis.example:6380/0",
        "unix:///run/redis.sock",
    ):
        assert value_at(load(**{variable: good}), variable) == good


def test_broker_and_result_backend_default_to_the_redis_url(load: Load) -> None:
    settings = load(SMSQ_REDIS_URL="redis://10.0.0.5:6379/3")
    assert settings.effective_broker_url == settings.effective_result_backend == "redis://10.0.0.5:6379/3"
    settings = load(SMSQ_BROKER_URL="redis://10.0.0.6:6379/0")
    assert (settings.effective_broker_url, settings.effective_result_backend) == (
        "redis://10.0.0.6:6379/0",
        "redis://10.0.0.5:6379/3",
    )


def test_an_enabled_direct_messenger_needs_its_base_url(problem: Problem, load: Load) -> None:
    assert problem(SMSQ_DIRECT_MESSENGER__ENABLED="true") == (
        "invalid settings: direct_messenger.base_url is required when direct_messenger is enabled"
    )
    settings = load(SMSQ_DIRECT_MESSENGER__BASE_URL="https://dm.example/api")
    assert (
        settings.direct_messenger.enabled and settings.direct_messenger.base_url == "https://dm.example/api"
    )


def test_every_problem_is_named_in_one_error(problem: Problem) -> None:
    message = problem(SMSQ_RETRY__MAX_ATTEMPTS="0", SMSQ_KEY_PREFIX="a b", SMSQ_REDIS_URL="http://x")
    assert message.startswith("invalid settings: ")
    named = re.findall(r"(SMSQ_[A-Z_]+):", message)
    assert sorted(named) == ["SMSQ_KEY_PREFIX", "SMSQ_REDIS_URL", "SMSQ_RETRY__MAX_ATTEMPTS"]


# SMSQ_ prefix, __ nesting, .env


def test_variables_need_the_smsq_prefix(load: Load) -> None:
    settings = load(REDIS_URL="redis://elsewhere:6379/0", RETRY__MAX_ATTEMPTS="9", KEY_PREFIX="other")
    assert (settings.redis_url, settings.retry.max_attempts, settings.key_prefix) == (
        "redis://127.0.0.1:6379/0",
        5,
        "smsq",
    )
    assert load(SMSQ_KEY_PREFIX="shop-1").key_prefix == "shop-1"


def test_double_underscores_reach_nested_settings_and_keep_their_siblings_defaults(load: Load) -> None:
    settings = load(
        SMSQ_RETRY__MAX_ATTEMPTS="7",
        SMSQ_MESSENTE__TIMEOUTS__READ="2.5",
        SMSQ_ROUTING__SMS='["smsapi", "messente"]',
        SMSQ_POLLING__INTERVALS="[10, 20]",
        SMSQ_WEBHOOKS__PUBLIC_BASE_URL="https://smsq.example.com",
        SMSQ_WEBHOOKS__SECRET="0123456789abcdef",
    )
    assert settings.retry.max_attempts == 7 and settings.retry.base_delay == 2.0
    assert settings.messente.timeouts.read == 2.5 and settings.messente.timeouts.connect == 3.0
    assert settings.routing.sms == ["smsapi", "messente"] and settings.routing.viber == ["messente"]
    assert settings.polling.intervals == [10.0, 20.0]
    assert settings.webhooks.public_base_url == "https://smsq.example.com"


def test_one_lanes_lease_policy_leaves_the_other_lanes_their_defaults(load: Load) -> None:
    # The high lane resends by default: setting another lane must not take that away.
    policy = load(SMSQ_LANES__ON_LEASE_EXPIRY__REGULAR="resend").lanes.on_lease_expiry
    assert policy == {"high": "resend", "regular": "resend", "low": "unknown"}
    assert load(SMSQ_LANES__ON_LEASE_EXPIRY__HIGH="unknown").lanes.on_lease_expiry["low"] == "unknown"
    assert DEFAULT_LEASE_EXPIRY == {"high": "resend", "regular": "unknown", "low": "unknown"}  # not mutated


def test_a_dotenv_file_in_the_working_directory_is_read_and_the_environment_wins(
    load: Load, problem: Problem, tmp_path: Any
) -> None:
    (tmp_path / ".env").write_text("SMSQ_KEY_PREFIX=from-dotenv\nSMSQ_RETRY__MAX_ATTEMPTS=4\n")
    settings = load(SMSQ_RETRY__MAX_ATTEMPTS="8")
    assert (settings.key_prefix, settings.retry.max_attempts) == ("from-dotenv", 8)
    (tmp_path / ".env").write_text("SMSQ_POLLING__INTERVALS=30,60\n")
    assert problem() == (
        'invalid settings: SMSQ_POLLING__INTERVALS: must be a JSON list, e.g. [30, 60] or ["messente", "smsapi"]'
    )


# Secrets

SECRETS = {
    "SMSQ_MESSENTE__USERNAME": "messente-user-q7",
    "SMSQ_MESSENTE__PASSWORD": "messente-pass-q7",
    "SMSQ_SMSAPI__TOKEN": "smsapi-token-q7",
    "SMSQ_DIRECT_MESSENGER__API_TOKEN": "dm-token-q7",
    "SMSQ_WEBHOOKS__SECRET": "webhook-secret-q7-0123456789",
    "SMSQ_WEBHOOKS__MESSENTE_SIGNATURE_KEY": "signature-key-q7",
}


def test_secrets_are_never_printed(load: Load) -> None:
    settings = load(**SECRETS, SMSQ_WEBHOOKS__PUBLIC_BASE_URL="https://smsq.example.com")
    printed = "\n".join(
        [repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())]
    )
    assert not [value for value in SECRETS.values() if value in printed]
    assert "**********" in printed
    assert settings.smsapi.token.get_secret_value() == "smsapi-token-q7"  # still there for the clients


def test_an_error_beside_secrets_names_the_problem_and_echoes_no_secret(problem: Problem) -> None:
    variables = {**SECRETS, "SMSQ_WEBHOOKS__SECRET": "short-secret-q7"}
    message = problem(**variables, SMSQ_WEBHOOKS__PUBLIC_BASE_URL="https://smsq.example.com")
    assert "webhooks.secret of at least 16 characters" in message
    assert not [value for value in [*SECRETS.values(), "short-secret-q7"] if value in message]


def secret_like_fields(model: type[BaseModel] = Settings, path: str = "") -> Iterator[tuple[str, Any]]:
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from secret_like_fields(field.annotation, f"{path}{name}.")
        elif re.search(r"(password|token|secret|_key)$", name):
            yield path + name, field.annotation


def test_every_credential_setting_is_a_secret_str() -> None:
    fields = dict(secret_like_fields())
    assert {"messente.password", "smsapi.token", "direct_messenger.api_token", "webhooks.secret"} <= set(
        fields
    )
    assert {path for path, kind in fields.items() if SecretStr not in (kind, *get_args(kind))} == set()
