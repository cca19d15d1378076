"""Number normalisation: any digit form, separators and prefix give the ASCII spelling's answer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smsq.producers.messages.numbers import listed_number, to_e164
from tests.fuzz.strategies import DIGIT_FORMS, SEPARATORS, VALID_NUMBERS


@st.composite
def respelled(draw: st.DrawFn) -> tuple[str, str]:
    """(an E.164 number, the same number in other digit forms, separators and prefix)."""
    number = draw(st.sampled_from(VALID_NUMBERS) | st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
    out = [draw(st.sampled_from(["+", "\uff0b", "00", ""]))]
    for digit in number[1:]:
        out.append(draw(st.sampled_from(DIGIT_FORMS[int(digit)])))
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from(SEPARATORS)))
    return number, "".join(out)


@given(pair=respelled())
def test_every_spelling_normalises_like_its_ascii_form(pair: tuple[str, str]) -> None:
    number, spelling = pair
    try:
        expected: str | None = to_e164(number)
    except ValueError:
        expected = None
    try:
        got: str | None = to_e164(spelling)
    except ValueError:
        got = None
    if spelling.startswith(("+", "\uff0b", "00")):
        assert got == expected, (number, spelling)
    else:  # no prefix: read as country code first, as the providers' lists write it
        assert got in (expected, None) or got == expected


@given(text=st.text(max_size=40))
def test_anything_is_e164_in_ascii_or_one_value_error(text: str) -> None:
    try:
        number = to_e164(text)
    except ValueError as error:
        assert "\n" not in str(error)
    else:
        assert number.isascii() and number[0] == "+" and number[1:].isdigit() and 8 <= len(number) <= 16
    listed = listed_number(text)
    assert listed.isascii() or not any(ch.isdigit() for ch in text) or listed == text.strip()
