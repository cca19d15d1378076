"""`smsq status` (one message or a campaign) and `smsq summary`: reads through the producer API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from smsq.cli.render import counts_table, result_table
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from smsq.producers.core.queries import parse_time
from smsq.producers.errors import InvalidInput


def show_status(
    console: Console, settings: Settings, message_id: str | None, *, campaign: str | None, as_json: bool
) -> None:
    if (message_id is None) == (campaign is None):
        raise InvalidInput([("status", "give a message id or --campaign ID (one of them)")])
    smsq = Smsq.from_settings(settings)
    if campaign is not None:
        counts = smsq.campaign_counts(campaign)
        if as_json:
            console.print_json(json.dumps({"campaign_id": campaign, "counts": counts}))
        else:
            console.print(counts_table(counts, f"campaign {campaign}"))
        return
    assert message_id is not None
    result = smsq.result(message_id)
    if as_json:
        console.print_json(result.model_dump_json())
    else:
        console.print(result_table(result))


def show_summary(
    console: Console, settings: Settings, since: str | None, until: str | None, *, as_json: bool
) -> None:
    end = parse_time(until, "--until") if until else datetime.now(UTC)
    start = parse_time(since, "--since") if since else end - timedelta(days=1)
    summary = Smsq.from_settings(settings).summary(start, end)
    if as_json:
        body = {
            "since": summary.since.isoformat(),
            "until": summary.until.isoformat(),
            "counts": summary.counts,
        }
        console.print_json(json.dumps(body))
        return
    title = f"messages created {summary.since:%Y-%m-%d %H:%M} - {summary.until:%Y-%m-%d %H:%M} UTC"
    console.print(counts_table(summary.counts, title))
