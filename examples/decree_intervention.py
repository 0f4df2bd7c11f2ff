"""Decrees: "what if the board intervenes now?" Start the capability-divergence scenario, submit
a containment decree at once (it takes effect at the next tick the engine has not computed: the
tick depends on how far the run got, and is recorded), then show that tick, the outcome next to
the undecreed run, and that the replay scenario reproduces the decreed trace bit for bit.

Run: python examples/decree_intervention.py
"""

from kairos import KairosClient, engine, scenarios
from kairos.domains.ai_safety import AISafetyEventType

TICKS = 20_000

if __name__ == "__main__":
    entry = scenarios.get("capability-divergence")
    with KairosClient() as client:
        record = client.simulation.create(scenario=entry.scenario().to_model(), ticks=TICKS)
        decree = client.decree(
            record.id, AISafetyEventType.CONTAINMENT, target="frontier_model", magnitude=0.6
        )
        print(f"decree {decree.id}: {decree.status}")  # pending if the run has not started yet
        decreed = client.trace(record.id)  # waits for the run to finish
        (applied,) = decreed.decrees()
        print(f"the decree took effect at tick {applied.tick}")
        undecreed = client.run(entry.id, ticks=TICKS)
    for name, trace in (("without the decree", undecreed), ("with the decree", decreed)):
        losses = trace.basin_losses()
        first = f"first basin loss at tick {losses[0].tick}" if losses else "no basin loss"
        print(f"{name:<19} final phase {trace.final_phase()}, {first}")
    replay = decreed.replay_scenario()
    same = engine.trace_sha256(engine.run(replay, TICKS, decreed.metadata.engine_version))
    print(f"replay scenario reproduces the decreed trace: {same == decreed.sha256()}")
