"""What a campaign costs against the spend caps (issue 16): each recipient's SMS parts counted as
it is stored, and the whole campaign charged once, after its records are counted and before any
batch is queued, whatever it was made from (a list, a CSV, phonebook groups)."""

from __future__ import annotations

from smsq.config.cost_settings import CostSettings
from smsq.producers.campaigns.model import CampaignTemplate
from smsq.producers.core.store import MessageStore
from smsq.producers.cost.caps import cap_charges, charge_now
from smsq.producers.cost.parts import PartsCounter
from smsq.producers.cost.tally import Tally


def parts_counter(cost: CostSettings, template: CampaignTemplate) -> PartsCounter | None:
    """Each recipient's SMS parts are counted unless SMSQ_COST__ENABLED is off."""
    return PartsCounter.of(template, template.variables(), cost.auto_replace) if cost.enabled else None


def charge_campaign(store: MessageStore, cost: CostSettings, tally: Tally, key_id: str | None) -> None:
    """Charge the campaign's parts (and cost where priced) to the global and the key's caps at once:
    a refusal raises ``CapExceeded`` and the caller undoes the campaign."""
    if not cost.enabled:
        return
    charges = cap_charges(
        cost,
        store.keys,
        key_id=key_id,
        segments=tally.total_segments,
        cost_micros=tally.cost_micros,
        now_s=store.now_ms() / 1000,
    )
    charge_now(store, charges, cost.warn_at)
