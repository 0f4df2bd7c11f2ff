"""The documentation's async capability sweep (kairos-api.md section 2), copied verbatim.

No url and no KAIROS_URL: the client starts the embedded reference server. The only line added
to the documented function is the ``return`` at its end, so the test can look at the results.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from kairos import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.errors import APIConnectionError


# fmt: off
async def capability_sweep():  # type: ignore[no-untyped-def]
    client = KairosClient()
    async def run_one(capability):  # type: ignore[no-untyped-def]
        scenario = (
            AISafetyScenario(f"sweep_{capability}", seed=capability)
            .add_model(name="model", capability_index=capability,
                       alignment_score=70, guardrail_coverage=60)
            .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
        )
        trace = await client.arun(scenario, ticks=500)
        return {"capability": capability, "final_phase": trace.final_phase(),
                "mean_stability": trace.mean_stability(),
                "basin_losses": len(trace.basin_losses())}
    results = await asyncio.gather(*[run_one(c) for c in range(100, 1001, 18)])
    return client, results  # added: the test inspects what the sweep produced
# fmt: on


def test_capability_sweep_runs_verbatim_on_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KAIROS_URL", raising=False)
    monkeypatch.delenv("KAIROS_API_KEY", raising=False)
    with caplog.at_level(logging.INFO, logger="kairos"):
        client, results = asyncio.run(capability_sweep())
    try:
        # range(100, 1001, 18) has 51 points (100 and 1000 both included).
        assert [row["capability"] for row in results] == list(range(100, 1001, 18))
        assert all(row["final_phase"] in ("resonant", "volatile", "stagnant") for row in results)
        assert all(0.0 <= row["mean_stability"] <= 1.0 for row in results)
        assert all(isinstance(row["basin_losses"], int) for row in results)
        # The documented threshold: low capabilities stay resonant, high ones lose their basin.
        assert (results[0]["final_phase"], results[0]["basin_losses"]) == ("resonant", 0)
        assert results[-1]["final_phase"] != "resonant" and results[-1]["basin_losses"] > 0
        assert client.url.startswith("http://127.0.0.1:")
        embedded_lines = [r for r in caplog.records if "embedded" in r.getMessage()]
        assert len(embedded_lines) <= 1  # once per process (another test may have started it)
    finally:
        client.close()


def test_embedded_server_is_logged_once_and_stopped_on_close(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KAIROS_URL", raising=False)
    with caplog.at_level(logging.INFO, logger="kairos"):
        first = KairosClient()
        second = KairosClient()
    assert first.url == second.url  # one embedded server per process, shared
    started = [r for r in caplog.records if "embedded KAIROS reference server" in r.getMessage()]
    assert len(started) == 1 and started[0].levelno == logging.INFO
    assert first.engine.versions().default
    first.close()
    assert second.engine.versions().default  # still up: second still uses it
    second.close()
    with (
        KairosClient(first.url, max_retries=0, timeout=2) as late,
        pytest.raises(APIConnectionError),
    ):  # the last close stopped the server
        late.engine.versions()
