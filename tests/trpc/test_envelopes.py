"""Envelopes and the error shape (trpc-protocol.md §4)."""

from __future__ import annotations

import json

import pytest

from kairos._trpc.envelopes import (
    Err,
    Malformed,
    Ok,
    TRPCError,
    classify_envelope,
    error_envelope,
    error_shape,
    success_envelope,
)
from kairos._trpc.json_values import ABSENT, JSONEncodeError, encode_json
from kairos_api.models import ErrorShape


def test_success_envelope_wraps_the_output_in_result_data() -> None:
    assert encode_json(success_envelope("hello world")) == '{"result":{"data":"hello world"}}'


def test_an_undefined_output_drops_the_data_key() -> None:
    assert encode_json(success_envelope(ABSENT)) == '{"result":{}}'


def test_null_output_is_kept() -> None:
    assert encode_json(success_envelope(None)) == '{"result":{"data":null}}'


def test_error_shape_has_the_keys_in_tRPC_order() -> None:
    shape = error_shape("NOT_FOUND", "nope", path="fail")
    assert encode_json(error_envelope(shape)) == (
        '{"error":{"message":"nope","code":-32004,'
        '"data":{"code":"NOT_FOUND","httpStatus":404,"path":"fail"}}}'
    )


def test_stack_comes_before_path_and_kairos_additions_come_last() -> None:
    shape = error_shape(
        "TOO_MANY_REQUESTS",
        "slow down",
        path="simulation.create",
        stack="Error: at x",
        request_id="req_1",
        kairos={"kind": "rate_limit", "retryAfter": 2.5},
    )
    data = shape["data"]
    assert isinstance(data, dict)
    assert list(data) == ["code", "httpStatus", "stack", "path", "requestId", "kairos"]
    ErrorShape.model_validate(shape)


def test_request_level_errors_have_no_path() -> None:
    data = error_shape("BAD_REQUEST", "Cannot mix procedure types in call: query, mutation")["data"]
    assert isinstance(data, dict)
    assert "path" not in data


def test_trpc_error_defaults_its_message_to_the_key() -> None:
    error = TRPCError("FORBIDDEN")
    assert error.message == "FORBIDDEN"
    assert (error.number, error.http_status) == (-32003, 403)


def test_trpc_error_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match="TEAPOT"):
        TRPCError("TEAPOT")  # type: ignore[arg-type]


def test_with_path_fills_only_a_missing_path() -> None:
    error = TRPCError("NOT_FOUND", "x", headers={"allow": "GET"})
    assert error.with_path("a").path == "a"
    assert error.with_path("a").headers == {"allow": "GET"}
    assert error.with_path("a").with_path("b").path == "a"
    assert error.with_path(None) is error


def test_a_shape_from_trpc_error_validates_against_the_schema_model() -> None:
    error = TRPCError(
        "PRECONDITION_FAILED",
        "retired",
        path="simulation.create",
        kairos={"kind": "engine_version", "requested": "0.9", "active": ["1.4.4"]},
    )
    model = ErrorShape.model_validate(error.shape(request_id="req_2"))
    assert model.data.request_id == "req_2"
    assert model.data.kairos is not None and model.data.kairos.kind == "engine_version"


def test_classify_reads_a_success() -> None:
    assert classify_envelope({"result": {"data": [1]}}, http_status=200) == Ok([1])
    assert classify_envelope({"result": {}}, http_status=200) == Ok(ABSENT)


def test_classify_reads_an_error_and_takes_its_status_from_the_data() -> None:
    captured = json.loads(
        '{"error":{"message":"nope","code":-32004,'
        '"data":{"code":"NOT_FOUND","httpStatus":404,"path":"fail"}}}'
    )
    result = classify_envelope(captured, http_status=207)
    assert isinstance(result, Err)
    assert (result.key, result.message, result.http_status) == ("NOT_FOUND", "nope", 404)
    assert result.data["path"] == "fail"


def test_an_error_without_data_takes_the_response_status_or_the_number() -> None:
    bare = {"error": {"message": "x", "code": -32029}}
    assert classify_envelope(bare, http_status=429) == Err(bare["error"], 429)
    assert classify_envelope(bare, http_status=207) == Err(bare["error"], 429)
    unknown = {"error": {"message": "x", "code": -1}}
    assert classify_envelope(unknown, http_status=200) == Err(unknown["error"], 500)


@pytest.mark.parametrize(
    "value",
    [
        [],
        "text",
        None,
        {},
        {"result": 3},
        {"error": "boom"},
        {"error": {"message": "x", "code": "NOT_FOUND"}},
        {"error": {"message": "x", "code": True}},
        {"error": {"message": 3, "code": -32004}},
    ],
)
def test_anything_else_is_malformed(value: object) -> None:
    assert isinstance(classify_envelope(value, http_status=200), Malformed)


def test_encode_json_is_compact_and_refuses_nan() -> None:
    assert encode_json({"a": [1, 2.5, None, "é"]}) == '{"a":[1,2.5,null,"\\u00e9"]}'
    with pytest.raises(JSONEncodeError):
        encode_json({"x": float("nan")})
    with pytest.raises(JSONEncodeError):
        encode_json({"x": object()})
