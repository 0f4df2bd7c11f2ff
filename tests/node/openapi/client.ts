// A client of generated/openapi.json made by standard tools: openapi-typescript 7.13.0 turns the
// document into `paths` types (kairos-openapi.d.ts, written next to this file by the test), and
// openapi-fetch 0.17.0 makes the calls. No tRPC code: only the OpenAPI description of the wire.
//
//   node client.js --url http://127.0.0.1:8787
//
// Prints one JSON report {created, fetched, error}; exits 1 when a call is not as documented.

import assert from "node:assert/strict";
import { parseArgs } from "node:util";

import createClient from "openapi-fetch";

import type { components, paths } from "./kairos-openapi.js";

type Schemas = components["schemas"];

const { values: argv } = parseArgs({ options: { url: { type: "string" } } });
const BASE = (argv.url ?? "http://127.0.0.1:8787").replace(/\/+$/, "");

const client = createClient<paths>({ baseUrl: BASE });

// A query's input is one JSON-encoded parameter (the document's `content: application/json`
// parameter style); openapi-typescript types such a parameter as the string it travels as.
const input = (value: Schemas["SimulationIdInput"]): string => JSON.stringify(value);

const scenario: Schemas["Scenario"] = {
  name: "openapi-client",
  domain: "ai_safety",
  seed: 5,
  models: [{ name: "model", capabilityIndex: 300, alignmentScore: 80 }],
  events: [],
};

async function main(): Promise<void> {
  const created = await client.POST("/trpc/simulation.create", { body: { scenario, ticks: 20 } });
  assert.equal(created.response.status, 200, JSON.stringify(created.error));
  const record: Schemas["Simulation"] | undefined = created.data?.result.data;
  assert.ok(record && record.id.startsWith("sim_"), JSON.stringify(created.data));

  const fetched = await client.GET("/trpc/simulation.get", {
    params: { query: { input: input({ id: record.id }) } },
  });
  assert.equal(fetched.response.status, 200, JSON.stringify(fetched.error));
  assert.equal(fetched.data?.result.data.id, record.id);
  assert.equal(fetched.data?.result.data.scenarioName, scenario.name);

  const missing = await client.GET("/trpc/simulation.get", {
    params: { query: { input: input({ id: "sim_doesnotexist0000" }) } },
  });
  assert.equal(missing.response.status, 404);
  const error: Schemas["TRPCErrorResponse"] | undefined = missing.error;
  assert.equal(error?.error.data.code, "NOT_FOUND");
  assert.equal(error?.error.data.httpStatus, 404);

  console.log(
    JSON.stringify({
      created: { id: record.id, status: record.status },
      fetched: fetched.data?.result.data.status,
      error: error?.error.data.code,
    }),
  );
}

main().catch((failure: unknown) => {
  console.error(failure);
  process.exitCode = 1;
});
