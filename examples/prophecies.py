"""Prophecies and warnings (engine 1.6.0): run every library scenario, print its prophecies up
to the first basin loss and how early they saw each loss coming.

Run: python examples/prophecies.py
"""

from kairos import KairosClient, scenarios

if __name__ == "__main__":
    with KairosClient(engine_version="1.6.0") as client:
        for entry in scenarios.entries():
            trace = client.run(entry.id, ticks=entry.ticks)
            losses = trace.basin_losses()
            until = losses[0].tick if losses else entry.ticks
            print(f"{entry.id} (engine {trace.metadata.engine_version})")
            for p in trace.prophecies():
                if p.tick <= until and (p.loss_risk > 0 or p.predicted_phase != "resonant"):
                    print(
                        f"  tick {p.tick:>3}: {p.predicted_phase} in {p.horizon} ticks "
                        f"(confidence {p.confidence:.3f}), loss risk {p.loss_risk:.3f} "
                        f"{', '.join(p.at_risk)}"
                    )
            for lead in scenarios.foresight_leads(trace):
                print(
                    f"  {lead.agent} lost its basin at tick {lead.loss_tick}: foreseen "
                    f"{lead.prophecy_lead} ticks ahead, even odds {lead.alarm_lead} ahead, "
                    f"warned {lead.warning_lead} ahead"
                )
            if not losses:
                print("  no basin loss")
