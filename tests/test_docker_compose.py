"""docker-compose.yml: every smsq process reads settings smsq accepts, on the Redis broker by default and
on RabbitMQ with the `rabbitmq` profile (the URL its comment gives matches the server's user and vhost)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smsq.config.settings import Settings

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def interpolated(env: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """Compose's ${NAME:-default} as `docker compose` fills it in with ``given`` set."""
    fill = lambda m: given.get(m.group(1)) or m.group(2)  # noqa: E731
    return {name: re.sub(r"\$\{(\w+):-([^}]*)\}", fill, str(value)) for name, value in env.items()}


def smsq_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if s.get("image") == "smsq:latest"}


@pytest.mark.parametrize("broker", [None, "amqp://smsq:smsq@rabbitmq:5672/smsq"])
def test_every_smsq_service_reads_valid_settings_on_either_broker(broker: str | None) -> None:
    services = compose()["services"]
    given = {"SMSQ_BROKER_URL": broker} if broker else {}
    assert {"worker", "worker-high", "beat", "webhooks", "api"} <= set(smsq_services(services))
    assert services["api"]["command"][:3] == ["api", "--host", "0.0.0.0"]
    for name, service in smsq_services(services).items():
        env = interpolated(service["environment"], given)
        settings = Settings(_env_file=None, **{k.removeprefix("SMSQ_").lower(): v for k, v in env.items()
                                               if "__" not in k})  # type: ignore[arg-type]  # fmt: skip
        assert settings.broker_is_redis is (broker is None), name
    flower = " ".join(services["flower"]["command"])
    assert "--broker=${SMSQ_BROKER_URL:-redis://redis:6379/0}" in flower


def test_the_rabbitmq_profile_runs_the_server_the_documented_url_names() -> None:
    rabbitmq = compose()["services"]["rabbitmq"]
    assert rabbitmq["profiles"] == ["rabbitmq"]  # not started without the profile
    env = rabbitmq["environment"]
    url = f"amqp://{env['RABBITMQ_DEFAULT_USER']}:{env['RABBITMQ_DEFAULT_PASS']}@rabbitmq:5672/{env['RABBITMQ_DEFAULT_VHOST']}"
    assert f"SMSQ_BROKER_URL={url} docker compose --profile rabbitmq up" in COMPOSE.read_text()
    assert rabbitmq["healthcheck"]["test"][:2] == ["CMD", "rabbitmq-diagnostics"]
    assert "rabbitmq-data" in compose()["volumes"]


def test_the_tracing_profile_runs_the_receiver_the_settings_name() -> None:
    services = compose()["services"]
    jaeger = services["jaeger"]
    assert jaeger["profiles"] == ["tracing"]  # not started without the profile
    assert "4318:4318" in jaeger["ports"]  # OTLP/HTTP
    for name, service in smsq_services(services).items():
        off = interpolated(service["environment"], {})
        on = interpolated(service["environment"], {"SMSQ_TRACING__ENABLED": "true"})
        assert off["SMSQ_TRACING__ENABLED"] == "false", name
        tracing = Settings(
            _env_file=None,
            tracing={
                "enabled": on["SMSQ_TRACING__ENABLED"],  # type: ignore[call-arg]
                "endpoint": on["SMSQ_TRACING__ENDPOINT"],
            },
        ).tracing
        assert (tracing.enabled, tracing.endpoint) == (True, "http://jaeger:4318"), name
