"""The error code table of trpc-protocol.md §4."""

from __future__ import annotations

from typing import get_args

import pytest

from kairos._trpc.codes import (
    ERROR_CODES,
    KEY_BY_HTTP_STATUS,
    KEY_BY_NUMBER,
    ErrorKey,
    is_error_key,
    is_retryable_shape,
    key_from_shape,
)
from kairos_api.models import TRPCErrorCode

TABLE = [
    ("PARSE_ERROR", -32700, 400),
    ("BAD_REQUEST", -32600, 400),
    ("INTERNAL_SERVER_ERROR", -32603, 500),
    ("NOT_IMPLEMENTED", -32603, 501),
    ("BAD_GATEWAY", -32603, 502),
    ("SERVICE_UNAVAILABLE", -32603, 503),
    ("GATEWAY_TIMEOUT", -32603, 504),
    ("UNAUTHORIZED", -32001, 401),
    ("PAYMENT_REQUIRED", -32002, 402),
    ("FORBIDDEN", -32003, 403),
    ("NOT_FOUND", -32004, 404),
    ("METHOD_NOT_SUPPORTED", -32005, 405),
    ("TIMEOUT", -32008, 408),
    ("CONFLICT", -32009, 409),
    ("PRECONDITION_FAILED", -32012, 412),
    ("PAYLOAD_TOO_LARGE", -32013, 413),
    ("UNSUPPORTED_MEDIA_TYPE", -32015, 415),
    ("UNPROCESSABLE_CONTENT", -32022, 422),
    ("PRECONDITION_REQUIRED", -32028, 428),
    ("TOO_MANY_REQUESTS", -32029, 429),
    ("CLIENT_CLOSED_REQUEST", -32099, 499),
]


@pytest.mark.parametrize(("key", "number", "status"), TABLE)
def test_every_key_has_its_number_and_http_status(key: str, number: int, status: int) -> None:
    row = ERROR_CODES[key]
    assert (row.key, row.number, row.http_status) == (key, number, status)


def test_the_table_has_exactly_the_tRPC_keys_of_the_schema() -> None:
    assert set(ERROR_CODES) == {key for key, _, _ in TABLE}
    assert set(get_args(ErrorKey)) == set(ERROR_CODES)
    assert set(get_args(TRPCErrorCode.__value__)) == set(ERROR_CODES)


def test_the_shared_number_maps_back_to_internal_server_error() -> None:
    assert KEY_BY_NUMBER[-32603] == "INTERNAL_SERVER_ERROR"
    assert KEY_BY_NUMBER[-32004] == "NOT_FOUND"


def test_a_bare_status_maps_to_its_plain_key() -> None:
    assert KEY_BY_HTTP_STATUS[400] == "BAD_REQUEST"
    assert KEY_BY_HTTP_STATUS[500] == "INTERNAL_SERVER_ERROR"
    assert KEY_BY_HTTP_STATUS[503] == "SERVICE_UNAVAILABLE"
    assert len(KEY_BY_HTTP_STATUS) == len(ERROR_CODES) - 1


def test_key_recovery_prefers_data_code_over_the_number() -> None:
    shape = {"message": "down", "code": -32603, "data": {"code": "SERVICE_UNAVAILABLE"}}
    assert key_from_shape(shape) == "SERVICE_UNAVAILABLE"


def test_key_recovery_falls_back_to_the_number_when_data_is_stripped() -> None:
    assert key_from_shape({"message": "x", "code": -32603}) == "INTERNAL_SERVER_ERROR"
    assert key_from_shape({"message": "x", "code": -32029, "data": {}}) == "TOO_MANY_REQUESTS"


def test_key_recovery_falls_back_to_the_http_status_last() -> None:
    assert key_from_shape({"message": "x", "code": -1}, http_status=503) == "SERVICE_UNAVAILABLE"
    assert key_from_shape({"message": "x", "code": -1}) is None


def test_an_unknown_key_in_data_is_kept_not_renamed() -> None:
    assert key_from_shape({"code": -32004, "data": {"code": "TEAPOT"}}) == "TEAPOT"
    assert not is_error_key("TEAPOT")
    assert is_error_key("NOT_FOUND")


@pytest.mark.parametrize(("key", "number", "status"), TABLE)
def test_retryable_in_tRPC_means_the_5xx_number(key: str, number: int, status: int) -> None:
    assert is_retryable_shape({"code": number}) is (status >= 500)
