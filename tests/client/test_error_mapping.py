"""Every tRPC error code, as the client raises it: class, code, status, path, request id.

The server under test cannot be made to answer every code, so the fault proxy answers with the
envelope a tRPC server writes; both drivers are exercised.
"""

from __future__ import annotations

import pytest

from kairos._trpc.codes import ERROR_CODES
from kairos.client import KairosClient
from kairos.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)

from .faults import FaultProxy, error_body

EXPECTED: dict[str, type[APIError]] = {
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


def test_the_table_covers_every_code() -> None:
    assert set(EXPECTED) == set(ERROR_CODES)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("key", sorted(ERROR_CODES))
async def test_error_code_maps_to_its_exception(
    proxy: FaultProxy, key: str, use_async: bool
) -> None:
    row = ERROR_CODES[key]
    body = error_body(key, row.http_status, row.number, "simulation.get")
    proxy.default = ("status", row.http_status, {"x-request-id": "req_injected"}, body)
    with (
        KairosClient(proxy.start_url, max_retries=0) as client,
        pytest.raises(APIError) as info,
    ):
        if use_async:
            await client.simulation.aget(id="sim_abc")
        else:
            client.simulation.get(id="sim_abc")
    error = info.value
    assert type(error) is EXPECTED[key]
    assert error.code == key
    assert error.http_status == row.http_status
    assert error.path == "simulation.get"
    assert error.request_id == "req_injected"


def test_a_real_not_found_carries_the_servers_request_id(proxy: FaultProxy) -> None:
    with KairosClient(proxy.start_url) as client, pytest.raises(NotFoundError) as info:
        client.simulation.get(id="sim_doesnotexist")
    assert info.value.request_id is not None and info.value.request_id.startswith("req_")
    assert info.value.http_status == 404
