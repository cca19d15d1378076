"""Reading the provider sandbox's state back through its admin API (/_admin)."""

from __future__ import annotations

import httpx


def blacklists(admin: httpx.Client) -> dict[str, set[str]]:
    """Each provider's blacklist as the sandbox holds it, in E.164."""
    raw = admin.get("/_admin/blacklists").json()
    return {
        "messente": set(raw["messente"]),
        "smsapi": {"+" + entry["phone_number"] for entry in raw["smsapi"]},
        "direct_messenger": {"+" + entry["receiver"] for entry in raw["dm"]},
    }
