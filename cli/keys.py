"""`smsq keys`: create, list and revoke the HTTP API's keys. A key's secret is printed once, at
creation; Redis keeps only its hash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smsq.config.settings import load_settings
from smsq.producers.callbacks.targets import callback_signing_secret
from smsq.producers.callbacks.urls import check_callback_url
from smsq.producers.keys.store import SCOPE_NAMES, ApiKey, KeyStore

app = typer.Typer(no_args_is_help=True, help="API keys for `smsq api` (Authorization: Bearer <key>).")
console = Console()


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="what the key is for, e.g. the app's name")],
    scopes: Annotated[str, typer.Option(help=f"comma-separated: {','.join(SCOPE_NAMES)}")] = "send,read",
    rate: Annotated[str, typer.Option(help="its own limit, e.g. 50/s, 600/m (default: none)")] = "",
    test: Annotated[bool, typer.Option("--test", help="a test key: the simulated provider sends")] = False,
    callback_url: Annotated[str | None, typer.Option(help="where status changes are POSTed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create a key and print its secret (shown this once only)."""
    settings = load_settings()
    store = KeyStore.from_settings(settings)
    created = store.create(
        name, scopes, rate=rate, test=test, callback_url=callback_url,
        check_callback_url=lambda url: check_callback_url(url, settings.callbacks),
    )  # fmt: skip
    # The callbacks' Standard Webhooks signing secret (whsec_...), made with the URL.
    signing = callback_signing_secret(store.redis, store.keys, created.key.key_id) if callback_url else None
    if as_json:
        console.print_json(
            json.dumps({**_as_dict(created.key), "secret": created.secret, "callback_secret": signing})
        )
        return
    console.print(f"key {created.key.key_id} ({created.key.name}) created; its secret, shown once:")
    console.print(created.secret, highlight=False, soft_wrap=True)
    if signing:
        console.print("callbacks are signed with (verify them with a standardwebhooks library):")
        console.print(signing, highlight=False, soft_wrap=True)


@app.command("list")
def list_keys(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Every key: id, name, visible prefix, scopes, limit, test, created, last used, revoked."""
    keys = KeyStore.from_settings(load_settings()).all()
    if as_json:
        console.print_json(json.dumps([_as_dict(key) for key in keys]))
        return
    table = Table("id", "name", "prefix", "scopes", "rate", "test", "created", "last used", "revoked")
    for key in keys:
        table.add_row(
            key.key_id, key.name, key.prefix + "...", ",".join(sorted(key.scopes)), key.rate or "-",
            "yes" if key.test else "", _time(key.created_ms), _time(key.last_used_ms), _time(key.revoked_ms),
        )  # fmt: skip
    console.print(table)


@app.command("revoke")
def revoke(key: Annotated[str, typer.Argument(help="the key id, or the secret's visible prefix")]) -> None:
    """Revoke a key: it stops working at once on every API process."""
    revoked = KeyStore.from_settings(load_settings()).revoke(key)
    console.print(f"key {revoked.key_id} ({revoked.name}) revoked")


def _as_dict(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id, "name": key.name, "prefix": key.prefix, "scopes": sorted(key.scopes),
        "rate": key.rate or None, "test": key.test, "callback_url": key.callback_url,
        "created_ms": key.created_ms, "last_used_ms": key.last_used_ms, "revoked_ms": key.revoked_ms,
    }  # fmt: skip


def _time(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ms else "-"
