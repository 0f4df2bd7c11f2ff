"""The server's error details are built with the generated models, so the schema decides their
shape: each one round-trips through ``$defs/ErrorShape``, and a detail the schema does not allow
cannot be built at all."""

from __future__ import annotations

import pydantic
import pytest

from kairos.server import _details
from kairos_api import models

ERRORS = [
    _details.limit_error("PAYLOAD_TOO_LARGE", "too big", "max_body_bytes", 10),
    _details.limit_error("BAD_REQUEST", "too long", "max_ticks", 100, actual=1000, path="p"),
    _details.rate_limit_error(3),
    _details.validation_error("bad", [{"path": "ticks", "message": "must be >= 1"}]),
    _details.simulation_error("sim_abc", "cancelled", "cancelled at tick 3"),
    _details.engine_version_error("retired", "1.3.2", ["1.4.4", "1.5.0"]),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: str(e.kairos and e.kairos["kind"]))
def test_every_detail_is_a_valid_error_shape(error) -> None:
    shape = error.shape(request_id="req_1")
    parsed = models.ErrorShape.model_validate(shape)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_none=True) == shape


def test_an_optional_field_left_out_is_absent_not_null() -> None:
    error = _details.limit_error("PAYLOAD_TOO_LARGE", "too big", "max_body_bytes", 10)
    assert error.kairos == {"kind": "limit", "limit": "max_body_bytes", "maximum": 10}


def test_a_detail_outside_the_schema_cannot_be_built() -> None:
    with pytest.raises(pydantic.ValidationError):
        _details.validation_error("bad", [{"path": "ticks", "message": "x", "hint": "y"}])
