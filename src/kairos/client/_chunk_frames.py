"""Decoding a stream's trace chunks straight from the WebSocket frame's bytes.

The general path (``_trpc.ws_client`` then ``TraceChunk.model_validate``) decodes a frame with
``json.loads`` and then validates the resulting dicts step by step; :func:`decode_chunk_frame`
does both in one pydantic-core call (``validate_json``), which parses the JSON straight into
the frozen ``TraceStep`` models. It only accepts the one frame that carries steps, a tracked
data event ``{"id", "result": {"type": "data", "id", "data": {"id", "data": TraceChunk}}}``,
and returns None for anything else, or for a frame that does not validate, so the general
decoder still decides what such a frame is and reports it. Same models, same values: a chunk
decoded either way is equal step for step, and traces built from either hash the same
(``tests/client/test_chunk_frames.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Strict

from kairos_api import TraceChunk

from ._gc_paused import gc_paused

__all__ = ["ChunkFrame", "decode_chunk_frame"]


class _Tracked(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: Annotated[str, Strict()]
    data: TraceChunk


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["data"]
    id: Annotated[str, Strict()]
    data: _Tracked


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: Annotated[int, Strict()] | Annotated[str, Strict()]
    result: _Result


@dataclass(frozen=True)
class ChunkFrame:
    """A decoded trace-chunk event: the subscription's request id, the event's tracked id
    (the tick of its last step) and the validated chunk."""

    request_id: int | str
    tracked_id: str
    chunk: TraceChunk


def decode_chunk_frame(frame: str | bytes) -> ChunkFrame | None:
    """The trace chunk a tracked data frame carries, parsed and validated in one call; None
    when ``frame`` is any other frame or does not validate (see the module documentation)."""
    try:
        with gc_paused():
            decoded = _Frame.model_validate_json(frame)
    except pydantic.ValidationError:
        return None
    result = decoded.result
    if result.data.id != result.id:
        return None
    return ChunkFrame(decoded.id, result.id, result.data.data)
