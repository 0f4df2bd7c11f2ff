"""Every mistake a user can make with the client is a ``kairos.errors.ValidationError`` (so a
``KairosError``) that names the argument, raised before anything is sent; against a real
server on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos import engine
from kairos.client import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.errors import Issue, KairosError, ValidationError
from kairos.server import ServerThread
from kairos.trace._trace_file import step_wire
from kairos_api import Simulation, ValidationResult

from .conftest import scenario

URL_PLACEHOLDER = "http://127.0.0.1:9"


def late_scenario() -> AISafetyScenario:
    """A scenario with a capability jump at tick 100."""
    return (
        AISafetyScenario("late event", seed=5)
        .add_model(name="model", capability_index=450, alignment_score=70, guardrail_coverage=60)
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


def paths(error: ValidationError) -> list[str]:
    return [issue.path for issue in error.issues]


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Any:
    with KairosClient(url=server.url) as shared:
        yield shared


# -- the constructor and with_options --------------------------------------------------------

CONSTRUCTOR_MISTAKES: list[tuple[dict[str, Any], str]] = [
    ({"engine_version": 1.44}, "engine_version"),
    ({"engine_version": "1.4"}, "engine_version"),
    ({"timeout": "30"}, "timeout"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": float("inf")}, "timeout"),
    ({"timeout": None}, "timeout"),
    ({"url": "localhost:8787"}, "url"),
    ({"url": "http://"}, "url"),
    ({"url": 8787}, "url"),
    ({"url": "http://127.0.0.1:port"}, "url"),
    ({"url": "http://127.0.0.1:99999"}, "url"),
    ({"url": "http://my host"}, "url"),
    ({"timeout": 10**400}, "timeout"),
    ({"api_key": 12345}, "api_key"),
    ({"api_key": "krs_line\nbreak"}, "api_key"),
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": 2.5}, "max_retries"),
    ({"max_retries": True}, "max_retries"),
    ({"retry_backoff": -1}, "retry_backoff"),
    ({"retry_backoff": "1"}, "retry_backoff"),
    ({"stream_idle_timeout": 0}, "stream_idle_timeout"),
    ({"stream_idle_timeout": "5"}, "stream_idle_timeout"),
    ({"retry_create_on_connection_error": "yes"}, "retry_create_on_connection_error"),
    ({"default_headers": ["x-a", "b"]}, "default_headers"),
    ({"default_headers": {"x-a": 1}}, "default_headers['x-a']"),
    ({"default_headers": {"bad name": "v"}}, "default_headers['bad name']"),
    ({"default_headers": {"x-a": "one\r\ntwo"}}, "default_headers['x-a']"),
]


@pytest.mark.parametrize(("kwargs", "name"), CONSTRUCTOR_MISTAKES)
def test_constructor_arguments_are_checked_at_once(kwargs: dict[str, Any], name: str) -> None:
    kwargs.setdefault("url", URL_PLACEHOLDER)
    with pytest.raises(ValidationError) as info:
        KairosClient(**kwargs)
    assert paths(info.value) == [name]
    assert "KairosClient()" in str(info.value)


def test_every_bad_constructor_argument_is_reported_together() -> None:
    with pytest.raises(ValidationError) as info:
        KairosClient(url=URL_PLACEHOLDER, timeout="30", engine_version=1.44, max_retries=-1)  # type: ignore[arg-type]
    assert sorted(paths(info.value)) == ["engine_version", "max_retries", "timeout"]


def test_a_bad_argument_starts_no_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from kairos.client import _embedded

    monkeypatch.delenv("KAIROS_URL", raising=False)
    started: list[bool] = []
    monkeypatch.setattr(_embedded, "acquire", lambda: started.append(True) or URL_PLACEHOLDER)
    with pytest.raises(ValidationError):
        KairosClient(timeout=-1)
    assert started == []


def test_a_mistake_in_the_api_key_is_named_without_being_shown() -> None:
    with pytest.raises(ValidationError) as info:
        KairosClient(url=URL_PLACEHOLDER, api_key="krs_secret\nvalue")
    assert "api_key: must be printable ASCII" in str(info.value)
    assert "krs_secret" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"timeout": -1}, "timeout"),
        ({"engine_version": 2}, "engine_version"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"retry_backoff": float("nan")}, "retry_backoff"),
        ({"stream_idle_timeout": -3}, "stream_idle_timeout"),
        ({"retry_create_on_connection_error": 1}, "retry_create_on_connection_error"),
    ],
)
def test_with_options_checks_its_arguments(kwargs: dict[str, Any], name: str) -> None:
    with KairosClient(url=URL_PLACEHOLDER) as base:
        with pytest.raises(ValidationError) as info:
            base.with_options(**kwargs)
        assert paths(info.value) == [name]
        assert "with_options()" in str(info.value)
        assert base.with_options(max_retries=5).settings.policy.max_retries == 5
        assert base.with_options(max_retries=5).settings.policy.backoff == 1.0


# -- run and arun ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ticks": 50_000_000}, "ticks"),
        ({"ticks": 0}, "ticks"),
        ({"ticks": "10"}, "ticks"),
        ({"ticks": 10.0}, "ticks"),
        ({"ticks": None}, "ticks"),
        ({"ticks": 10, "engine_version": 1.4}, "engine_version"),
        ({"ticks": 10, "engine_version": "latest"}, "engine_version"),
        ({"ticks": 10, "organization_id": 7}, "organization_id"),
        ({"ticks": 10, "idempotency_key": ""}, "idempotency_key"),
        ({"ticks": 10, "progress": 5}, "progress"),
        ({"ticks": 10, "out": 3}, "out"),
        ({"ticks": 10, "drop_late_events": "no"}, "drop_late_events"),
        (
            {"ticks": 10, "retry_create_on_connection_error": "no"},
            "retry_create_on_connection_error",
        ),
    ],
)
def test_run_names_the_bad_argument(
    client: KairosClient, kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValidationError) as info:
        client.run(scenario(), **kwargs)
    assert paths(info.value) == [name]


async def test_arun_names_the_bad_argument(client: KairosClient) -> None:
    with pytest.raises(ValidationError) as info:
        await client.arun(scenario(), ticks=50_000_000)
    assert paths(info.value) == ["ticks"]
    assert "arun()" in str(info.value)


@pytest.mark.parametrize("value", [None, "scenario.json", 42, ["models"]])
def test_run_refuses_what_is_not_a_scenario(client: KairosClient, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        client.run(value, ticks=10)  # type: ignore[arg-type]
    assert paths(info.value) == ["scenario"]


def test_a_dict_that_is_no_scenario_is_described_usefully(client: KairosClient) -> None:
    with pytest.raises(ValidationError) as info:
        client.run({"foo": 1}, ticks=10)
    text = str(info.value)
    assert "None" not in text
    assert "not a KAIROS scenario" in text
    assert set(paths(info.value)) == {
        "scenario.foo",
        "scenario.name",
        "scenario.seed",
        "scenario.models",
    }


def test_bad_out_paths_fail_before_a_simulation_is_created(
    client: KairosClient, tmp_path: Path
) -> None:
    before = len(client.simulation.list(limit=100).items)
    existing = tmp_path / "done.jsonl"
    existing.write_text("keep me")
    for out, fragment in (
        (tmp_path / "missing" / "trace.jsonl", "does not exist"),
        (tmp_path, "is a directory"),
        (existing, "exists"),
    ):
        with pytest.raises(ValidationError, match=fragment) as info:
            client.run(scenario(), ticks=10, out=out)
        assert paths(info.value) == ["out"]
    assert existing.read_text() == "keep me"
    assert len(client.simulation.list(limit=100).items) == before, "nothing was created"


# -- events after the last tick --------------------------------------------------------------


def test_an_event_after_the_last_tick_is_refused_with_the_way_out(client: KairosClient) -> None:
    with pytest.raises(ValidationError) as info:
        client.run(late_scenario(), ticks=50)
    assert paths(info.value) == ["scenario.events[0].tick"]
    assert "drop_late_events=True" in str(info.value)
    assert "run at least 100 ticks" in str(info.value)


def test_drop_late_events_runs_the_first_ticks_of_the_full_scenario(
    client: KairosClient, caplog: pytest.LogCaptureFixture
) -> None:
    source = late_scenario()
    with caplog.at_level(logging.INFO, logger="kairos.client"):
        trace = client.run(source, ticks=50, drop_late_events=True)
    assert "left out 1 event" in caplog.text
    full = engine.run(source.to_wire(), 50, trace.metadata.engine_version)
    # step_wire: the engine's form (a field the step lacks, e.g. 1.6.0's prophecy, stays out).
    assert [step_wire(step) for step in trace] == full
    # Events inside the run are kept: the same option changes nothing when none are late.
    kept = client.run(source, ticks=120, drop_late_events=True)
    assert any(step.events for step in kept)


def test_the_rule_lives_in_the_engines_validator() -> None:
    wire = late_scenario().to_wire()
    assert engine.validate_scenario(wire) == []
    assert engine.validate_scenario(wire, 100) == []
    assert [issue.path for issue in engine.validate_scenario(wire, 99)] == ["events[0].tick"]
    assert engine.late_events(wire, 99) == [0]


def test_one_issue_type() -> None:
    assert Issue is engine.Issue
    issue = engine.validate_scenario({"name": "x", "seed": -1, "models": []})[0]
    assert isinstance(issue, Issue)
    assert issue.to_wire() == {"path": issue.path, "message": issue.message}


# -- the generated procedures ----------------------------------------------------------------


def test_simulation_create_accepts_the_builder(client: KairosClient) -> None:
    record = client.simulation.create(scenario=scenario("from builder"), ticks=20)
    assert isinstance(record, Simulation)
    assert record.scenario_name == "from builder"


async def test_acreate_and_validate_accept_the_builder(client: KairosClient) -> None:
    record = await client.simulation.acreate(scenario=scenario("async builder"), ticks=20)
    assert record.scenario_name == "async builder"
    result = client.scenario.validate(scenario=scenario())
    assert isinstance(result, ValidationResult) and result.valid
    empty = await client.scenario.avalidate(scenario=AISafetyScenario("empty", seed=1))
    assert not empty.valid
    assert [issue.path for issue in empty.issues] == ["models"]


def test_an_invalid_builder_is_a_validation_error(client: KairosClient) -> None:
    with pytest.raises(ValidationError) as info:
        client.simulation.create(scenario=AISafetyScenario("empty", seed=1), ticks=20)
    assert paths(info.value) == ["scenario.models"]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c: c.simulation.create(scenario=scenario(), ticks=-1), "ticks"),
        (lambda c: c.simulation.create(scenario=scenario(), ticks=50_000_000), "ticks"),
        (lambda c: c.simulation.create(scenario={"name": "x"}, ticks=5), "scenario.seed"),
        (lambda c: c.simulation.create(scenario=[1], ticks=5), "scenario"),
        (lambda c: c.simulation.get(id=None), "id"),
        (lambda c: c.simulation.list(limit=-5), "limit"),
        (lambda c: c.simulation.list(status="done"), "status"),
        (lambda c: c.simulation.trace(id="sim_x", from_tick=0), "from_tick"),
        (lambda c: c.simulation.cancel(id=3), "id"),
        (lambda c: c.scenario.validate(scenario="s.json"), "scenario"),
    ],
)
def test_generated_procedures_name_the_bad_argument(
    client: KairosClient, call: Any, name: str
) -> None:
    with pytest.raises(ValidationError) as info:
        call(client)
    assert paths(info.value)[0] == name


async def test_async_procedures_name_the_bad_argument(client: KairosClient) -> None:
    with pytest.raises(ValidationError) as info:
        await client.simulation.aget(id=None)  # type: ignore[arg-type]
    assert paths(info.value) == ["id"]
    assert "client.simulation.aget()" in str(info.value)


# -- a property over the public entry points -------------------------------------------------

WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    argument=st.sampled_from(
        [
            "timeout",
            "engine_version",
            "max_retries",
            "retry_backoff",
            "stream_idle_timeout",
            "default_headers",
            "api_key",
            "url",
        ]
    ),
    value=WRONG,
)
def test_any_constructor_argument_is_accepted_or_a_kairos_error(argument: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"url": URL_PLACEHOLDER, argument: value}
    try:
        made = KairosClient(**kwargs)
    except KairosError as exc:
        assert isinstance(exc, ValidationError) and paths(exc)[0].startswith(argument)
        return
    made.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    argument=st.sampled_from(
        ["ticks", "engine_version", "organization_id", "idempotency_key", "out", "progress"]
    ),
    value=WRONG,
)
def test_run_arguments_are_checked_before_anything_is_sent(
    client: KairosClient, argument: str, value: Any
) -> None:
    if argument == "out" and isinstance(value, str):
        value = f"/nonexistent-dir/{value}"
    kwargs: dict[str, Any] = {"ticks": 5, argument: value}
    if argument != "ticks" and value is None:
        return  # None is every optional argument's default
    if argument == "ticks" and type(value) is int and value >= 1:
        return  # a valid length (a long one would only take long)
    try:
        client.run(scenario(), **kwargs)
    except ValidationError as exc:
        assert paths(exc) == [argument], exc
    except KairosError:
        assert isinstance(value, str), "only a well-formed string reaches the server"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(wire=st.dictionaries(st.sampled_from(["name", "seed", "models", "foo"]), WRONG, max_size=4))
def test_any_scenario_dict_is_run_or_refused_with_paths(client: KairosClient, wire: Any) -> None:
    try:
        client.run(wire, ticks=5)
    except ValidationError as exc:
        assert exc.issues and all(issue.path.startswith("scenario") for issue in exc.issues)
