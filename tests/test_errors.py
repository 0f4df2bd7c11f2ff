"""The public exception hierarchy (kairos-api.md §4, §5)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from kairos._trpc.codes import ERROR_CODES
from kairos._trpc.envelopes import error_shape
from kairos.errors import (
    APIConnectionError,
    APIError,
    APIProtocolError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EngineVersionError,
    InternalServerError,
    Issue,
    KairosError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SimulationError,
    ValidationError,
    error_from_malformed,
    error_from_shape,
    redact,
)

CLASS_BY_KEY: dict[str, type[APIError]] = {
    "PARSE_ERROR": BadRequestError,
    "BAD_REQUEST": BadRequestError,
    "INTERNAL_SERVER_ERROR": InternalServerError,
    "NOT_IMPLEMENTED": InternalServerError,
    "BAD_GATEWAY": InternalServerError,
    "SERVICE_UNAVAILABLE": InternalServerError,
    "GATEWAY_TIMEOUT": InternalServerError,
    "UNAUTHORIZED": AuthenticationError,
    "PAYMENT_REQUIRED": APIError,
    "FORBIDDEN": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "METHOD_NOT_SUPPORTED": APIError,
    "TIMEOUT": APIError,
    "CONFLICT": ConflictError,
    "PRECONDITION_FAILED": APIError,
    "PAYLOAD_TOO_LARGE": APIError,
    "UNSUPPORTED_MEDIA_TYPE": APIError,
    "UNPROCESSABLE_CONTENT": BadRequestError,
    "PRECONDITION_REQUIRED": APIError,
    "TOO_MANY_REQUESTS": RateLimitError,
    "CLIENT_CLOSED_REQUEST": APIError,
}


def from_key(key: str, **kwargs: Any) -> APIError:
    shape = error_shape(key, f"{key} happened", path="simulation.get", **kwargs)  # type: ignore[arg-type]
    return error_from_shape(shape, http_status=ERROR_CODES[key].http_status, request_id="req_1")


def test_the_table_covers_every_key() -> None:
    assert set(CLASS_BY_KEY) == set(ERROR_CODES)


@pytest.mark.parametrize(("key", "cls"), sorted(CLASS_BY_KEY.items()))
def test_every_key_maps_to_its_exception_class(key: str, cls: type[APIError]) -> None:
    error = from_key(key)
    assert type(error) is cls
    assert (error.code, error.http_status, error.path, error.request_id) == (
        key,
        ERROR_CODES[key].http_status,
        "simulation.get",
        "req_1",
    )
    assert error.message == f"{key} happened"
    assert isinstance(error.body, dict) and error.body["message"] == f"{key} happened"


def test_the_key_comes_from_the_number_when_data_is_missing() -> None:
    error = error_from_shape({"message": "x", "code": -32004}, http_status=404)
    assert type(error) is NotFoundError and error.code == "NOT_FOUND"


def test_unknown_keys_are_plain_APIError_or_InternalServerError_for_5xx() -> None:
    shape = {"message": "x", "code": -32000, "data": {"code": "TEAPOT", "httpStatus": 418}}
    error = error_from_shape(shape, http_status=418)
    assert type(error) is APIError and error.code == "TEAPOT"
    shape = {"message": "x", "code": -32000, "data": {"code": "MELTDOWN", "httpStatus": 599}}
    assert type(error_from_shape(shape, http_status=599)) is InternalServerError


def test_the_shape_path_and_request_id_win_over_the_callers() -> None:
    shape = error_shape("NOT_FOUND", "x", path="simulation.trace", request_id="req_shape")
    error = error_from_shape(shape, http_status=404, path="other", request_id="req_header")
    assert (error.path, error.request_id) == ("simulation.trace", "req_shape")


def test_http_status_falls_back_to_the_shape() -> None:
    assert error_from_shape(error_shape("CONFLICT", "x"), http_status=None).http_status == 409


def test_engine_version_error_lists_the_active_versions() -> None:
    error = from_key(
        "PRECONDITION_FAILED",
        kairos={"kind": "engine_version", "requested": "0.9.0", "active": ["1.4.4", "1.5.0"]},
    )
    assert isinstance(error, EngineVersionError)
    assert (error.requested, error.available) == ("0.9.0", ["1.4.4", "1.5.0"])
    assert "1.4.4, 1.5.0" in str(error) and "0.9.0" in str(error)
    assert error.code == "PRECONDITION_FAILED"


def test_a_malformed_engine_version_detail_is_a_plain_precondition_error() -> None:
    error = from_key("PRECONDITION_FAILED", kairos={"kind": "engine_version", "requested": "x"})
    assert type(error) is APIError
    assert error.detail == {"kind": "engine_version", "requested": "x"}


def test_rate_limit_error_reads_retry_after_from_the_detail_or_the_header() -> None:
    error = from_key("TOO_MANY_REQUESTS", kairos={"kind": "rate_limit", "retryAfter": 2.5})
    assert isinstance(error, RateLimitError) and error.retry_after == 2.5
    shape = error_shape("TOO_MANY_REQUESTS", "x", kairos={"kind": "rate_limit", "retryAfter": 2.5})
    header_wins = error_from_shape(shape, http_status=429, retry_after=4.0)
    assert isinstance(header_wins, RateLimitError) and header_wins.retry_after == 4.0
    assert from_key("TOO_MANY_REQUESTS").retry_after is None  # type: ignore[attr-defined]


def test_a_simulation_detail_gives_simulation_error_whatever_the_key() -> None:
    detail = {"kind": "simulation", "simulationId": "sim_1", "reason": "engine_fault"}
    error = from_key("INTERNAL_SERVER_ERROR", kairos=detail)
    assert isinstance(error, SimulationError)
    assert (error.simulation_id, error.reason, error.code) == (
        "sim_1",
        "engine_fault",
        "INTERNAL_SERVER_ERROR",
    )


def test_bad_request_is_both_an_API_error_and_a_validation_error_with_issues() -> None:
    detail = {
        "kind": "validation",
        "issues": [
            {"path": "models[0].capabilityIndex", "message": "must be between 0 and 1000"},
            {"path": "ticks", "message": "must be positive"},
        ],
    }
    error = from_key("BAD_REQUEST", kairos=detail)
    assert isinstance(error, BadRequestError)
    assert isinstance(error, APIError) and isinstance(error, ValidationError)
    assert error.issues == (
        Issue("models[0].capabilityIndex", "must be between 0 and 1000"),
        Issue("ticks", "must be positive"),
    )
    path, message = error.issues[1]
    assert (path, message) == ("ticks", "must be positive")
    assert "models[0].capabilityIndex: must be between 0 and 1000" in str(error)


def test_a_bad_request_without_detail_has_no_issues() -> None:
    error = from_key("BAD_REQUEST")
    assert isinstance(error, BadRequestError) and error.issues == ()


def test_client_side_validation_error_lists_every_problem() -> None:
    error = ValidationError([("a", "too big"), Issue("b[1].c", "missing")])
    assert error.issues == (Issue("a", "too big"), Issue("b[1].c", "missing"))
    assert str(error) == "Invalid input (2 problems):\n  - a: too big\n  - b[1].c: missing"
    assert not isinstance(error, APIError)


def test_a_custom_validation_message_keeps_the_issue_list() -> None:
    error = ValidationError([("seed", "must be an integer")], "Scenario 'x' is invalid")
    assert str(error) == "Scenario 'x' is invalid:\n  - seed: must be an integer"


def test_str_carries_the_context_a_log_needs() -> None:
    error = from_key("NOT_FOUND")
    assert str(error) == (
        "NOT_FOUND happened (code='NOT_FOUND', http_status=404, path='simulation.get', "
        "request_id='req_1')"
    )
    assert repr(error).startswith("NotFoundError('NOT_FOUND happened', code='NOT_FOUND'")


def test_connection_errors_carry_path_and_cause() -> None:
    cause = ConnectionResetError("peer reset")
    error = APIConnectionError(path="simulation.stream", cause=cause)
    assert (error.path, error.cause) == ("simulation.stream", cause)
    assert (
        str(error)
        == "Connection error. (path='simulation.stream'): ConnectionResetError: peer reset"
    )
    timeout = APITimeoutError(path="simulation.get")
    assert isinstance(timeout, APIConnectionError) and str(timeout).startswith("Request timed out.")
    assert not isinstance(error, APIError)


def test_everything_is_a_kairos_error() -> None:
    for cls in [
        *set(CLASS_BY_KEY.values()),
        EngineVersionError,
        SimulationError,
        APIProtocolError,
        ValidationError,
        APIConnectionError,
        APITimeoutError,
    ]:
        assert issubclass(cls, KairosError)


def test_a_proxy_error_page_keeps_the_meaning_of_its_status() -> None:
    error = error_from_malformed(503, "Invalid JSON", "<html>busy</html>", path="simulation.get")
    assert type(error) is InternalServerError
    assert (error.code, error.http_status, error.body) == (
        "SERVICE_UNAVAILABLE",
        503,
        "<html>busy</html>",
    )
    assert "<html>busy</html>" in str(error)
    limited = error_from_malformed(429, "Invalid JSON", "slow down", retry_after=3.0)
    assert isinstance(limited, RateLimitError) and limited.retry_after == 3.0
    assert type(error_from_malformed(418, "x", "")) is APIError


def test_an_unusable_success_body_is_a_protocol_error() -> None:
    error = error_from_malformed(200, "response body is empty", "")
    assert type(error) is APIProtocolError and error.http_status == 200


SECRET = "krs_live_9f8e7d6c5b4a"


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {SECRET}",
        f"bad key {SECRET}",
        f'{{"authorization":"Bearer {SECRET}"}}',
        f"api_key={SECRET}",
        "x-api-key: s3cr3tvalue",
    ],
)
def test_secrets_never_reach_messages_reprs_or_bodies(text: str) -> None:
    secret = "s3cr3tvalue" if "s3cr3t" in text else SECRET
    assert secret not in redact(text)
    shape = {
        "message": text,
        "code": -32001,
        "data": {"code": "UNAUTHORIZED", "httpStatus": 401, "echo": text},
    }
    errors: list[KairosError] = [
        error_from_shape(shape, http_status=401),
        error_from_malformed(502, "Invalid JSON", text),
        APIConnectionError(text, cause=OSError(text)),
        ValidationError([("key", text)]),
    ]
    for error in errors:
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in repr(getattr(error, "body", None))


def test_every_exception_pickles_with_its_attributes() -> None:
    errors: list[KairosError] = [from_key(key) for key in ERROR_CODES]
    errors += [
        from_key(
            "PRECONDITION_FAILED",
            kairos={"kind": "engine_version", "requested": "0.1", "active": ["1.4.4"]},
        ),
        from_key(
            "BAD_REQUEST", kairos={"kind": "validation", "issues": [{"path": "p", "message": "m"}]}
        ),
        ValidationError([("p", "m")]),
        APIConnectionError(path="x", cause=OSError("boom")),
        APITimeoutError(),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        for name in (
            "code",
            "http_status",
            "path",
            "request_id",
            "issues",
            "available",
            "requested",
            "retry_after",
        ):
            if hasattr(error, name):
                assert getattr(copy, name) == getattr(error, name)
