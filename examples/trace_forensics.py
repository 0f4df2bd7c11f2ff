"""The documentation's trace forensics: run 1000 ticks and read what happened, and when.

Run: python examples/trace_forensics.py
"""

from kairos import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario

scenario = (
    AISafetyScenario("Two labs", seed=7)
    .add_model(name="Model_A", capability_index=300, alignment_score=80, guardrail_coverage=70)
    .add_model(name="Model_B", capability_index=420, alignment_score=55, autonomy_level=7)
    .add_oversight_body(name="audit_committee", guardrail_strength=60, response_latency=40)
    .add_event(250, AISafetyEventType.CAPABILITY_JUMP, target="Model_B", magnitude=0.5)
)

if __name__ == "__main__":
    with KairosClient(engine_version="1.4.4") as client:
        trace = client.run(scenario=scenario, ticks=1000)

    print(f"Engine version: {trace.metadata.engine_version}, seed: {trace.metadata.seed}")
    print(f"Final phase: {trace.final_phase()}")
    print(f"Mean S: {trace.mean_stability():.4f}, min S: {trace.min_stability():.4f}")
    for transition in trace.phase_transitions():
        print(f"  tick {transition.tick}: {transition.from_phase} -> {transition.to_phase}")
    losses = trace.basin_losses()
    if losses:
        print(f"Irreversible failure triggered at tick {losses[0].tick} ({losses[0].agent})")
    print(f"Ghost branches (rolled-back ticks): {len(trace.ghost_branches())}")
    print(f"Agents: {trace.agent_ids()}")
    state = trace.agent_trace("Model_B").state_at(tick=400)
    print(
        f"Model_B at tick 400: gamma={state.gamma:.4f} "
        f"lambda={state.lambda_:.4f} load={state.load:.4f}"
    )
