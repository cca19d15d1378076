"""`smsq callbacks`: the events sent (or being sent, or dead-lettered) to the apps' callback URLs,
replaying them, and a key's signing secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smsq.config.settings import Settings, load_settings
from smsq.producers.callbacks.events import CallbackEvents, Event
from smsq.producers.callbacks.targets import callback_signing_secret
from smsq.producers.core.connection import state_client
from smsq.producers.core.keys import Keys
from smsq.producers.core.queries import parse_time
from smsq.producers.errors import InvalidInput
from smsq.producers.keys.store import KeyStore

app = typer.Typer(no_args_is_help=True, help="Callbacks to the apps: list, replay, signing secrets.")
console = Console()
DAY = 86400


def _events(settings: Settings) -> CallbackEvents:
    client = state_client(settings, bounded=True)
    return CallbackEvents(client, Keys(settings.key_prefix), keep_seconds=settings.callbacks.keep_days * DAY)


def _since_ms(since: str | None) -> int:
    return 0 if since is None else int(parse_time(since, "since").timestamp() * 1000)


@app.command("list")
def list_events(
    dead: Annotated[bool, typer.Option("--dead", help="dead-lettered events only")] = False,
    since: Annotated[str | None, typer.Option(help="ISO-8601, no zone = UTC")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The newest events, newest first: id, what happened, delivery state, attempts, last answer."""
    found = _events(load_settings()).recent(since_ms=_since_ms(since), limit=limit, dead=dead)
    if as_json:
        console.print_json(json.dumps([_as_dict(event) for event in found]))
        return
    table = Table("event (webhook-id)", "type", "at", "state", "attempts", "last result")
    for event in found:
        last = event.fields.get("last_result", "")
        table.add_row(event.id, event.type, _at(event), event.state, str(event.attempts), last)
    console.print(table)


@app.command("replay")
def replay(
    event_id: Annotated[str | None, typer.Argument(help="an event id, as `list` shows it")] = None,
    since: Annotated[
        str | None, typer.Option(help="every event since this time (ISO-8601, no zone = UTC)")
    ] = None,
) -> None:
    """Deliver an event (or every event since a time) again, with fresh attempts and the same
    webhook-id, whatever its state: dead-lettered ones after a receiver was fixed, delivered ones
    for an app that lost them."""
    if (event_id is None) == (since is None):
        raise InvalidInput([("replay", "give an event id or --since TIME (one of them)")])
    settings = load_settings()
    events = _events(settings)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    if event_id is not None:
        event = events.replay_one(event_id, now_ms)
        console.print(f"replaying {event.id} ({event.type}): due now")
        return
    ids = events.since(_since_ms(since))
    console.print(f"replaying {events.replay(ids, now_ms)} events since {since}")


@app.command("secret")
def secret(key: Annotated[str, typer.Argument(help="the API key's id")]) -> None:
    """The key's signing secret (whsec_...): what its receiver verifies callbacks with."""
    settings = load_settings()
    store = KeyStore.from_settings(settings)
    found = store.get(key)
    if found is None:
        raise InvalidInput([("key", f"{key!r} is no key id")])
    console.print(
        callback_signing_secret(store.redis, store.keys, found.key_id), highlight=False, soft_wrap=True
    )


def _at(event: Event) -> str:
    return datetime.fromtimestamp(event.at_ms / 1000, UTC).isoformat(timespec="seconds")


def _as_dict(event: Event) -> dict[str, object]:
    return {
        "id": event.id, "type": event.type, "at": _at(event), "state": event.state,
        "attempts": event.attempts, "last_result": event.fields.get("last_result") or None,
        "key_id": event.key_id, "payload": event.payload(),
    }  # fmt: skip
