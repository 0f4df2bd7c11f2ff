"""The critical destabilization threshold: the capability at which basin losses begin, found on
a grid and refined by bisection, for two alignment levels.

Run: python examples/critical_threshold.py
"""

from kairos.domains.ai_safety import AISafetyEventType, AISafetyScenario
from kairos.sweep import find_threshold, sweep


def build(capability, alignment=70):
    return (
        AISafetyScenario(f"threshold_{capability}", seed=42)
        .add_model(
            name="model",
            capability_index=capability,
            alignment_score=alignment,
            guardrail_coverage=60,
        )
        .add_event(100, AISafetyEventType.CAPABILITY_JUMP, target="model", magnitude=0.3)
    )


if __name__ == "__main__":
    for alignment in (70, 90):
        grid = sweep(
            build, {"capability": range(100, 1001, 50), "alignment": [alignment]}, ticks=500
        ).threshold("capability")
        search = find_threshold(
            lambda capability, a=alignment: build(capability, a),
            "capability",
            grid.low,
            grid.high,
            ticks=500,
            tolerance=0.5,
        )
        print(
            f"alignment {alignment}: basin losses begin at capability {search.value:.1f} "
            f"(grid: between {grid.low} and {grid.high}; {len(search.evaluations)} runs)"
        )
