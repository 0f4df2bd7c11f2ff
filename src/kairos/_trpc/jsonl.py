"""tRPC streaming batches (``httpBatchStreamLink``, JSON Lines), both ends. No I/O.

The format of @trpc/server 11.25.2's ``jsonlStreamProducer`` (trpc-protocol.md §3). Line 1 is
the head: every call of the batch is a promise, ``{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}``.
Each later line settles one chunk, ``[chunkId, status, encodedValue]``, in completion order. A
call resolves in three levels, as tRPC writes them: the call to ``{"result":0}`` (or directly
to ``{"error":<shape>}``), ``result`` to ``{"data":0}``, ``data`` to the value::

    [0,0,[[{"result":0}],["result",0,2]]]
    [2,0,[[{"data":0}],["data",0,3]]]
    [3,0,[[<value>]]]
    [1,0,[[{"error":{...}}]]]

:class:`JSONLBatchEncoder` writes those lines for calls whose outputs are plain JSON values;
:func:`decode_jsonl_batch` reads a whole body back into one envelope per call, generically
(any chunk order, nested promises, async iterables as lists, ping whitespace).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .envelopes import Ok, TRPCError, error_envelope
from .json_values import ABSENT, JSONDecodeFailure, JSONEncodeError, decode_json, encode_json

__all__ = [
    "JSONL_ACCEPT",
    "JSONLBatchEncoder",
    "JSONLDecodeError",
    "decode_jsonl_batch",
    "wants_jsonl",
]

JSONL_ACCEPT = "application/jsonl"


def wants_jsonl(headers: Mapping[str, str]) -> bool:
    """Whether a request asks for a streamed batch: ``trpc-accept: application/jsonl``, or, when
    that header is absent, the exact token ``application/jsonl`` in ``accept``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if "trpc-accept" in lowered:
        return lowered["trpc-accept"] == JSONL_ACCEPT
    accept = lowered.get("accept")
    return accept is not None and any(t.strip() == JSONL_ACCEPT for t in accept.split(","))


_PROMISE = 0
_ITERABLE = 1
_FULFILLED = 0
_REJECTED = 1
_RETURN = 0
_YIELD = 1
_ERROR = 2


@dataclass
class JSONLBatchEncoder:
    """The lines of one streamed batch of ``calls`` calls. Write :meth:`head` first, then the
    lines of :meth:`settle` for each call as it completes, in any order."""

    calls: int
    _next_chunk: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.calls < 1:
            raise ValueError("a batch has at least one call")
        self._next_chunk = self.calls

    def head(self) -> str:
        """Line 1: every call is a pending promise, chunk ``i`` for call ``i``."""
        head = {str(i): [[0], [None, _PROMISE, i]] for i in range(self.calls)}
        return encode_json(head) + "\n"

    def settle(
        self,
        index: int,
        result: Ok | TRPCError,
        *,
        path: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """The lines that settle call ``index``: its output, or its error (with ``path`` unless
        the error names one). An output that cannot be encoded becomes that call's
        INTERNAL_SERVER_ERROR."""
        if not 0 <= index < self.calls:
            raise ValueError(f"call {index} is not in a batch of {self.calls}")
        if isinstance(result, Ok):
            try:
                value = encode_json([[]] if result.data is ABSENT else [[result.data]])
            except JSONEncodeError:
                result = TRPCError("INTERNAL_SERVER_ERROR", "Unable to serialize the output")
            else:
                return self.settle_json(index, value)
        shape = result.with_path(path).shape(request_id=request_id)
        return encode_json([index, _FULFILLED, [[error_envelope(shape)]]]) + "\n"

    def settle_json(self, index: int, encoded_value: str) -> str:
        """:meth:`settle` for an output already encoded as tRPC's ``[[value]]`` JSON text
        (spliced in as it is)."""
        result_chunk, data_chunk = self._next_chunk, self._next_chunk + 1
        self._next_chunk += 2
        return (
            encode_json([index, _FULFILLED, [[{"result": 0}], ["result", _PROMISE, result_chunk]]])
            + "\n"
            + encode_json(
                [result_chunk, _FULFILLED, [[{"data": 0}], ["data", _PROMISE, data_chunk]]]
            )
            + "\n"
            + f"[{data_chunk},{_FULFILLED},{encoded_value}]\n"
        )


class JSONLDecodeError(ValueError):
    """The body is not a tRPC JSONL batch, or it ended before every call settled."""


def decode_jsonl_batch(lines: Iterable[str | bytes]) -> dict[int, object]:
    """Decode a whole JSONL batch body (its lines) into each call's envelope, by call index.

    Errors a chunk rejects with are returned as ``{"error": shape}`` in place of the value; an
    async iterable becomes the list of its yields followed by its return value.
    """
    decoded: list[object] = []
    for line in lines:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        text = text.strip()
        if not text:
            continue
        value = decode_json(text)
        if isinstance(value, JSONDecodeFailure):
            raise JSONLDecodeError(f"a line is not JSON: {value.message}")
        decoded.append(value)
    if not decoded or not isinstance(decoded[0], dict):
        raise JSONLDecodeError("the head line is missing or is not an object")
    chunks: dict[int, list[tuple[int, object, object]]] = {}
    for line_value in decoded[1:]:
        if not (isinstance(line_value, list) and len(line_value) == 3):
            raise JSONLDecodeError(f"a chunk line is not [id, status, value]: {line_value!r}")
        chunk_id = line_value[0]
        if not isinstance(chunk_id, int):
            raise JSONLDecodeError(f"a chunk id is not a number: {chunk_id!r}")
        chunks.setdefault(chunk_id, []).append((chunk_id, line_value[1], line_value[2]))

    def promise(chunk_id: int) -> object:
        lines = chunks.get(chunk_id)
        if not lines:
            raise JSONLDecodeError(f"chunk {chunk_id} never settled (stream closed unexpectedly)")
        _, status, payload = lines[0]
        if status == _REJECTED:
            return {"error": payload}
        return value_of(payload)

    def iterable(chunk_id: int) -> object:
        items: list[object] = []
        for _, status, payload in chunks.get(chunk_id, []):
            if status == _ERROR:
                items.append({"error": payload})
                return items
            items.append(value_of(payload))
            if status == _RETURN:
                return items
        raise JSONLDecodeError(f"async iterable {chunk_id} never ended")

    def value_of(encoded: object) -> object:
        if not (isinstance(encoded, list) and encoded and isinstance(encoded[0], list)):
            raise JSONLDecodeError(f"not an encoded value: {encoded!r}")
        if not encoded[0]:
            return ABSENT
        value = encoded[0][0]
        for definition in encoded[1:]:
            if not (isinstance(definition, list) and len(definition) == 3):
                raise JSONLDecodeError(f"not a chunk definition: {definition!r}")
            key, kind, chunk_id = definition
            settled = promise(chunk_id) if kind == _PROMISE else iterable(chunk_id)
            if key is None:
                value = settled
            elif isinstance(value, dict):
                if settled is ABSENT:
                    value.pop(key, None)
                else:
                    value[key] = settled
            else:
                raise JSONLDecodeError(f"a chunk key {key!r} on a value that is no object")
        return value

    head = decoded[0]
    assert isinstance(head, dict)
    out: dict[int, object] = {}
    for key, encoded in head.items():
        if not key.isdigit():
            raise JSONLDecodeError(f"a head key is not a call index: {key!r}")
        out[int(key)] = value_of(encoded)
    return out
