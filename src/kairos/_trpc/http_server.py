"""The server side of tRPC over HTTP: parse a request into calls, encode the response. No I/O.

Behaviour follows @trpc/server 11.25.2's ``resolveResponse`` (see trpc-protocol.md §1, §2, §4):

* ``HEAD`` on any path: 204, empty body, nothing run.
* Request-level failures (one error object, no ``path``, status of the error): a malformed
  escape in the path, batching switched off or a batch over the size limit, a non-GET request
  without a JSON content type (415 "Missing content-type header"), and mixed procedure kinds.
* Per-call failures (with the call's ``path``): unknown procedure (404), wrong method (405 with
  ``allow``), input that is not JSON (400, the JSON parser's message), a batch input that is
  not an object (400 for every call), and subscriptions.

A single subscription call by GET is served as an SSE stream (:mod:`.sse`): its input gets the
resume id merged in (the ``Last-Event-ID`` header, else ``?lastEventId=``, as tRPC does), and
every error but an unknown path or a batch is answered inside that stream, as tRPC does. A
batch with ``trpc-accept: application/jsonl`` is answered as a JSON Lines stream
(:mod:`.jsonl`); a streaming request that is not a batch is tRPC's 400. ``?connectionParams=``
(an object of strings) is parsed for every request; a bad one fails the request (PARSE_ERROR).
Only the ``.`` path separator and JSON inputs are understood (no ``multipart/form-data`` or
``application/octet-stream``); those content types get 415.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, unquote_to_bytes

from .envelopes import Ok, TRPCError, error_envelope, success_envelope
from .json_values import ABSENT, JSONDecodeFailure, JSONEncodeError, decode_json, encode_json
from .jsonl import wants_jsonl
from .sse import last_event_id, merge_last_event_id, parse_connection_params_query

__all__ = [
    "Call",
    "ImmediateResponse",
    "ParsedRequest",
    "ProcedureLike",
    "ResponseSpec",
    "build_http_response",
    "error_response",
    "parse_http_request",
]

VARY = ("vary", "trpc-accept, accept")
JSON_CONTENT_TYPE = ("content-type", "application/json")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class ProcedureLike(Protocol):
    """What the parser needs of a registry entry (``kairos_api.Procedure`` fits)."""

    @property
    def kind(self) -> str: ...

    @property
    def input_model(self) -> object | None:
        """None for a procedure that takes no input: its input is never parsed."""
        ...


@dataclass(frozen=True)
class Call:
    """One call of a request: the procedure to run with ``input``, or the ``error`` to answer.

    ``input`` is the decoded JSON value, or :data:`ABSENT` when the client sent none.
    """

    path: str
    procedure: ProcedureLike | None
    input: object
    error: TRPCError | None = None


@dataclass(frozen=True)
class ParsedRequest:
    """The calls of a request, in order; ``kind`` is the kind all found procedures share.

    ``jsonl``: answer as a streamed batch (JSON Lines). ``connection_params``: the request's
    ``?connectionParams=`` (None when absent or null). ``last_event_id``: the resume id of a
    subscription request (already merged into its input).
    """

    calls: tuple[Call, ...]
    is_batch: bool
    kind: str | None
    jsonl: bool = False
    connection_params: Mapping[str, str] | None = None
    last_event_id: str | None = None

    @property
    def is_subscription(self) -> bool:
        """A single subscription call: answered as an SSE stream."""
        return self.kind == "subscription" and not self.is_batch


@dataclass(frozen=True)
class ResponseSpec:
    """An HTTP response to send."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class ImmediateResponse:
    """The request is answered without running anything; ``error`` is why (None for HEAD)."""

    response: ResponseSpec
    error: TRPCError | None


def error_response(error: TRPCError, *, request_id: str | None = None) -> ResponseSpec:
    """A request-level error: one error object (not an array), with the error's status."""
    headers = [VARY, JSON_CONTENT_TYPE, *error.headers.items()]
    if request_id is not None:
        headers.append(("x-request-id", request_id))
    body = encode_json(error_envelope(error.shape(request_id=request_id))).encode("ascii")
    return ResponseSpec(error.http_status, tuple(headers), body)


