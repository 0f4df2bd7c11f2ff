"""tRPC over HTTP against a real server: envelopes, statuses, batching, limits, procedures."""

from __future__ import annotations

import json
from typing import Any

from kairos import engine
from kairos.server import ServerThread
from tests.server.conftest import EXECUTORS, SCENARIO, Wire


def test_query_and_mutation_envelopes(wire: Wire) -> None:
    versions = wire.query("engine.versions")
    assert versions.status_code == 200
    assert versions.headers["content-type"] == "application/json"
    assert versions.headers["vary"] == "trpc-accept, accept"
    body = versions.json()
    assert set(body) == {"result"} and set(body["result"]) == {"data"}
    assert body["result"]["data"] == engine.engine_versions()

    record = wire.create(ticks=50)
    assert record["id"].startswith("sim_") and record["status"] in ("queued", "running")
    assert record["ticks"] == 50 and record["seed"] == 7 and record["engineVersion"] == "1.5.0"


def test_errors_have_the_trpc_shape_and_status(wire: Wire) -> None:
    response = wire.query("simulation.get", {"id": "sim_missing"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert list(error) == ["message", "code", "data"]
    assert error["code"] == -32004
    assert error["data"]["code"] == "NOT_FOUND"
    assert error["data"]["httpStatus"] == 404
    assert error["data"]["path"] == "simulation.get"
    assert error["data"]["requestId"] == response.headers["x-request-id"]
    assert "stack" not in error["data"]


def test_protocol_errors(wire: Wire, server: ServerThread) -> None:
    wrong_method = wire.query("simulation.create", {"ticks": 1})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert (
        "Unsupported GET-request to mutation procedure" in wrong_method.json()["error"]["message"]
    )

    no_content_type = wire.http.post("/simulation.create", content=b"{}")
    assert no_content_type.status_code == 415
    assert no_content_type.json()["error"]["message"] == "Missing content-type header"

    unknown = wire.query("simulation.nope")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == 'No procedure found on path "simulation.nope"'

    assert wire.http.head("/engine.versions").status_code == 204

    bad_json = wire.http.get("/simulation.get", params={"input": "{not json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["data"]["code"] == "BAD_REQUEST"

    subscription = wire.mutate("simulation.stream", {"id": "x"})
    assert subscription.status_code == 200, "as in tRPC, the 405 arrives inside the SSE stream"
    assert subscription.headers["content-type"] == "text/event-stream"
    assert "event: serialized-error" in subscription.text
    assert "Unsupported POST-request to subscription procedure" in subscription.text


def test_batches(wire: Wire) -> None:
    both_ok = wire.http.get("/engine.versions,domain.list", params={"batch": "1", "input": "{}"})
    assert both_ok.status_code == 200
    assert [list(item) for item in both_ok.json()] == [["result"], ["result"]]

    mixed = wire.http.get(
        "/engine.versions,simulation.get",
        params={"batch": "1", "input": json.dumps({"1": {"id": "sim_missing"}})},
    )
    assert mixed.status_code == 207
    first, second = mixed.json()
    assert "result" in first and second["error"]["data"]["code"] == "NOT_FOUND"
    assert second["error"]["data"]["path"] == "simulation.get"

    both_missing = wire.http.get(
        "/simulation.get,simulation.get",
        params={"batch": "1", "input": json.dumps({"0": {"id": "a"}, "1": {"id": "b"}})},
    )
    assert both_missing.status_code == 404
    assert len(both_missing.json()) == 2

    kinds = wire.http.post("/engine.versions,simulation.cancel?batch=1", json={"1": {"id": "x"}})
    assert kinds.status_code == 400
    assert isinstance(kinds.json(), dict), "a request-level error is one object, not an array"
    assert "Cannot mix procedure types" in kinds.json()["error"]["message"]

    not_object = wire.http.get("/simulation.get", params={"batch": "1", "input": "[1]"})
    assert not_object.status_code == 400
    assert "needs to be an object" in not_object.json()[0]["error"]["message"]
    # As in @trpc/server, a procedure without input never parses one.
    ignored = wire.http.get("/engine.versions", params={"batch": "1", "input": "[1]"})
    assert ignored.status_code == 200

    too_big = wire.http.get("/" + ",".join(["engine.versions"] * 65), params={"batch": "1"})
    assert too_big.status_code == 400
    assert too_big.json()["error"]["message"] == "Batch call exceeds maximum size"


def test_bad_input_names_every_field(wire: Wire) -> None:
    scenario = {
        **SCENARIO,
        "seed": -3,
        "models": [{"name": "m", "capabilityIndex": 5000, "alignmentScore": 70}],
    }
    response = wire.mutate("simulation.create", {"scenario": scenario, "ticks": 0})
    assert response.status_code == 400
    error = response.json()["error"]
    issues = error["data"]["kairos"]["issues"]
    assert error["data"]["kairos"]["kind"] == "validation"
    assert {i["path"] for i in issues} == {
        "scenario.seed",
        "scenario.models[0].capabilityIndex",
        "ticks",
    }
    assert "scenario.models[0].capabilityIndex" in error["message"]


def test_semantic_scenario_problems_are_refused(wire: Wire) -> None:
    scenario = {
        **SCENARIO,
        "events": [{"tick": 10, "type": "capability_jump", "target": "nobody", "magnitude": 0.3}],
    }
    response = wire.mutate("simulation.create", {"scenario": scenario, "ticks": 5})
    assert response.status_code == 400
    paths = {i["path"] for i in response.json()["error"]["data"]["kairos"]["issues"]}
    assert "scenario.events[0].target" in paths, "paths are relative to the input, as always"
    assert "scenario.events[0].tick" in paths, "an event after the last tick is refused"


def test_body_over_the_limit_is_413(wire: Wire) -> None:
    payload = {"scenario": {**SCENARIO, "name": "x" * (2 << 20)}, "ticks": 10}
    response = wire.mutate("simulation.create", payload)
    assert response.status_code == 413
    detail = response.json()["error"]["data"]["kairos"]
    assert detail == {"kind": "limit", "limit": "max_body_bytes", "maximum": 1 << 20}


def test_engine_version_pins(wire: Wire) -> None:
    versions = wire.data(wire.query("engine.versions"))
    active = [v["version"] for v in versions["active"]]
    retired = versions["retired"][0]["version"]

    pinned = wire.data(
        wire.mutate(
            "simulation.create", {"scenario": SCENARIO, "ticks": 20, "engineVersion": "1.4.4"}
        )
    )
    assert pinned["engineVersion"] == "1.4.4"
    by_header = wire.mutate(
        "simulation.create",
        {"scenario": SCENARIO, "ticks": 20},
        headers={"x-kairos-engine-version": "1.4.4"},
    )
    assert wire.data(by_header)["engineVersion"] == "1.4.4"

    refused = wire.mutate(
        "simulation.create", {"scenario": SCENARIO, "ticks": 20, "engineVersion": retired}
    )
    assert refused.status_code == 412
    error = refused.json()["error"]
    assert error["data"]["code"] == "PRECONDITION_FAILED"
    assert error["data"]["kairos"] == {
        "kind": "engine_version",
        "requested": retired,
        "active": active,
    }
    unknown = wire.mutate(
        "simulation.create", {"scenario": SCENARIO, "ticks": 20, "engineVersion": "9.9.9"}
    )
    assert unknown.status_code == 412


@EXECUTORS
def test_idempotency_keys(wire: Wire) -> None:
    request = {"scenario": SCENARIO, "ticks": 30, "idempotencyKey": "job-42"}
    first = wire.data(wire.mutate("simulation.create", request))
    again = wire.data(wire.mutate("simulation.create", request))
    assert again["id"] == first["id"]
    conflict = wire.mutate("simulation.create", {**request, "ticks": 31})
    assert conflict.status_code == 409
    assert first["id"] in conflict.json()["error"]["message"]


@EXECUTORS
def test_a_run_completes_with_the_engines_exact_trace(wire: Wire) -> None:
    record = wire.wait(wire.create(ticks=600)["id"])
    assert record["status"] == "completed" and record["tick"] == 600
    expected = engine.run(SCENARIO, 600, "1.5.0")
    assert record["summary"] == json.loads(engine.canonical_json(engine.summarize(expected)))
    steps: list[dict[str, Any]] = []
    from_tick: int | None = 1
    while from_tick is not None:
        page = wire.data(
            wire.query(
                "simulation.trace", {"id": record["id"], "fromTick": from_tick, "limit": 250}
            )
        )
        steps += page["steps"]
        from_tick = page["nextTick"]
    assert [s["t"] for s in steps] == list(range(1, 601))
    assert engine.trace_sha256(steps) == engine.trace_sha256(expected)


@EXECUTORS
def test_trace_pages_past_the_end(wire: Wire) -> None:
    record = wire.wait(wire.create(ticks=10)["id"])
    page = wire.data(wire.query("simulation.trace", {"id": record["id"], "fromTick": 11}))
    assert page == {"steps": [], "nextTick": None}
    page = wire.data(
        wire.query("simulation.trace", {"id": record["id"], "fromTick": 9, "limit": 5})
    )
    assert [s["t"] for s in page["steps"]] == [9, 10] and page["nextTick"] is None


def test_list_pages_newest_first(wire: Wire) -> None:
    created = [wire.create(ticks=5, name=f"listing {n}")["id"] for n in range(5)]
    page = wire.data(wire.query("simulation.list", {"limit": 3}))
    assert [s["id"] for s in page["items"]] == created[::-1][:3]
    rest = wire.data(wire.query("simulation.list", {"limit": 2, "cursor": page["nextCursor"]}))
    assert [s["id"] for s in rest["items"]] == created[::-1][3:5]
    garbage = wire.query("simulation.list", {"cursor": "not-a-cursor"})
    assert garbage.status_code == 400


@EXECUTORS
def test_cancel(wire: Wire) -> None:
    long_run = wire.create(ticks=1_000_000)
    cancelled = wire.data(wire.mutate("simulation.cancel", {"id": long_run["id"]}))
    assert cancelled["status"] == "cancelled"
    assert cancelled["completedAt"] is not None and cancelled["tick"] < 1_000_000
    # Cancelling again changes nothing.
    assert wire.data(wire.mutate("simulation.cancel", {"id": long_run["id"]})) == cancelled
    done = wire.wait(wire.create(ticks=5)["id"])
    assert wire.data(wire.mutate("simulation.cancel", {"id": done["id"]}))["status"] == "completed"


def test_ticks_over_the_server_limit(wire: Wire) -> None:
    response = wire.mutate("simulation.create", {"scenario": SCENARIO, "ticks": 2_000_000})
    assert response.status_code == 400
    assert response.json()["error"]["data"]["kairos"]["limit"] == "max_ticks"


def test_validate_reports_every_problem(wire: Wire) -> None:
    good = wire.data(wire.query("scenario.validate", {"scenario": SCENARIO}))
    assert good == {"valid": True, "issues": []}
    bad = {"name": "", "seed": 1.5, "models": [{"name": "m", "capabilityIndex": 0}]}
    result = wire.data(wire.query("scenario.validate", {"scenario": bad}))
    assert result["valid"] is False
    paths = {i["path"] for i in result["issues"]}
    assert {"name", "seed", "models[0].capabilityIndex", "models[0].alignmentScore"} <= paths


def test_domain_list_describes_the_vocabulary(wire: Wire) -> None:
    assert wire.data(wire.query("domain.list")) == engine.domain_info()
