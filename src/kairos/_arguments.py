"""Checks of the arguments of public calls: every mistake becomes one
:class:`~kairos.errors.ValidationError` that names each bad argument, raised before any work.

A :class:`Arguments` collects the problems of one call, so that a user fixing a call learns all of
them at once::

    args = Arguments("KairosClient()")
    timeout = args.number("timeout", timeout, above=0)
    retries = args.integer("max_retries", max_retries, minimum=0)
    args.check()                      # raises ValidationError listing every problem
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import pydantic

from kairos.errors import Issue, ValidationError

__all__ = ["Arguments", "describe", "from_pydantic", "show_int"]


def describe(value: object) -> str:
    """A short, safe description of a wrong value for a message: ``'30' (str)``."""
    text = show_int(value) if isinstance(value, int) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def show_int(value: int) -> str:
    """An integer for a message; one too long to print by its size."""
    if value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    return repr(value)


class Arguments:
    """The problems found in the arguments of one call (``where``, e.g. ``"sweep()"``)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.issues: list[Issue] = []

    def add(self, name: str, message: str) -> None:
        """Record that argument ``name`` is wrong."""
        self.issues.append(Issue(name, message))

    def check(self) -> None:
        """Raise :class:`ValidationError` if any problem was recorded."""
        if self.issues:
            count = len(self.issues)
            noun = "argument" if count == 1 else "arguments"
            raise ValidationError(self.issues, f"Invalid {noun} for {self.where}")

    def integer(
        self, name: str, value: object, *, minimum: int | None = 1, maximum: int | None = None
    ) -> int:
        """``value`` as an int within the bounds (a bool is not an integer here)."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(name, f"must be an integer{_bounds(minimum, maximum)}, got {describe(value)}")
            return minimum if minimum is not None else 0
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.add(name, f"must be an integer{_bounds(minimum, maximum)}, got {show_int(value)}")
        return value

    def number(
        self,
        name: str,
        value: object,
        *,
        above: float | None = None,
        minimum: float | None = None,
        none: bool = False,
    ) -> float | None:
        """``value`` as a finite float ``> above`` (or ``>= minimum``); None allowed if
        ``none``."""
        rule = (
            f" > {above:g}"
            if above is not None
            else f" >= {minimum:g}"
            if minimum is not None
            else ""
        )
        alternative = " (or None)" if none else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._wrong_type(name, value, f"a number{rule}{alternative}", none)
            return None
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            number = math.inf
        if (
            not math.isfinite(number)
            or (above is not None and not number > above)
            or (minimum is not None and not number >= minimum)
        ):
            self.add(name, f"must be a finite number{rule}{alternative}, got {value!r}")
            return None
        return number

    def boolean(self, name: str, value: object, *, none: bool = False) -> bool | None:
        """``value``, which must be True or False (or None if ``none``)."""
        if isinstance(value, bool):
            return value
        self._wrong_type(name, value, "True, False or None" if none else "True or False", none)
        return None

    def choice(self, name: str, value: object, choices: tuple[str, ...]) -> str | None:
        """``value``, which must be one of ``choices``."""
        if isinstance(value, str) and value in choices:
            return value
        listed = ", ".join(repr(c) for c in choices)
        self.add(name, f"must be one of {listed}, got {describe(value)}")
        return None

    def string(self, name: str, value: object, *, none: bool = True) -> str | None:
        """``value``, a non-blank string (or None if ``none``)."""
        if not isinstance(value, str):
            self._wrong_type(name, value, "a string or None" if none else "a string", none)
            return None
        if not value.strip():
            self.add(name, "must not be blank")
            return None
        return value

    def header_value(self, name: str, value: object, *, none: bool = True) -> str | None:
        """A string that can be sent in an HTTP header: printable ASCII, one line."""
        text = self.string(name, value, none=none)
        if text is not None and not _header_safe(text):
            self.add(name, "must be printable ASCII on one line (it is sent in an HTTP header)")
            return None
        return text

    def headers(self, name: str, value: object) -> dict[str, str]:
        """A mapping of header names to values, both strings that HTTP can carry."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(name, f"must be a mapping of header names to values, got {describe(value)}")
            return {}
        out: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or not all(_token_char(c) for c in key):
                self.add(f"{name}[{key!r}]", "is not a valid HTTP header name")
                continue
            text = self.header_value(f"{name}[{key!r}]", item, none=False)
            if text is not None:
                out[key] = text
        return out

    def path(
        self, name: str, value: object, *, none: bool = True, new: bool = False
    ) -> str | os.PathLike[str] | None:
        """A file path to write: a str or ``os.PathLike``, whose directory exists and that is
        not a directory itself (nor an existing file, with ``new``)."""
        if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
            self._wrong_type(name, value, "a file path (str or pathlib.Path)", none)
            return None
        text = os.fspath(value)
        if not isinstance(text, str) or not text.strip():
            self.add(name, f"must be a file path, got {describe(value)}")
            return None
        if os.path.isdir(text) or text.endswith(("/", os.sep)):
            self.add(name, f"{text!r} is a directory, not a file")
            return None
        parent = os.path.dirname(os.path.abspath(text))
        if not os.path.isdir(parent):
            self.add(name, f"the directory of {text!r} does not exist")
            return None
        if new and os.path.lexists(text):
            self.add(name, f"{text!r} exists; remove it or choose another path")
            return None
        return value

    def _wrong_type(self, name: str, value: object, wanted: str, none: bool) -> None:
        """Record that ``value`` is not ``wanted``, unless it is None and ``none`` allows it."""
        if value is not None or not none:
            self.add(name, f"must be {wanted}, got {describe(value)}")

    def function(self, name: str, value: object) -> None:
        """``value`` is None or callable."""
        if value is not None and not callable(value):
            self.add(name, f"must be a function (or None), got {describe(value)}")


def from_pydantic(
    exc: pydantic.ValidationError, where: str, *, prefix: str = ""
) -> ValidationError:
    """A pydantic error about the arguments of ``where`` as a :class:`ValidationError` whose
    issues name the arguments (``ticks``, ``scenario.models[0].capabilityIndex``)."""
    issues = []
    for error in exc.errors(include_url=False):
        path = prefix
        for part in error["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif not str(part).startswith(("function-", "tagged-union", "union")):
                path += f".{part}" if path else str(part)
        message = error["msg"]
        value = error.get("input")
        if error["type"] not in ("missing", "extra_forbidden") and isinstance(
            value, (int, float, str, bool, type(None))
        ):
            message = f"{message}, got {describe(value)}"
        issues.append(Issue(path or "(input)", message))
    count = len(issues)
    return ValidationError(
        issues, f"Invalid {'argument' if count == 1 else 'arguments'} for {where}"
    )


def _bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" between {minimum} and {maximum}"
    if minimum is not None:
        return " >= 1" if minimum == 1 else f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _header_safe(text: str) -> bool:
    return all(" " <= c <= "~" or c == "\t" for c in text)


def _token_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "!#$%&'*+-.^_`|~")