def _reject(error: TRPCError) -> ImmediateResponse:
    return ImmediateResponse(error_response(error), error)


def _decode_path(raw: str) -> str | None:
    if _BAD_ESCAPE.search(raw):
        return None
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _media_type(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return None


def _allowed_methods(kind: str, allow_method_override: bool) -> tuple[str, ...]:
    if kind == "query":
        return ("GET", "POST") if allow_method_override else ("GET",)
    if kind == "mutation":
        return ("POST",)
    return ("GET", "POST") if allow_method_override else ("GET",)


def parse_http_request(
    method: str,
    path: str,
    query_string: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    registry: Mapping[str, ProcedureLike],
    *,
    allow_method_override: bool = False,
    allow_batching: bool = True,
    max_batch_size: int | None = None,
) -> ParsedRequest | ImmediateResponse:
    """Parse an HTTP request to the tRPC endpoint into calls.

    ``path`` is the raw (still percent-encoded) URL path after the tRPC base, e.g.
    ``/simulation.get`` or ``simulation.get,simulation.list`` (for ASGI, ``scope["raw_path"]``
    minus the base: ``scope["path"]`` is already decoded and would decode twice). ``headers``
    may use any case. Never raises on what the client sent.
    """
    method = method.upper()
    if method == "HEAD":
        return ImmediateResponse(ResponseSpec(204, (VARY,), b""), None)
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    try:
        params = dict(reversed(parse_qsl(query_string, keep_blank_values=True, errors="strict")))
    except ValueError:
        return _reject(TRPCError("BAD_REQUEST", "Invalid URL-encoding in query string"))
    is_batch = params.get("batch") == "1"
    decoded_path = _decode_path(path.strip("/"))
    if decoded_path is None:
        message = f'Invalid URL-encoding in path "{path.strip("/")}"'
        return _reject(TRPCError("BAD_REQUEST", message))
    if is_batch and not allow_batching:
        return _reject(TRPCError("BAD_REQUEST", "Batching is not enabled on the server"))
    if method != "GET":
        media_type = _media_type(headers)
        if media_type != "application/json":
            message = (
                "Missing content-type header"
                if media_type is None
                else f'Unsupported content-type "{media_type}"'
            )
            return _reject(TRPCError("UNSUPPORTED_MEDIA_TYPE", message))
    paths = decoded_path.split(",") if is_batch else [decoded_path]
    if max_batch_size is not None and len(paths) > max_batch_size:
        return _reject(TRPCError("BAD_REQUEST", "Batch call exceeds maximum size"))
    procedures = [registry.get(p) for p in paths]
    kinds = list(dict.fromkeys(proc.kind for proc in procedures if proc is not None))
    if len(kinds) > 1:
        message = f"Cannot mix procedure types in call: {', '.join(kinds)}"
        return _reject(TRPCError("BAD_REQUEST", message))

    connection_params: Mapping[str, str] | None = None
    if "connectionParams" in params:
        parsed_params = parse_connection_params_query(params["connectionParams"])
        if isinstance(parsed_params, TRPCError):
            return _reject(parsed_params)
        connection_params = parsed_params
    jsonl = wants_jsonl(headers)
    if jsonl and not is_batch:
        message = "Streaming requests must be batched (you can do a batch of 1)"
        return _reject(TRPCError("BAD_REQUEST", message))

    # A missing parameter, `?input=` and an empty body all mean an undefined input.
    raw_input: str | bytes | None = (params.get("input") if method == "GET" else body) or None
    inputs = _split_inputs(raw_input, is_batch, len(paths))
    resume_id = last_event_id(headers, params) if "subscription" in kinds else None
    calls = tuple(
        _call(method, p, proc, call_input, is_batch, allow_method_override, resume_id)
        for p, proc, call_input in zip(paths, procedures, inputs, strict=True)
    )
    return ParsedRequest(
        calls,
        is_batch,
        kinds[0] if kinds else None,
        jsonl=jsonl,
        connection_params=connection_params,
        last_event_id=resume_id,
    )


@dataclass(frozen=True)
class _BadInput:
    message: str


def _split_inputs(raw: str | bytes | None, is_batch: bool, n: int) -> list[object]:
    """Each call's input, or the :class:`_BadInput` that call is answered with instead."""
    if raw is None:
        return [ABSENT] * n
    decoded = decode_json(raw)
    if isinstance(decoded, JSONDecodeFailure):
        return [_BadInput(decoded.message)] * n
    if not is_batch:
        return [decoded]
    if not isinstance(decoded, dict):
        return [_BadInput('"input" needs to be an object when doing a batch call')] * n
    return [decoded.get(str(i), ABSENT) for i in range(n)]


def _call(
    method: str,
    path: str,
    procedure: ProcedureLike | None,
    input: object,
    is_batch: bool,
    allow_method_override: bool,
    resume_id: str | None = None,
) -> Call:
    if procedure is None:
        return Call(
            path,
            None,
            ABSENT,
            TRPCError("NOT_FOUND", f'No procedure found on path "{path}"', path=path),
        )
    if procedure.kind == "subscription" and is_batch:
        error = TRPCError("BAD_REQUEST", "Cannot batch subscription calls", path=path)
        return Call(path, procedure, ABSENT, error)
    allowed = _allowed_methods(procedure.kind, allow_method_override)
    if method not in allowed:
        message = f'Unsupported {method}-request to {procedure.kind} procedure at path "{path}"'
        headers = {"allow": ", ".join(allowed)}
        return Call(
            path,
            procedure,
            ABSENT,
            TRPCError("METHOD_NOT_SUPPORTED", message, path=path, headers=headers),
        )
    if procedure.input_model is None:
        # @trpc/server parses an input only for a procedure with an input parser, so input
        # that is not JSON (or a batch input that is not an object) never reaches these.
        return Call(path, procedure, ABSENT)
    if isinstance(input, _BadInput):
        return Call(path, procedure, ABSENT, TRPCError("BAD_REQUEST", input.message, path=path))
    if procedure.kind == "subscription" and resume_id:
        input = merge_last_event_id(input, resume_id)
    return Call(path, procedure, input)


def _merge_headers(errors: Sequence[TRPCError]) -> list[tuple[str, str]]:
    merged: dict[str, str] = {}
    for error in errors:
        for name, value in error.headers.items():
            name = name.lower()
            if name == "allow" and name in merged:
                methods = [m.strip() for m in (merged[name] + "," + value).split(",")]
                merged[name] = ", ".join(dict.fromkeys(m for m in methods if m))
            else:
                merged.setdefault(name, value)
    return list(merged.items())


def build_http_response(
    results: Sequence[Ok | TRPCError],
    is_batch: bool,
    *,
    paths: Sequence[str | None] | None = None,
    request_id: str | None = None,
) -> ResponseSpec:
    """Encode the outcome of each call as the response tRPC would send.

    An error without a path takes the call's path from ``paths``. The status is the calls'
    common status (200 for a success, the error's otherwise), or 207 when they differ. An
    output that cannot be encoded as JSON becomes that call's INTERNAL_SERVER_ERROR rather
    than failing the whole response.
    """
    if not results:
        raise ValueError("a response answers at least one call")
    if not is_batch and len(results) != 1:
        raise ValueError("a response that is not a batch answers exactly one call")
    encoded: list[str] = []
    statuses: list[int] = []
    errors: list[TRPCError] = []
    for i, result in enumerate(results):
        path = paths[i] if paths is not None and i < len(paths) else None
        if isinstance(result, Ok):
            try:
                encoded.append(encode_json(success_envelope(result.data)))
                statuses.append(200)
                continue
            except JSONEncodeError:
                result = TRPCError("INTERNAL_SERVER_ERROR", "Unable to serialize the output")
        error = result.with_path(path)
        errors.append(error)
        encoded.append(encode_json(error_envelope(error.shape(request_id=request_id))))
        statuses.append(error.http_status)
    status = statuses[0] if len(set(statuses)) == 1 else 207
    body = ("[" + ",".join(encoded) + "]") if is_batch else encoded[0]
    headers = [VARY, JSON_CONTENT_TYPE, *_merge_headers(errors)]
    if request_id is not None:
        headers.append(("x-request-id", request_id))
    return ResponseSpec(status, tuple(headers), body.encode("ascii"))
