"""`smsq segments TEXT`: how an SMS text is encoded and how many parts it is billed as, and which
character forced UCS-2 (smsq.producers.messages.segments)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from smsq.config.limits import LimitSettings, TextLimits
from smsq.config.settings import load_settings
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import Sms

console = Console(highlight=False, soft_wrap=True)
# Counting only: any length is shown, never refused (sending it is what the limits guard).
_COUNT_ANYTHING = LimitSettings(text=TextLimits(sms_segments=255, sms_chars=100_000))


def segments(
    text: Annotated[str, typer.Argument(help="the SMS text (quote it)")],
    autoconvert: Annotated[
        str | None, typer.Option(help="Messente's autoconvert: on (its default), full or off")
    ] = None,
    udh: Annotated[str | None, typer.Option(help="hex UDH sent with every part")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the counts as JSON")] = False,
) -> None:
    """Encoding, parts and characters of an SMS text; with UCS-2, the character that forced it."""
    auto_replace = load_settings().cost.auto_replace
    try:  # the same checks a message's SMS part gets (autoconvert's values, udh's hex)
        part = Sms.model_validate(
            {"text": text, "autoconvert": autoconvert, "udh": udh},
            context={"limits": _COUNT_ANYTHING, "auto_replace": auto_replace},
        )
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error) from None
    result = part.segments(auto_replace)
    if as_json:
        shown: dict[str, object] = {**result.as_dict(), "units": result.units, "per_part": result.per_part}
        if result.forced_by is not None:
            shown |= {"forced_by": result.forced_by, "forced_at": result.forced_at}
        console.print(json.dumps(shown, ensure_ascii=False))
    else:
        console.print(result.explain())
