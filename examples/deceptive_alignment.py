"""The documentation's "Deceptive Alignment Spikes" scenario: does oversight contain a highly
capable, well-aligned model whose alignment is partly deceptive?

Run: python examples/deceptive_alignment.py
"""

from kairos import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario

scenario = (
    AISafetyScenario("Deceptive Alignment Spikes", seed=1024)
    .add_model(
        name="Model_A",
        capability_index=850,
        alignment_score=92,
        autonomy_level=8,
        human_oversight_freq=20,
        guardrail_coverage=95,
    )
    .add_oversight_body(name="safety_board", guardrail_strength=75, response_latency=25)
    .add_event(200, AISafetyEventType.DECEPTIVE_ALIGNMENT, target="Model_A", magnitude=0.4)
)

if __name__ == "__main__":
    with KairosClient(engine_version="1.4.4") as client:
        trace = client.run(scenario, ticks=1000)
    print(f"engine {trace.metadata.engine_version}, seed {trace.metadata.seed}")
    print(f"final phase:     {trace.final_phase()}")
    print(f"mean stability:  {trace.mean_stability():.4f}")
    losses = trace.basin_losses()
    print(
        f"basin losses:    {len(losses)}" + (f" (first at tick {losses[0].tick})" if losses else "")
    )
