"""Plots of a trace (stability with phase bands, events and losses; per-model Gamma and Lambda)
written as PNG files. Needs the plotting extra: pip install "kairos-sdk[plotting]".

Run: python examples/plot_trace.py [OUTPUT_DIR]
"""

import sys
from pathlib import Path

from kairos import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario

scenario = (
    AISafetyScenario("Capability jump", seed=352)
    .add_model(name="model", capability_index=352, alignment_score=70, guardrail_coverage=60)
    .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
)

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    with KairosClient() as client:
        trace = client.run(scenario, ticks=500)
    trace.plot().figure.savefig(out / "stability.png", dpi=120, bbox_inches="tight")
    trace.plot_agents().figure.savefig(out / "agents.png", dpi=120, bbox_inches="tight")
    print(f"wrote {out / 'stability.png'} and {out / 'agents.png'}")
