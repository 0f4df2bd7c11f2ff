"""``kairos._arguments.Arguments``: each check's message for a value of the wrong type, and None
accepted exactly where ``none`` allows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kairos._arguments import Arguments
from kairos.errors import ValidationError


def messages(check: str, value: object, **options: Any) -> list[str]:
    args = Arguments("f()")
    getattr(args, check)("x", value, **options)
    return [issue.message for issue in args.issues]


@pytest.mark.parametrize(
    ("check", "value", "options", "expected"),
    [
        ("boolean", "yes", {}, "must be True or False, got 'yes' (str)"),
        ("boolean", None, {}, "must be True or False, got None (NoneType)"),
        ("boolean", 1, {"none": True}, "must be True, False or None, got 1 (int)"),
        ("string", 3, {}, "must be a string or None, got 3 (int)"),
        ("string", None, {"none": False}, "must be a string, got None (NoneType)"),
        ("number", "1", {"above": 0}, "must be a number > 0, got '1' (str)"),
        ("number", None, {}, "must be a number, got None (NoneType)"),
        (
            "number",
            True,
            {"minimum": 1, "none": True},
            "must be a number >= 1 (or None), got True (bool)",
        ),
        ("path", b"a", {}, "must be a file path (str or pathlib.Path), got b'a' (bytes)"),
        (
            "path",
            None,
            {"none": False},
            "must be a file path (str or pathlib.Path), got None (NoneType)",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_what_was_wanted(
    check: str, value: object, options: dict[str, Any], expected: str
) -> None:
    assert messages(check, value, **options) == [expected]


@pytest.mark.parametrize(
    ("check", "options"),
    [("boolean", {"none": True}), ("string", {}), ("number", {"none": True}), ("path", {})],
)
def test_none_passes_where_allowed_and_gives_none(check: str, options: dict[str, Any]) -> None:
    args = Arguments("f()")
    assert getattr(args, check)("x", None, **options) is None
    assert args.issues == []


def test_good_values_come_back_and_check_raises_one_error_for_all_problems(
    tmp_path: Path,
) -> None:
    args = Arguments("f()")
    assert args.boolean("a", False) is False
    assert args.string("b", "text") == "text"
    assert args.number("c", 2, above=0) == 2.0
    target = tmp_path / "out.json"
    assert args.path("d", target) == target
    args.check()
    args.string("e", " ")
    args.boolean("f", "no")
    with pytest.raises(ValidationError) as caught:
        args.check()
    assert "Invalid arguments for f()" in str(caught.value)
    assert [issue.message for issue in caught.value.issues] == [
        "must not be blank",
        "must be True or False, got 'no' (str)",
    ]
