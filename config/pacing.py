"""How requests are paced against a provider's limit and how a 429 moves the rate (AIMD): settings
for smsq.workers.limits.ratelimit and the event loop (README "Lanes, scheduling, rate limits and
failover")."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PacingSettings(BaseModel):
    # Requests are paced this fraction below each provider's rate_per_second: the room a far-end
    # limiter needs for the loop's and the network's jitter (a fixed one-second window at 150/s
    # takes 3 requests more than 147 arrive in a second).
    margin: float = Field(0.02, ge=0, lt=0.5)
    # A request that cannot leave within this many seconds of its slot is not sent late (it would
    # arrive with the ones on time) but goes back to wait, no attempt spent. At most the margin's
    # share of one second, or a late request could tip a one-second window over.
    late_after: float = Field(0.015, gt=0, le=1)
    # AIMD, shared by every worker through Redis: a 429 multiplies the rate by `decrease` (at most
    # once per `hold_seconds`: the other requests already on their way get 429s too), and it climbs
    # back by `recover` of the paced rate per second, never below `floor` of it.
    decrease: float = Field(0.8, gt=0, lt=1)
    recover: float = Field(0.02, gt=0, le=1)
    floor: float = Field(0.1, gt=0, le=1)
    hold_seconds: float = Field(1.0, ge=0)
