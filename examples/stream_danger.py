"""The documentation's long run: stream 100 000 ticks in constant memory and flag danger.

Run: python examples/stream_danger.py
"""

from kairos import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario

scenario = (
    AISafetyScenario("Slow erosion", seed=99)
    .add_model(name="model", capability_index=250, alignment_score=75, guardrail_coverage=60)
    .add_event(50_000, AISafetyEventType.GUARDRAIL_BREACH, target="model", magnitude=0.9)
    .add_event(50_000, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=1.0)
)

if __name__ == "__main__":
    dangers = 0
    with KairosClient() as client:
        for step in client.stream_run(scenario, ticks=100_000):
            if step.stability < 0.1:
                if dangers == 0:
                    print(f"Danger at tick {step.t}")
                dangers += 1
    print(f"{dangers} ticks below S = 0.1")
