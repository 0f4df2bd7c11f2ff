"""The scenario library: list the curated AI-safety scenarios, then run each by its id and
print when (and whether) a model left its basin.

Run: python examples/scenario_library.py
"""

from kairos import KairosClient, scenarios

if __name__ == "__main__":
    with KairosClient() as client:
        for info in client.scenario.list().data:
            print(f"{info.id}: {info.question}")
            trace = client.run(info.id, ticks=info.ticks)
            losses = trace.basin_losses()
            outcome = (
                ", ".join(f"{loss.agent} lost its basin at tick {loss.tick}" for loss in losses)
                if losses
                else "no basin loss"
            )
            print(f"  -> {trace.final_phase()}; {outcome}")
    try:
        scenarios.get("capability-divergense")
    except scenarios.UnknownScenarioError as exc:
        print(f"typo caught: {len(exc.known)} known ids")
