"""Server-side HTTP parsing and responses (trpc-protocol.md §1, §2, §4)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from kairos._trpc.envelopes import Ok, TRPCError
from kairos._trpc.http_server import (
    ImmediateResponse,
    ParsedRequest,
    build_http_response,
    parse_http_request,
)
from kairos._trpc.json_values import ABSENT
from kairos_api import PROCEDURES

from .conftest import REGISTRY, Proc

JSON = {"content-type": "application/json"}


def parse(
    method: str,
    path: str,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    **options: Any,
) -> ParsedRequest | ImmediateResponse:
    return parse_http_request(method, path, query, headers or {}, body, REGISTRY, **options)


def parsed(*args: Any, **kwargs: Any) -> ParsedRequest:
    result = parse(*args, **kwargs)
    assert isinstance(result, ParsedRequest), result
    return result


def rejected(*args: Any, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    result = parse(*args, **kwargs)
    assert isinstance(result, ImmediateResponse), result
    body = json.loads(result.response.body)
    assert isinstance(body, dict), "request-level errors are one object, not an array"
    return result.response.status, body["error"], dict(result.response.headers)


def call_error(request: ParsedRequest, index: int = 0) -> TRPCError:
    error = request.calls[index].error
    assert error is not None
    return error


def test_HEAD_is_204_with_an_empty_body_and_runs_nothing() -> None:
    result = parse("HEAD", "/anything")
    assert isinstance(result, ImmediateResponse)
    assert (result.response.status, result.response.body, result.error) == (204, b"", None)


def test_a_GET_query_reads_its_url_encoded_input() -> None:
    request = parsed("GET", "/post.byId", "input=%7B%22id%22%3A%221%22%7D")
    assert not request.is_batch and request.kind == "query"
    [call] = request.calls
    assert (call.path, call.input, call.error) == ("post.byId", {"id": "1"}, None)
    assert call.procedure is REGISTRY["post.byId"]


@pytest.mark.parametrize("query", ["", "input="])
def test_a_missing_or_empty_input_parameter_is_undefined(query: str) -> None:
    assert parsed("GET", "/greet", query).calls[0].input is ABSENT


def test_input_null_is_null_not_undefined() -> None:
    assert parsed("GET", "/greet", "input=null").calls[0].input is None


def test_slashes_around_the_path_are_trimmed() -> None:
    assert parsed("GET", "//greet/").calls[0].path == "greet"


def test_the_path_is_percent_decoded() -> None:
    assert parsed("GET", "/post%2EbyId").calls[0].procedure is REGISTRY["post.byId"]


@pytest.mark.parametrize("path", ["/gr%zzeet", "/%E0%A4", "/%"])
def test_a_malformed_escape_in_the_path_is_a_request_level_400(path: str) -> None:
    status, error, _ = rejected("GET", path)
    assert status == 400
    assert error["message"] == f'Invalid URL-encoding in path "{path.strip("/")}"'
    assert "path" not in error["data"]


def test_bytes_query_strings_are_accepted() -> None:
    result = parse_http_request("GET", "/greet", b"input=1", {}, b"", REGISTRY)
    assert isinstance(result, ParsedRequest) and result.calls[0].input == 1


def test_an_unknown_path_is_404_for_that_call() -> None:
    error = call_error(parsed("GET", "/nope"))
    assert (error.code, error.message, error.path) == (
        "NOT_FOUND",
        'No procedure found on path "nope"',
        "nope",
    )


def test_GET_on_a_mutation_is_405_with_an_allow_header() -> None:
    error = call_error(parsed("GET", "/add"))
    assert error.code == "METHOD_NOT_SUPPORTED" and error.http_status == 405
    assert error.message == 'Unsupported GET-request to mutation procedure at path "add"'
    assert error.headers == {"allow": "POST"}


def test_POST_on_a_query_is_405_allow_GET_unless_method_override_is_on() -> None:
    error = call_error(parsed("POST", "/greet", headers=JSON))
    assert error.message == 'Unsupported POST-request to query procedure at path "greet"'
    assert error.headers == {"allow": "GET"}
    request = parsed("POST", "/greet", headers=JSON, body=b'"x"', allow_method_override=True)
    assert request.calls[0].error is None and request.calls[0].input == "x"


def test_a_POST_mutation_reads_the_raw_JSON_body() -> None:
    [call] = parsed("POST", "/add", headers=JSON, body=b'{"a":1}').calls
    assert (call.input, call.error) == ({"a": 1}, None)


def test_an_empty_POST_body_is_undefined() -> None:
    assert parsed("POST", "/add", headers=JSON).calls[0].input is ABSENT


def test_a_POST_without_content_type_is_415_missing_content_type() -> None:
    status, error, _ = rejected("POST", "/add", body=b"{}")
    assert status == 415
    assert (error["message"], error["data"]["code"]) == (
        "Missing content-type header",
        "UNSUPPORTED_MEDIA_TYPE",
    )


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON", "application/json; charset=utf-8"]
)
def test_the_media_type_is_matched_case_insensitively_without_parameters(
    content_type: str,
) -> None:
    request = parsed("POST", "/add", headers={"Content-Type": content_type}, body=b"1")
    assert request.calls[0].input == 1


def test_another_content_type_is_415_naming_it() -> None:
    status, error, _ = rejected("POST", "/add", headers={"content-type": "text/plain"})
    assert status == 415 and error["message"] == 'Unsupported content-type "text/plain"'


def test_OPTIONS_without_a_content_type_is_415() -> None:
    status, error, _ = rejected("OPTIONS", "/greet")
    assert (status, error["message"]) == (415, "Missing content-type header")


def test_another_method_with_JSON_is_405_for_the_call() -> None:
    error = call_error(parsed("PUT", "/add", headers=JSON))
    assert error.message == 'Unsupported PUT-request to mutation procedure at path "add"'


def test_bad_JSON_input_is_a_400_for_the_call_with_the_parser_message() -> None:
    error = call_error(parsed("GET", "/greet", "input=%7Bnope"))
    assert (error.code, error.path) == ("BAD_REQUEST", "greet")
    assert error.message.startswith("Invalid JSON")


def test_NaN_is_not_JSON() -> None:
    assert call_error(parsed("POST", "/add", headers=JSON, body=b"NaN")).code == "BAD_REQUEST"


def test_a_batch_splits_paths_on_commas_and_reads_inputs_by_index() -> None:
    request = parsed(
        "GET", "/greet,post.byId", "batch=1&input=%7B%221%22%3A%7B%22name%22%3A%22b%22%7D%7D"
    )
    assert request.is_batch
    assert [c.path for c in request.calls] == ["greet", "post.byId"]
    assert [c.input for c in request.calls] == [ABSENT, {"name": "b"}]


def test_a_batch_without_input_gives_every_call_undefined() -> None:
    request = parsed("GET", "/greet,fail", "batch=1")
    assert [c.input for c in request.calls] == [ABSENT, ABSENT]


def test_commas_without_batch_are_one_unknown_path() -> None:
    assert (
        call_error(parsed("GET", "/greet,fail")).message
        == 'No procedure found on path "greet,fail"'
    )


@pytest.mark.parametrize("payload", ["%5B1%5D", "%22s%22", "null"])
def test_a_batch_input_that_is_not_an_object_fails_every_call(payload: str) -> None:
    request = parsed("GET", "/greet,fail", f"batch=1&input={payload}")
    for index, path in enumerate(["greet", "fail"]):
        error = call_error(request, index)
        assert error.message == '"input" needs to be an object when doing a batch call'
        assert (error.http_status, error.path) == (400, path)


def test_mixing_kinds_in_a_batch_is_one_top_level_error() -> None:
    status, error, _ = rejected("POST", "/add,greet", "batch=1", JSON, b"{}")
    assert status == 400
    assert error["message"] == "Cannot mix procedure types in call: mutation, query"
    assert "path" not in error["data"]


def test_subscriptions_cannot_be_batched() -> None:
    request = parsed("GET", "/count,count", "batch=1")
    assert [call_error(request, i).message for i in (0, 1)] == [
        "Cannot batch subscription calls"
    ] * 2


def test_a_subscription_by_GET_is_a_call_to_stream_over_SSE() -> None:
    request = parsed("GET", "/count", "input=%7B%22from%22%3A1%7D")
    assert request.is_subscription and request.calls[0].error is None
    assert request.calls[0].input == {"from": 1}


def test_a_subscription_by_POST_is_405_allowing_GET() -> None:
    error = call_error(parsed("POST", "/count", "", JSON, b"{}"))
    assert error.code == "METHOD_NOT_SUPPORTED" and error.headers == {"allow": "GET"}
    assert error.message == 'Unsupported POST-request to subscription procedure at path "count"'


def test_batching_can_be_switched_off() -> None:
    status, error, _ = rejected("GET", "/greet", "batch=1", allow_batching=False)
    assert (status, error["message"]) == (400, "Batching is not enabled on the server")


def test_a_batch_over_the_size_limit_is_one_top_level_error() -> None:
    status, error, _ = rejected("GET", "/greet,greet,greet", "batch=1", max_batch_size=2)
    assert (status, error["message"]) == (400, "Batch call exceeds maximum size")


def test_the_generated_registry_routes() -> None:
    result = parse_http_request("GET", "/simulation.stream", "", {}, b"", PROCEDURES)
    assert isinstance(result, ParsedRequest)
    assert result.kind == "subscription" and result.is_subscription
    result = parse_http_request("POST", "/simulation.create", "", JSON, b"{}", PROCEDURES)
    assert isinstance(result, ParsedRequest) and result.calls[0].error is None


# --- responses ---------------------------------------------------------------------------


def body_of(spec_body: bytes) -> Any:
    return json.loads(spec_body)


def test_a_single_success_is_200_with_vary_and_content_type() -> None:
    spec = build_http_response([Ok("hello world")], False)
    assert spec.status == 200
    assert spec.body == b'{"result":{"data":"hello world"}}'
    headers = dict(spec.headers)
    assert headers["vary"] == "trpc-accept, accept"
    assert headers["content-type"] == "application/json"


def test_an_undefined_output_is_an_empty_result() -> None:
    assert build_http_response([Ok(ABSENT)], False).body == b'{"result":{}}'


def test_a_single_error_takes_its_status_and_the_call_path() -> None:
    spec = build_http_response([TRPCError("NOT_FOUND", "nope")], False, paths=["fail"])
    assert spec.status == 404
    assert spec.body == (
        b'{"error":{"message":"nope","code":-32004,'
        b'"data":{"code":"NOT_FOUND","httpStatus":404,"path":"fail"}}}'
    )


@pytest.mark.parametrize(
    ("results", "status"),
    [
        ([Ok(1), TRPCError("NOT_FOUND")], 207),
        ([TRPCError("NOT_FOUND"), TRPCError("NOT_FOUND")], 404),
        ([TRPCError("NOT_FOUND"), TRPCError("INTERNAL_SERVER_ERROR")], 207),
        ([Ok(1), Ok(2)], 200),
    ],
)
def test_a_batch_status_is_the_common_status_or_207(
    results: list[Ok | TRPCError], status: int
) -> None:
    spec = build_http_response(results, True)
    assert spec.status == status
    assert isinstance(body_of(spec.body), list) and len(body_of(spec.body)) == len(results)


def test_a_405_carries_the_allow_header() -> None:
    request = parsed("GET", "/add")
    spec = build_http_response([call_error(request)], False)
    assert (spec.status, dict(spec.headers)["allow"]) == (405, "POST")


def test_allow_headers_of_several_calls_are_merged() -> None:
    errors = [
        TRPCError("METHOD_NOT_SUPPORTED", headers={"allow": "POST"}),
        TRPCError("METHOD_NOT_SUPPORTED", headers={"Allow": "GET, POST"}),
    ]
    assert dict(build_http_response(errors, True).headers)["allow"] == "POST, GET"


def test_a_request_id_goes_into_every_error_and_a_header() -> None:
    spec = build_http_response([Ok(1), TRPCError("CONFLICT")], True, request_id="req_7")
    assert dict(spec.headers)["x-request-id"] == "req_7"
    assert body_of(spec.body)[1]["error"]["data"]["requestId"] == "req_7"


def test_an_output_JSON_cannot_carry_fails_only_its_call() -> None:
    spec = build_http_response([Ok(float("nan")), Ok(1)], True, paths=["a", "b"])
    first, second = body_of(spec.body)
    assert first["error"]["data"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "httpStatus": 500,
        "path": "a",
    }
    assert second == {"result": {"data": 1}}
    assert spec.status == 207


def test_a_response_needs_calls() -> None:
    with pytest.raises(ValueError):
        build_http_response([], True)
    with pytest.raises(ValueError):
        build_http_response([Ok(1), Ok(2)], False)


def test_a_procedure_without_input_never_parses_one(registry: Mapping[str, Proc]) -> None:
    # @trpc/server 11.25.2 answers these with 200: no input parser, so the input is not read.
    for query in ("input=%7Bnope", "batch=1&input=%5B1%5D"):
        parsed = parse_http_request("GET", "/ping", query, {}, b"", registry)
        assert isinstance(parsed, ParsedRequest)
        assert [(c.error, c.input) for c in parsed.calls] == [(None, ABSENT)]
    with_input = parse_http_request("GET", "/greet", "input=%7Bnope", {}, b"", registry)
    assert isinstance(with_input, ParsedRequest) and with_input.calls[0].error is not None


def test_a_malformed_path_escape_names_the_path(registry: Mapping[str, Proc]) -> None:
    rejected = parse_http_request("GET", "/greet%E0%A4%A", "", {}, b"", registry)
    assert isinstance(rejected, ImmediateResponse) and rejected.error is not None
    assert rejected.error.message == 'Invalid URL-encoding in path "greet%E0%A4%A"'


def test_a_subscription_resumes_from_the_Last_Event_ID_header_over_the_input() -> None:
    query = "input=%7B%22lastEventId%22%3A%221%22%7D&lastEventId=2"
    request = parsed("GET", "/count", query, {"Last-Event-ID": "3"})
    assert request.calls[0].input == {"lastEventId": "3"} and request.last_event_id == "3"
    assert parsed("GET", "/count", "lastEventId=2").calls[0].input == {"lastEventId": "2"}
    # only subscriptions: a query's input is left alone
    assert parsed("GET", "/greet", "lastEventId=2").calls[0].input is ABSENT


def test_connection_params_are_parsed_and_a_bad_one_fails_the_request() -> None:
    good = parsed("GET", "/count", "connectionParams=%7B%22authorization%22%3A%22k%22%7D")
    assert good.connection_params == {"authorization": "k"}
    status, error, _ = rejected("GET", "/count", "connectionParams=%7B%22a%22%3A1%7D")
    assert (status, error["data"]["code"]) == (400, "PARSE_ERROR")
