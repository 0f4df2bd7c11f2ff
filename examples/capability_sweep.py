"""The documentation's Monte Carlo capability sweep: 51 simulations at once on one client.

Run: python examples/capability_sweep.py   (no server configured: an embedded one is started)
"""

import asyncio

from kairos import KairosClient
from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario


async def capability_sweep():
    client = KairosClient()

    async def run_one(capability):
        scenario = (
            AISafetyScenario(f"sweep_{capability}", seed=capability)
            .add_model(
                name="model", capability_index=capability, alignment_score=70, guardrail_coverage=60
            )
            .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
        )
        trace = await client.arun(scenario, ticks=500)
        return {
            "capability": capability,
            "final_phase": trace.final_phase(),
            "mean_stability": trace.mean_stability(),
            "basin_losses": len(trace.basin_losses()),
        }

    try:
        return await asyncio.gather(*[run_one(c) for c in range(100, 1001, 18)])
    finally:
        await client.aclose()


if __name__ == "__main__":
    for row in asyncio.run(capability_sweep()):
        print(
            f"{row['capability']:>5}  {row['final_phase']:<9} "
            f"{row['mean_stability']:.4f}  losses={row['basin_losses']}"
        )
