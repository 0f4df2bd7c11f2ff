"""A Monte Carlo sweep on a Dask cluster (here a local one; point distributed.Client at your
scheduler's address to use a real cluster). Rows are bit-identical to a local or server run of
the same scenarios under the same engine version.

Run: python examples/dask_sweep.py
"""

from distributed import Client, LocalCluster

from kairos.domains.ai_safety import AISafetyScenario
from kairos.sweep import integers, sweep, uniform


def build(capability, alignment, seed):
    return AISafetyScenario(f"mc_{seed}", seed=seed).add_model(
        name="model", capability_index=capability, alignment_score=alignment
    )


if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as dask:
        result = sweep(
            build,
            {
                "capability": uniform(100, 1000),
                "alignment": uniform(40, 100),
                "seed": integers(0, 2**31),
            },
            samples=400,
            seed=2026,
            ticks=300,
            executor=dask,
            engine_version="1.5.0",
        )
    frame = result.to_pandas()
    lost = frame[frame["basin_losses"] > 0]
    print(f"{len(frame)} runs on engine {result.engine_version}; {len(lost)} lost their basin")
    print(frame.groupby("final_phase")[["capability", "alignment"]].mean().round(1))
