"""JSON encoding and decoding for the tRPC wire, and the ``ABSENT`` marker for undefined values.

tRPC is a JavaScript protocol, so it tells ``undefined`` (a key left out, a GET without
``?input=``, an empty POST body) apart from ``null``. Python has no ``undefined``; :data:`ABSENT`
stands in for it everywhere in this package, and ``None`` always means JSON ``null``.

Encoding uses the stdlib :mod:`json` with compact separators (the bytes ``JSON.stringify``
produces) and ``ensure_ascii=True``: non-ASCII text travels as ``\\uXXXX`` escapes, which every
JSON parser reads and which keeps lone surrogates (valid in JavaScript strings) encodable.
``NaN`` and the infinities are refused in both directions, as ``JSON.parse`` refuses them.
Decoding never lets a raw exception out: callers get a :class:`JSONDecodeFailure` value.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ABSENT",
    "Absent",
    "JSONDecodeFailure",
    "JSONEncodeError",
    "RawJSON",
    "decode_json",
    "encode_json",
    "excerpt",
]


class Absent(enum.Enum):
    """The type of :data:`ABSENT`; an enum so that type checkers can narrow on ``is ABSENT``."""

    ABSENT = "ABSENT"

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = Absent.ABSENT
"""A value that is not there at all (JavaScript ``undefined``), as opposed to JSON ``null``."""


class JSONEncodeError(ValueError):
    """A value cannot be sent as JSON (NaN, an infinity, or a type JSON does not have)."""


@dataclass(frozen=True)
class JSONDecodeFailure:
    """Text that is not one JSON value; ``message`` says why, in words fit for an error shape."""

    message: str


@dataclass(frozen=True, slots=True)
class RawJSON:
    """JSON text to send as it is, not decoded and encoded again (trace steps as stored, say).

    Whoever wraps the text vouches that it is one valid JSON value. :func:`encode_json` gives the
    text back; the subscription encoders of each wire splice it into their frames.
    """

    text: str


def encode_json(value: object) -> str:
    """Encode ``value`` as compact JSON text (a :class:`RawJSON` value: its text as it is).

    Raises :class:`JSONEncodeError` (never ``TypeError`` or a bare ``ValueError``) so that
    callers can turn an unsendable input into a typed validation error.
    """
    if isinstance(value, RawJSON):
        return value.text
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise JSONEncodeError(f"value cannot be encoded as JSON: {exc}") from exc


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(text: str | bytes) -> object | JSONDecodeFailure:
    """Decode one JSON value, or describe why ``text`` is not one.

    Bytes must be UTF-8. Deeply nested or oversized numbers are failures, not crashes.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return JSONDecodeFailure(f"Body is not valid UTF-8: {exc.reason} at byte {exc.start}")
    try:
        value: object = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return JSONDecodeFailure(f"Invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except (ValueError, RecursionError) as exc:
        return JSONDecodeFailure(f"Invalid JSON: {exc}")
    return value


def excerpt(body: str | bytes, limit: int = 200) -> str:
    """The start of a body as readable text, for error messages about bodies we cannot use."""
    if isinstance(body, bytes):
        body = body[: limit * 4].decode("utf-8", errors="replace")
    return body if len(body) <= limit else body[:limit] + "..."
