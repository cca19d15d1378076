"""A campaign's dry run: the same parsing, deduplication and blacklist check as its creation, the
SMS parts and cost added up, and nothing stored (``Campaigns.dry_run``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smsq.producers.cost.parts import PartsCounter
from smsq.producers.cost.tally import Tally

if TYPE_CHECKING:  # expansion imports this package's modules: no cycle at run time
    from smsq.producers.campaigns.expansion import Expander, Expansion, Row


def estimate(
    expander: Expander,
    rows: Iterable[Row],
    variables: Sequence[str],
    counter: PartsCounter,
    tally: Tally,
    *,
    expected: int | None,
    workers: int | None,
) -> Expansion:
    """Count what ``Expander.store_messages`` would store, storing nothing."""
    from smsq.producers.campaigns.expansion import Expansion, parsed_chunks

    result = Expansion()
    seen: set[str] = set()
    # The campaign id only names the message ids, which a dry run never uses.
    for chunk in parsed_chunks(
        rows, "0" * 32, variables, expected=expected, workers=workers, counter=counter
    ):
        fresh = []
        for position, number, reason, _, _, parts in chunk:
            if (admitted := result.admit(seen, position, number, reason)) is not None:
                fresh.append((admitted, parts))
        blocked = expander.blacklist.blocked_among([number for number, _ in fresh])
        tally.add_all(fresh, blocked)
        result.messages += len(fresh)
        result.blocked += len(blocked)
    return result


@dataclass(frozen=True)
class DryRun:
    """What creating the campaign would do; nothing was stored."""

    name: str
    recipients: int  # lines or entries read
    messages: int  # messages that would be created, blocked ones included
    blocked: int  # on the blacklist: created as blocked, never sent
    skipped: dict[str, int]  # reason -> count
    estimate: dict[str, Any]  # Tally.report(): parts by encoding, cost by country, total

    @classmethod
    def of(cls, name: str, expansion: Expansion, tally: Tally) -> DryRun:
        return cls(
            name,
            expansion.recipients,
            expansion.messages,
            expansion.blocked,
            dict(expansion.skipped),
            tally.report(),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "recipients": self.recipients,
            "messages": self.messages,
            "blocked": self.blocked,
            "to_send": self.messages - self.blocked,
            "skipped": self.skipped,
            **self.estimate,
        }
