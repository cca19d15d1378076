"""A campaign's per-recipient SMS parts (smsq.producers.cost.parts): the fast path (lengths only)
always agrees with rendering the text and counting it in full."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsq.producers.campaigns.model import parse_template
from smsq.producers.cost.parts import NO_SMS, PartsCounter
from smsq.producers.messages.segments import count


def counter(text: str, **part: str) -> PartsCounter:
    template = parse_template({"messages": [{"channel": "sms", "text": text, **part}]})
    return PartsCounter.of(template, template.variables())


@pytest.mark.parametrize(
    ("text", "values", "parts"),
    [
        ("Sale today", (), (1, False)),
        ("Hi %name%, 20%% off", ("Ann",), (1, False)),
        ("Hi %name%", ("x" * 157,), (1, False)),
        ("Hi %name%", ("x" * 158,), (2, False)),
        ("Hi %name%", ("René",), (1, False)),  # é is GSM-7
        ("Hi %name%", ("Zoë",), (1, True)),  # ë is not
        ("Hi %name%", ("Łukasz",), (1, True)),  # Ł is not: rendered and counted in full
        ("Hi %name% {%name%}", ("€" * 38,), (1, False)),  # extension characters: the full count, 160
        ("Hi %name% {%name%}", ("€" * 39,), (2, False)),
        ("It\u2019s %name%", ("x" * 65,), (1, True)),
        ("It\u2019s %name%", ("x" * 66,), (2, True)),
        # Two variables: their lengths added (the single-variable shortcut is not taken).
        ("%a% and %b%", ("x" * 80, "y" * 75), (1, False)),
        ("%a% and %b%", ("x" * 80, "y" * 76), (2, False)),
        ("%a% and %b%", ("x" * 300, "y"), (2, False)),  # 306 septets: two parts of 153
        ("%a% and %b%", ("x" * 300, "yy"), (3, False)),
        ("%a% and %b%", ("x" * 300, "y" * 155), (4, False)),
        ("%a% and %b%", ("x", "ë"), (1, True)),
        ("%a% %a%", ("x" * 79,), (1, False)),
        ("%a% %a%", ("x" * 80,), (2, False)),
    ],
)
def test_parts(text: str, values: tuple[str, ...], parts: tuple[int, bool]) -> None:
    assert counter(text).parts(values) == parts


def test_a_template_without_sms_counts_nothing() -> None:
    template = parse_template({"messages": [{"channel": "viber", "text": "hi %name%"}]})
    assert PartsCounter.of(template, ["name"]).parts(("Ann",)) == NO_SMS


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="abc %€\u2019😀", max_size=80),
    st.text(alphabet="xyz€é\u2019😀\n", max_size=200),
    st.sampled_from([None, "050003CC0201"]),
)
def test_the_fast_path_agrees_with_the_full_count(literal: str, value: str, udh: str | None) -> None:
    text = literal.replace("%", "%%") + "%v%" + literal.replace("%", "%%")
    part = {"udh": udh} if udh else {}
    template = parse_template(
        {"messages": [{"channel": "sms", "text": text, **part}]},
    )
    parts_counter = PartsCounter.of(template, ["v"])
    rendered = literal + value + literal
    full = count(rendered, udh=udh)
    assert parts_counter.parts((value,)) == (full.segments, full.encoding == "UCS-2")


def test_a_counter_answers_the_same_tuple_for_the_same_parts() -> None:
    """One shared (parts, False) per count: a pickled chunk writes repeats as back-references."""
    parts_counter = counter("Hi %name%")
    assert parts_counter.parts(("Ann",)) is parts_counter.parts(("Bob",))
