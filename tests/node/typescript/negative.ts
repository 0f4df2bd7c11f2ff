// Uses of KairosRouter that must NOT compile: tsc --strict has to report exactly the errors
// marked `// expect TSnnnn` on each line (tests/generator/test_typescript_target.py checks the
// codes and lines). Type-checked only (tsconfig.negative.json), never run.

import { TRPCClientError, createTRPCClient, httpLink } from "@trpc/client";

import type { KairosRouter, Scenario } from "kairos-api";

const client = createTRPCClient<KairosRouter>({ links: [httpLink({ url: "http://127.0.0.1:1/trpc" })] });
const scenario: Scenario = { name: "n", domain: "ai_safety", seed: 1, models: [], events: [] };

export async function wrongInputs(): Promise<void> {
  await client.simulation.get.query({ simulationId: "sim_1" }); // expect TS2353
  await client.simulation.create.mutate({ scenario, ticks: "300" }); // expect TS2322
  await client.simulation.get.query(); // expect TS2554
  await client.simulation.create.mutate({ scenario: { ...scenario, domain: "finance" }, ticks: 3 }); // expect TS2322
  await client.simulation.create.query({ scenario, ticks: 3 }); // expect TS2339
  await client.simulation.pause.mutate({ id: "sim_1" }); // expect TS2339
}

export async function wrongOutputs(): Promise<void> {
  const record = await client.simulation.get.query({ id: "sim_1" });
  const tick: string = record.tick; // expect TS2322
  const when: string = record.completedAt; // expect TS2322
  const versions = await client.engine.versions.query();
  versions.default.toFixed(1); // expect TS2551
  console.log(tick, when, record.progress); // expect TS2339
}

export function wrongEvents(): void {
  client.simulation.stream.subscribe(
    { id: "sim_1" },
    {
      onData(event) {
        const id: number = event.id; // expect TS2322
        event.data.steps[0]?.stability.toUpperCase(); // expect TS2339
        console.log(id);
      },
    },
  );
}

export function wrongErrors(error: TRPCClientError<KairosRouter>): void {
  const status: string | undefined = error.data?.httpStatus; // expect TS2322
  console.log(status, error.data?.kairos?.issues); // expect TS2339
}
