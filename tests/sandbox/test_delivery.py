from __future__ import annotations

import pytest

from smsq.sandbox.delivery import (
    OUTCOMES,
    ChannelPlan,
    OutcomeBook,
    Stage,
    Timeline,
    attempt_states,
    dlr_status_name,
    kannel_dlr_code,
    smsapi_status_name,
)

TIMELINE = Timeline(ack_after=1.0, final_after=3.0)


def plan(channel: str, outcome: str = "delivered") -> ChannelPlan:
    return ChannelPlan(channel, f"id-{channel}", "S", OUTCOMES[outcome])


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (99.0, [("sms", Stage.SCHEDULED, 100.0)]),
        (100.0, [("sms", Stage.PENDING, 100.0)]),
        (101.0, [("sms", Stage.ACCEPTED, 101.0)]),
        (103.0, [("sms", Stage.FINAL, 103.0), ("viber", Stage.PENDING, 103.0)]),
        (104.5, [("sms", Stage.FINAL, 103.0), ("viber", Stage.ACCEPTED, 104.0)]),
        (
            106.0,
            [("sms", Stage.FINAL, 103.0), ("viber", Stage.FINAL, 106.0), ("whatsapp", Stage.PENDING, 106.0)],
        ),
        (
            200.0,
            [("sms", Stage.FINAL, 103.0), ("viber", Stage.FINAL, 106.0), ("whatsapp", Stage.FINAL, 109.0)],
        ),
    ],
)
def test_failed_channels_hand_over_to_the_next_at_their_final_time(
    now: float, expected: list[tuple[str, Stage, float]]
) -> None:
    plans = [plan("sms", "failed"), plan("viber", "expired"), plan("whatsapp")]

    states = attempt_states(plans, start_at=100.0, now=now, timeline=TIMELINE)

    assert [(s.plan.channel, s.stage, s.changed_at) for s in states] == expected


def test_no_plans_no_states() -> None:
    assert attempt_states([], start_at=0.0, now=10.0, timeline=TIMELINE) == []


@pytest.mark.parametrize(
    ("stage", "channel", "messente", "smsapi", "kannel"),
    [
        (Stage.SCHEDULED, "sms", None, "QUEUE", None),
        (Stage.PENDING, "sms", None, "QUEUE", None),
        (Stage.ACCEPTED, "sms", "ACK", "SENT", "8"),
        (Stage.ACCEPTED, "viber", "ACCEPTD", "SENT", "8"),
        (Stage.FINAL, "sms", "UNDELIV", "UNDELIVERED", "2"),
    ],
)
def test_status_words_per_provider(
    stage: Stage, channel: str, messente: str | None, smsapi: str, kannel: str | None
) -> None:
    states = attempt_states(
        [plan(channel, "undeliverable")],
        0.0,
        {Stage.SCHEDULED: -1.0, Stage.PENDING: 0.5, Stage.ACCEPTED: 1.5, Stage.FINAL: 5.0}[stage],
        TIMELINE,
    )

    assert states[0].stage is stage
    assert (dlr_status_name(states[0]), smsapi_status_name(states[0]), kannel_dlr_code(states[0])) == (
        messente,
        smsapi,
        kannel,
    )


def test_outcome_book_matches_digits_and_prefers_the_channel_rule() -> None:
    book = OutcomeBook()
    book.set("+372 5123 4567", "failed")
    book.set("37251234567", "expired", channel="viber")

    assert book.outcome_for("+37251234567", "sms").name == "failed"
    assert book.outcome_for("37251234567", "viber").name == "expired"
    assert book.outcome_for("+37250000000", "sms").name == "delivered"
