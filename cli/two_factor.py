"""`smsq 2fa`: text a PIN through Direct Messenger 2FA and check what the user typed. A verification
that did not authenticate exits 1, so scripts can branch on it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from smsq.config.settings import load_settings
from smsq.producers.client import Smsq

app = typer.Typer(no_args_is_help=True, help="Two-factor PINs through Direct Messenger 2FA.")
console = Console()


@app.command("send")
def send(
    number: Annotated[str, typer.Argument(help="the recipient, in international form")],
    pin_length: Annotated[int | None, typer.Option(min=4, max=20, help="digits in the PIN")] = None,
) -> None:
    """Text a PIN; prints the session id to verify it with (valid 5 minutes)."""
    session = Smsq.from_settings(load_settings()).two_factor.send_code(number, pin_length=pin_length)
    console.print(f"{session.session_id} (sms {session.sms or '?'}, valid {session.expires_in} s)")


@app.command("verify")
def verify(
    session_id: Annotated[str, typer.Argument(help="what `smsq 2fa send` printed")],
    pin: Annotated[str, typer.Argument(help="the PIN the user typed")],
) -> None:
    """Check a PIN: prints the outcome (authenticated, mismatch, expired, ...)."""
    verdict = Smsq.from_settings(load_settings()).two_factor.verify(session_id, pin)
    console.print(f"{verdict.outcome}{': ' + verdict.detail if verdict.detail else ''}", highlight=False)
    if not verdict.authenticated:
        raise typer.Exit(1)
