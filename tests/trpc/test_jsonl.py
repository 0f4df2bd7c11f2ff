"""Streamed batches (httpBatchStreamLink, JSON Lines; trpc-protocol.md §3): the lines
@trpc/server writes for a batch, and the generic decoder."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos._trpc import ABSENT, Ok, TRPCError
from kairos._trpc.http_server import ImmediateResponse, ParsedRequest, parse_http_request
from kairos._trpc.jsonl import (
    JSONLBatchEncoder,
    JSONLDecodeError,
    decode_jsonl_batch,
    wants_jsonl,
)

from .conftest import REGISTRY

NOPE = TRPCError("NOT_FOUND", "nope")


def test_the_lines_of_a_batch_are_trpcs() -> None:
    # the capture of trpc-protocol.md §3 (greet, fail), in the same completion order
    encoder = JSONLBatchEncoder(2)
    assert encoder.head() == '{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}\n'
    assert encoder.settle(1, NOPE, path="fail") == (
        '[1,0,[[{"error":{"message":"nope","code":-32004,'
        '"data":{"code":"NOT_FOUND","httpStatus":404,"path":"fail"}}}]]]\n'
    )
    assert encoder.settle(0, Ok("hello world"), path="greet") == (
        '[0,0,[[{"result":0}],["result",0,2]]]\n'
        '[2,0,[[{"data":0}],["data",0,3]]]\n'
        '[3,0,[["hello world"]]]\n'
    )


def test_an_undefined_output_and_an_unencodable_one() -> None:
    encoder = JSONLBatchEncoder(2)
    assert encoder.settle(0, Ok(ABSENT)).endswith("[3,0,[[]]]\n")
    line = encoder.settle(1, Ok(float("nan")), path="p")
    assert json.loads(line)[2][0][0]["error"]["data"]["code"] == "INTERNAL_SERVER_ERROR"


def test_settling_a_call_outside_the_batch_is_a_bug() -> None:
    with pytest.raises(ValueError):
        JSONLBatchEncoder(1).settle(1, Ok(1))
    with pytest.raises(ValueError):
        JSONLBatchEncoder(0)


@given(st.permutations(range(4)))
def test_decoding_gives_every_call_its_envelope_in_any_completion_order(
    order: list[int],
) -> None:
    results: list[Ok | TRPCError] = [Ok({"a": [1, 2]}), NOPE, Ok(None), Ok(ABSENT)]
    encoder = JSONLBatchEncoder(4)
    body = encoder.head() + "".join(encoder.settle(i, results[i], path="p") for i in order)
    decoded = decode_jsonl_batch(body.splitlines())
    assert decoded[0] == {"result": {"data": {"a": [1, 2]}}}
    assert decoded[1] == {"error": NOPE.with_path("p").shape()}
    assert decoded[2] == {"result": {"data": None}}
    assert decoded[3] == {"result": {}}


def test_the_decoder_reads_trpcs_iterables_nested_promises_and_pings() -> None:
    # trpc-protocol.md §3: `gen` yields 1, 2 and returns "done"; `nested` returns {now, later}
    lines = [
        '{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}',
        '[0,0,[[{"result":0}],["result",0,2]]]',
        '[1,0,[[{"result":0}],["result",0,3]]]',
        '[2,0,[[{"data":0}],["data",0,4]]]',
        '[3,0,[[{"data":0}],["data",0,5]]]',
        "[4,0,[[0],[null,1,6]]]",
        '  [5,0,[[{"now":1,"later":0}],["later",0,7]]]',
        "[6,1,[[1]]]",
        "",
        '[7,0,[["later"]]]',
        "[6,1,[[2]]]",
        '[6,0,[["done"]]]',
    ]
    assert decode_jsonl_batch(lines) == {
        0: {"result": {"data": [1, 2, "done"]}},
        1: {"result": {"data": {"now": 1, "later": "later"}}},
    }


def test_a_stream_closed_early_is_an_error() -> None:
    encoder = JSONLBatchEncoder(2)
    body = encoder.head() + encoder.settle(0, Ok(1))
    with pytest.raises(JSONLDecodeError, match="never settled"):
        decode_jsonl_batch(body.splitlines())


def test_the_streaming_header() -> None:
    assert wants_jsonl({"trpc-accept": "application/jsonl"})
    assert wants_jsonl({"Accept": "text/html, application/jsonl"})
    assert not wants_jsonl({"accept": "application/jsonl;q=1"})
    assert not wants_jsonl({"trpc-accept": "other", "accept": "application/jsonl"})
    assert not wants_jsonl({})


def test_a_streamed_request_must_be_a_batch() -> None:
    headers = {"trpc-accept": "application/jsonl"}
    single = parse_http_request("GET", "/greet", "", headers, b"", REGISTRY)
    assert isinstance(single, ImmediateResponse) and single.error is not None
    assert single.error.message == "Streaming requests must be batched (you can do a batch of 1)"
    batch = parse_http_request("GET", "/greet", "batch=1", headers, b"", REGISTRY)
    assert isinstance(batch, ParsedRequest) and batch.jsonl
