"""Serving the receiver: `smsq webhooks --port N` runs this under uvicorn."""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette

from smsq.config import contract as names
from smsq.config.celery import make_celery
from smsq.config.contract import DeliveryReport
from smsq.config.settings import Settings
from smsq.producers.errors import SmsqError
from smsq.producers.publisher import CeleryPublisher
from smsq.workers.webhooks.app import create_webhook_app


def build_app(settings: Settings) -> Starlette:
    if not settings.webhooks.secret.get_secret_value():
        raise SmsqError("SMSQ_WEBHOOKS__SECRET is not set: every delivery report would be refused")
    publisher = CeleryPublisher(make_celery(settings))

    def publish(report: DeliveryReport) -> None:
        publisher.publish(names.DELIVERY_REPORT_TASK, report, names.STATUS)

    return create_webhook_app(settings.webhooks, publish, settings.limits)


def run_webhooks(settings: Settings, host: str, port: int) -> None:
    # No access log: every callback path carries a token.
    uvicorn.run(build_app(settings), host=host, port=port, log_level="warning", access_log=False)
