"""Client requests and responses over HTTP (trpc-protocol.md §1, §2)."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from kairos._trpc.envelopes import Err, Malformed, Ok
from kairos._trpc.http_client import (
    build_batch_request,
    build_request,
    parse_response,
    request_id_from_headers,
)
from kairos._trpc.json_values import ABSENT, JSONEncodeError


def test_a_query_is_a_GET_with_url_encoded_JSON_input() -> None:
    spec = build_request("post.byId", "query", {"id": "a b&c"})
    assert spec.method == "GET"
    assert spec.target == "/post.byId?input=%7B%22id%22%3A%22a%20b%26c%22%7D"
    assert spec.body is None
    assert spec.headers == ()


def test_an_undefined_query_input_leaves_the_parameter_out() -> None:
    assert build_request("greet", "query").target == "/greet"


def test_a_null_query_input_is_sent_as_null() -> None:
    assert build_request("greet", "query", None).target == "/greet?input=null"


def test_the_query_string_uses_encodeURIComponent_rules() -> None:
    spec = build_request("greet", "query", "-_.!~*'() /?é")
    assert spec.query == "input=%22-_.!~*'()%20%2F%3F%5Cu00e9%22"


def test_a_mutation_is_a_POST_with_a_JSON_body_and_content_type() -> None:
    spec = build_request("add", "mutation", {"a": 1})
    assert (spec.method, spec.target, spec.body) == ("POST", "/add", b'{"a":1}')
    assert spec.headers == (("content-type", "application/json"),)


def test_an_undefined_mutation_input_is_an_empty_body() -> None:
    assert build_request("add", "mutation").body == b""


def test_subscriptions_are_not_built_for_HTTP() -> None:
    with pytest.raises(ValueError, match="WebSocket"):
        build_request("count", "subscription")  # type: ignore[arg-type]


def test_an_input_JSON_cannot_carry_fails_before_sending() -> None:
    with pytest.raises(JSONEncodeError):
        build_request("add", "mutation", {"x": float("inf")})


def test_a_batch_joins_paths_with_commas_and_keys_inputs_by_index() -> None:
    spec = build_batch_request("query", [("greet", ABSENT), ("post.byId", {"name": "b"})])
    assert spec.path == "/greet,post.byId"
    assert spec.query.startswith("batch=1&input=")
    assert json.loads(unquote(spec.query.split("input=")[1])) == {"1": {"name": "b"}}


def test_a_batch_always_sends_an_input_object() -> None:
    spec = build_batch_request("query", [("greet", ABSENT)])
    assert spec.query == "batch=1&input=%7B%7D"


def test_a_mutation_batch_puts_the_input_object_in_the_body() -> None:
    spec = build_batch_request("mutation", [("add", 1), ("add", 2)])
    assert (spec.method, spec.target, spec.body) == ("POST", "/add,add?batch=1", b'{"0":1,"1":2}')


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError):
        build_batch_request("query", [])


def test_a_single_success() -> None:
    assert parse_response(200, b'{"result":{"data":"hello world"}}') == [Ok("hello world")]


def test_a_single_error() -> None:
    body = (
        b'{"error":{"message":"nope","code":-32004,'
        b'"data":{"code":"NOT_FOUND","httpStatus":404,"path":"fail"}}}'
    )
    [result] = parse_response(404, body)
    assert isinstance(result, Err)
    assert (result.key, result.http_status) == ("NOT_FOUND", 404)


def test_a_batch_array_gives_one_result_per_call_in_order() -> None:
    body = (
        b'[{"result":{"data":"hello world"}},'
        b'{"error":{"message":"nope","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"fail"}}}]'
    )
    first, second = parse_response(207, body, n_calls=2, is_batch=True)
    assert first == Ok("hello world")
    assert isinstance(second, Err) and second.http_status == 404


def test_a_top_level_error_for_a_batch_is_copied_to_every_call() -> None:
    body = (
        b'{"error":{"message":"Cannot mix procedure types in call: query, mutation",'
        b'"code":-32600,"data":{"code":"BAD_REQUEST","httpStatus":400}}}'
    )
    results = parse_response(400, body, n_calls=3, is_batch=True)
    assert len(results) == 3
    assert all(isinstance(r, Err) and r.key == "BAD_REQUEST" for r in results)


def test_a_single_success_object_for_a_batch_is_malformed() -> None:
    results = parse_response(200, b'{"result":{"data":1}}', n_calls=2, is_batch=True)
    assert all(isinstance(r, Malformed) for r in results)


def test_a_batch_array_of_the_wrong_length_is_malformed_for_every_call() -> None:
    results = parse_response(200, b'[{"result":{"data":1}}]', n_calls=2, is_batch=True)
    assert [type(r) for r in results] == [Malformed, Malformed]
    assert "1 envelopes for 2 calls" in results[0].reason  # type: ignore[union-attr]


def test_an_array_for_a_single_call_is_malformed() -> None:
    [result] = parse_response(200, b"[]")
    assert isinstance(result, Malformed)


def test_a_proxy_html_page_is_malformed_with_its_status_and_an_excerpt() -> None:
    [result] = parse_response(502, b"<html><body>Bad Gateway</body></html>")
    assert isinstance(result, Malformed)
    assert result.http_status == 502
    assert result.body_excerpt.startswith("<html>")
    assert "Invalid JSON" in result.reason


def test_an_empty_body_is_malformed() -> None:
    [result] = parse_response(200, b"")
    assert isinstance(result, Malformed) and result.reason == "response body is empty"


def test_a_body_that_is_not_UTF8_is_malformed() -> None:
    [result] = parse_response(200, b"\xff\xfe{")
    assert isinstance(result, Malformed)


def test_a_long_body_is_excerpted() -> None:
    [result] = parse_response(500, b"x" * 10_000)
    assert isinstance(result, Malformed) and len(result.body_excerpt) < 300


def test_the_request_id_header_is_read_in_any_case() -> None:
    assert request_id_from_headers({"X-Request-Id": "req_9"}) == "req_9"
    assert request_id_from_headers({"content-type": "x"}) is None
