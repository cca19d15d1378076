"""`smsq windows check NUMBER [--at TIME]`: may a marketing message reach this number then, and if
not, when next (smsq.producers.windows)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from smsq.config.settings import load_settings
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import UtcDatetime
from smsq.producers.messages.numbers import to_e164
from smsq.producers.windows.check import decide

app = typer.Typer(
    no_args_is_help=True, help="Marketing send windows: local hours, weekdays, public holidays."
)
console = Console(highlight=False, soft_wrap=True)


@app.command()
def check(
    number: Annotated[str, typer.Argument(help="the recipient, e.g. +33612345678")],
    at: Annotated[
        str | None, typer.Option(help="ISO-8601 time to decide for (no zone: UTC); default now")
    ] = None,
) -> None:
    """Explain the decision: the number's country and time zones, the rule, allowed or the next opening."""
    try:
        e164 = to_e164(number)
    except ValueError as error:
        raise InvalidInput([("number", str(error))]) from None
    when = datetime.now(UTC)
    if at is not None:
        from pydantic import TypeAdapter, ValidationError

        try:
            when = TypeAdapter(UtcDatetime).validate_python(at)
        except ValidationError as error:
            raise InvalidInput.from_validation_error(error, prefix="at") from None
    settings = load_settings().cost.windows
    decision = decide(e164, when, settings.rules)
    note = "" if settings.enabled else " (SMSQ_COST__WINDOWS__ENABLED is off: nothing is deferred)"
    console.print(decision.explain() + note)
