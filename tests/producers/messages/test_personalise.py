"""Local %var% rendering with Direct Messenger's Personal API rules."""

from __future__ import annotations

import pytest

from smsq.producers.errors import InvalidInput, SmsqError
from smsq.producers.messages.personalise import MissingVariable, placeholders, render


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        (
            "Foo %my_var% Bar %second_var%",
            {"my_var": "variable", "second_var": "another variable"},
            "Foo variable Bar another variable",
        ),
        ("Foo %var% Bar", {"var": "variable"}, "Foo variable Bar"),
        ("%a%%b%", {"a": "1", "b": "2"}, "12"),
        ("Hi %name%, hi again %name%", {"name": "Mari"}, "Hi Mari, hi again Mari"),
        ("Code %code1%", {"code1": 1234}, "Code 1234"),
        ("empty: [%x%]", {"x": ""}, "empty: []"),
        ("no placeholders", {}, "no placeholders"),
        ("unused variables are fine", {"x": "1"}, "unused variables are fine"),
    ],
)
def test_placeholders_are_filled(template: str, variables: dict[str, object], expected: str) -> None:
    assert render(template, variables) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("50% off", "50% off"),
        ("100 % sure", "100 % sure"),
        ("ends with %", "ends with %"),
        ("% starts", "% starts"),
        ("a % b % c", "a % b % c"),
        ("%%", "%"),
        ("save 10%%today%%", "save 10%today%"),
        ("100%% %name%", "100% Mari"),
        ("%1st%", "%1st%"),
        ("%first name%", "%first name%"),
    ],
)
def test_percent_rules(template: str, expected: str) -> None:
    assert render(template, {"name": "Mari"}) == expected


def test_values_are_not_rendered_again() -> None:
    assert render("Hi %name%", {"name": "%other%", "other": "x"}) == "Hi %other%"


def test_names_are_case_sensitive() -> None:
    with pytest.raises(MissingVariable) as caught:
        render("Hi %Name%", {"name": "Mari"})
    assert caught.value.names == ("Name",)


def test_a_missing_variable_is_an_error_naming_it() -> None:
    with pytest.raises(MissingVariable) as caught:
        render("Hi %first_name% %last_name%, code %code%", {"code": "1"})
    error = caught.value
    assert error.names == ("first_name", "last_name")
    assert error.problems == [
        ("variables.first_name", "no value for %first_name%"),
        ("variables.last_name", "no value for %last_name%"),
    ]
    assert "first_name" in str(error) and "last_name" in str(error)


def test_a_none_value_counts_as_missing() -> None:
    with pytest.raises(MissingVariable) as caught:
        render("Hi %name%", {"name": None})
    assert caught.value.names == ("name",)


def test_missing_variable_joins_the_error_tree() -> None:
    error = MissingVariable(["x"])
    assert isinstance(error, InvalidInput) and isinstance(error, SmsqError) and isinstance(error, ValueError)


def test_placeholders_lists_each_name_once_in_order() -> None:
    assert placeholders("%b% %a% %b% %% 50% %c%") == ["b", "a", "c"]
