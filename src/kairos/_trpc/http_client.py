"""The client side of tRPC over HTTP: build requests, read responses. No I/O.

A query is ``GET <base>/<path>?input=<encodeURIComponent(JSON)>`` (no ``input`` when the input
is undefined); a mutation is ``POST <base>/<path>`` with ``content-type: application/json`` and
the raw JSON body (empty for an undefined input). A batch joins the paths with commas, adds
``batch=1`` and sends one object keyed by call index. Subscriptions are not sent over HTTP by
this SDK (they go over the WebSocket), so asking for one here is a programming error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from .envelopes import CallResult, Err, Malformed, classify_envelope
from .json_values import ABSENT, JSONDecodeFailure, decode_json, encode_json, excerpt

__all__ = [
    "HTTPKind",
    "RequestSpec",
    "build_batch_request",
    "build_request",
    "parse_response",
    "request_id_from_headers",
]

HTTPKind = Literal["query", "mutation"]

# encodeURIComponent leaves exactly these unescaped besides ASCII letters and digits.
_URI_COMPONENT_SAFE = "-_.!~*'()"


@dataclass(frozen=True)
class RequestSpec:
    """An HTTP request to send, relative to the tRPC base URL (e.g. ``http://host/trpc``).

    ``path`` starts with ``/`` and ``query`` is already percent-encoded, so ``base + target``
    is the exact URL; ``body`` is None for a GET and bytes (possibly empty) for a POST.
    """

    method: Literal["GET", "POST"]
    path: str
    query: str
    body: bytes | None
    headers: tuple[tuple[str, str], ...]

    @property
    def target(self) -> str:
        """``path`` plus ``?query`` when there is one."""
        return f"{self.path}?{self.query}" if self.query else self.path


def _encode_component(text: str) -> str:
    return quote(text, safe=_URI_COMPONENT_SAFE)


def _spec(
    kind: HTTPKind, path: str, params: list[tuple[str, str]], payload: str | None
) -> RequestSpec:
    if kind == "query":
        params = [*params, ("input", payload)] if payload is not None else params
        query = "&".join(f"{name}={_encode_component(value)}" for name, value in params)
        return RequestSpec("GET", "/" + path, query, None, ())
    if kind == "mutation":
        query = "&".join(f"{name}={_encode_component(value)}" for name, value in params)
        body = payload.encode("utf-8") if payload is not None else b""
        return RequestSpec("POST", "/" + path, query, body, (("content-type", "application/json"),))
    raise ValueError(f"{kind!r} procedures are not called over HTTP; subscribe over the WebSocket")


def build_request(path: str, kind: HTTPKind, input: object = ABSENT) -> RequestSpec:
    """The request for one call of the procedure at ``path``.

    ``input`` is a JSON-compatible value (e.g. ``model.model_dump(mode="json", by_alias=True,
    exclude_none=True)``) or :data:`ABSENT`. Raises :class:`.JSONEncodeError` for values JSON
    cannot carry (NaN, infinities, other types), before anything is sent.
    """
    payload = None if input is ABSENT else encode_json(input)
    return _spec(kind, path, [], payload)


def build_batch_request(kind: HTTPKind, calls: Sequence[tuple[str, object]]) -> RequestSpec:
    """One request for several calls of the same kind, as httpBatchLink sends it.

    ``calls`` are ``(path, input)`` pairs; an :data:`ABSENT` input simply has no key in the
    index-keyed input object, which is always sent (``{}`` at least).
    """
    if not calls:
        raise ValueError("a batch needs at least one call")
    paths = [path for path, _ in calls]
    if any("," in path for path in paths):
        raise ValueError("procedure paths in a batch cannot contain ','")
    inputs = {str(i): value for i, (_, value) in enumerate(calls) if value is not ABSENT}
    return _spec(kind, ",".join(paths), [("batch", "1")], encode_json(inputs))


def parse_response(
    status: int, body: bytes | str, *, n_calls: int = 1, is_batch: bool = False
) -> list[CallResult]:
    """The result of each call of a request, in call order, from the response status and body.

    Never raises on what the server sent: a body that is not JSON, or JSON of the wrong shape,
    gives :class:`.Malformed` results (with the status and an excerpt of the body). As in the
    official client, the body decides success or failure, not the status; a batch answered
    with a single error object (a request-level failure) gives that error to every call.
    """
    if n_calls < 1:
        raise ValueError("n_calls must be at least 1")
    if not is_batch and n_calls != 1:
        raise ValueError("a request that is not a batch has exactly one call")
    shown = excerpt(body)
    decoded = decode_json(body)
    if isinstance(decoded, JSONDecodeFailure):
        reason = "response body is empty" if not shown.strip() else decoded.message
        return [Malformed(status, reason, shown)] * n_calls
    if isinstance(decoded, list):
        if not is_batch:
            return [Malformed(status, "expected one envelope, got a JSON array", shown)]
        if len(decoded) != n_calls:
            reason = f"batch response has {len(decoded)} envelopes for {n_calls} calls"
            return [Malformed(status, reason, shown)] * n_calls
        return [classify_envelope(item, http_status=status, body_excerpt=shown) for item in decoded]
    single = classify_envelope(decoded, http_status=status, body_excerpt=shown)
    if is_batch and not isinstance(single, (Err, Malformed)):
        single = Malformed(status, "batch response is a single success, not an array", shown)
    return [single] * n_calls


def request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    """The server's request id from ``x-request-id`` (any header case), if it sent one."""
    for name, value in headers.items():
        if name.lower() == "x-request-id" and value:
            return value
    return None
