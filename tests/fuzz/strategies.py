"""Hostile inputs, shared by the fuzz properties: near-valid structures with odd values mixed in."""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import strategies as st

# Every Unicode decimal digit, by value: the forms a number may be written in.
DIGIT_FORMS: dict[int, list[str]] = {}
for code in range(0x110000):
    char = chr(code)
    if unicodedata.category(char) == "Nd":
        DIGIT_FORMS.setdefault(unicodedata.decimal(char), []).append(char)

SEPARATORS = [" ", "-", ".", "/", "\u00a0", "\u2011", "\u2013", "\u3000"]
ODD_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\n", "\x00", "abc\n", "\udcff", "\u202e", "%s", "{}", "[" * 50, "9" * 5000]),
)
ODD_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**20, max_value=10**40),
    st.floats(allow_nan=True), ODD_TEXT,
)  # fmt: skip
JSONISH: Any = st.recursive(
    ODD_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip

VALID_NUMBERS = ["+37251234567", "+48500123456", "+447911123456", "+14155552671", "+4915123456789"]


def maybe(value: Any) -> Any:
    """The value itself, usually; sometimes something hostile in its place."""
    return st.one_of(st.just(value), st.just(value), st.just(value), JSONISH)


@st.composite
def channel(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["sms", "viber", "whatsapp", "telegram", "rcs", "SMS"]))
    part: dict[str, Any] = {"channel": kind}
    if kind in ("sms", "viber", "telegram", "SMS"):
        part["text"] = draw(maybe(draw(st.text(min_size=1, max_size=200))))
    elif kind == "whatsapp":
        part["text"] = draw(maybe({"body": draw(st.text(min_size=1, max_size=50))}))
    for name, value in (("sender", draw(st.sampled_from(["Acme", "Acme\n", "+3725", "x" * 12, ""]))),
                        ("ttl", draw(st.integers(min_value=-5, max_value=10**7))),
                        ("validity", draw(st.integers(min_value=-5, max_value=10**6)))):  # fmt: skip
        if draw(st.booleans()):
            part[name] = draw(maybe(value))
    if draw(st.integers(0, 9)) == 0:
        part[draw(ODD_TEXT)] = draw(JSONISH)
    return part


@st.composite
def omnimessage(draw: st.DrawFn) -> Any:
    message: dict[str, Any] = {
        "to": draw(maybe(draw(st.sampled_from(VALID_NUMBERS)))),
        "messages": draw(maybe(draw(st.lists(channel(), min_size=1, max_size=3)))),
    }
    optional = {
        "priority": st.sampled_from(["low", "regular", "high", "urgent"]),
        "text_store": st.sampled_from(["plaintext", "sha256", "nostore", "x"]),
        "time_to_send": st.sampled_from(["2030-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                                         "9999-12-31T23:59:59-01:00", "not a date", "2020-02-30T00:00"]),
        "dlr_url": st.sampled_from(["https://example.com/dlr", "ftp://x", "http://" + "a" * 3000]),
    }  # fmt: skip
    for name, values in optional.items():
        if draw(st.booleans()):
            message[name] = draw(maybe(draw(values)))
    return draw(st.one_of(st.just(message), st.just(message), st.just(message), JSONISH))
