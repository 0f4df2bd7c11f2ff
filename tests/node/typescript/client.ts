// A TypeScript program on the generated kairos-api package: the official @trpc/client 11.25.2,
// typed by KairosRouter alone (no server code), against a real `kairos serve`.
//
//   tsc -p tsconfig.json (type-check, --strict), or compiled to JS and run:
//   node client.js --url http://127.0.0.1:8787 [--sse]
//
// Without --sse: create (httpBatchLink), get (httpLink), a stream over wsLink, a typed error.
// --sse adds the links that need the server's JSONL batches and SSE subscriptions:
// a stream over httpSubscriptionLink and a batch over httpBatchStreamLink (streamingChecks).
// --only REGEX runs the checks whose names match (a stream needs "create" too).
// Prints one JSON report {passed, failed, checks: [{name, ok, detail}]}; exits 1 when a check fails.

import assert from "node:assert/strict";
import { parseArgs } from "node:util";

import {
  TRPCClientError,
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  httpSubscriptionLink,
  wsLink,
  type TRPCClient,
} from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { EventSource } from "eventsource";
import WebSocket from "ws";

import type {
  CreateSimulationInput,
  ErrorData,
  KairosRouter,
  Scenario,
  Simulation,
} from "kairos-api";

type Inputs = inferRouterInputs<KairosRouter>;
type Outputs = inferRouterOutputs<KairosRouter>;
type Client = TRPCClient<KairosRouter>;

const { values: argv } = parseArgs({
  options: {
    url: { type: "string" },
    sse: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const ONLY = argv.only ? new RegExp(argv.only) : null;
const BASE = (argv.url ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const TRPC_URL = `${BASE}/trpc`;

const SCENARIO: Scenario = {
  name: "typescript-client",
  domain: "ai_safety",
  seed: 11,
  models: [{ name: "model", capabilityIndex: 400, alignmentScore: 70, guardrailCoverage: 60 }],
  events: [{ tick: 3, type: "capability_jump", target: "model", magnitude: 0.3 }],
};
const TICKS = 300;

type Check = { name: string; ok: boolean; detail: unknown };
const checks: Check[] = [];

async function check(name: string, fn: () => Promise<unknown>): Promise<void> {
  if (ONLY && !ONLY.test(name)) return;
  try {
    checks.push({ name, ok: true, detail: (await fn()) ?? null });
  } catch (error) {
    checks.push({ name, ok: false, detail: String(error instanceof Error ? error.stack : error) });
  }
}

/** Every step of a simulation's stream, in order, until the stream completes. */
function streamTicks(client: Client, id: string): Promise<{ ticks: number[]; ids: string[] }> {
  return new Promise((resolve, reject) => {
    const ticks: number[] = [];
    const ids: string[] = [];
    const subscription = client.simulation.stream.subscribe(
      { id },
      {
        onData(event) {
          ids.push(event.id);
          for (const step of event.data.steps) ticks.push(step.t);
        },
        onError(error) {
          subscription.unsubscribe();
          reject(error);
        },
        onComplete() {
          resolve({ ticks, ids });
        },
      },
    );
  });
}

function assertAllTicks(ticks: number[], ids: string[]): void {
  assert.deepEqual(ticks, Array.from({ length: TICKS }, (_, i) => i + 1), "every tick once");
  assert.equal(ids.at(-1), String(TICKS), "the last event is tracked by the last tick");
}

/** The typed error of a call: TRPCClientError<KairosRouter> with our ErrorData. */
async function typedError(promise: Promise<unknown>): Promise<TRPCClientError<KairosRouter>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) return error as TRPCClientError<KairosRouter>;
    throw error;
  }
  throw new Error("expected an error, got a result");
}

async function main(): Promise<void> {
  const http = createTRPCClient<KairosRouter>({ links: [httpLink({ url: TRPC_URL })] });
  const batch = createTRPCClient<KairosRouter>({ links: [httpBatchLink({ url: TRPC_URL })] });
  let created: Simulation | undefined;

  await check("create (httpBatchLink)", async () => {
    const input: CreateSimulationInput = { scenario: SCENARIO, ticks: TICKS };
    const record: Outputs["simulation"]["create"] = await batch.simulation.create.mutate(input);
    assert.match(record.id, /^sim_/);
    assert.equal(record.ticks, TICKS);
    created = record;
    return { id: record.id, status: record.status };
  });

  await check("get (httpLink)", async () => {
    assert.ok(created, "no simulation was created");
    const input: Inputs["simulation"]["get"] = { id: created.id };
    const record = await http.simulation.get.query(input);
    assert.equal(record.id, created.id);
    assert.equal(record.scenarioName, SCENARIO.name);
    const versions = await http.engine.versions.query();
    return { status: record.status, engine: versions.default };
  });

  await check("stream (wsLink)", async () => {
    assert.ok(created, "no simulation was created");
    // ws's class lacks the DOM's dispatchEvent in its types; at run time it is what tRPC needs.
    const wsClient = createWSClient({
      url: TRPC_URL.replace(/^http/, "ws"),
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    try {
      const ws = createTRPCClient<KairosRouter>({ links: [wsLink({ client: wsClient })] });
      const { ticks, ids } = await streamTicks(ws, created.id);
      assertAllTicks(ticks, ids);
      return { events: ids.length, ticks: ticks.length };
    } finally {
      await wsClient.close();
    }
  });

  await check("typed error NOT_FOUND (TRPCClientError<KairosRouter>)", async () => {
    const error = await typedError(http.simulation.get.query({ id: "sim_doesnotexist0000" }));
    const data: ErrorData | null | undefined = error.data;
    assert.equal(data?.code, "NOT_FOUND");
    assert.equal(data?.httpStatus, 404);
    assert.equal(error.shape?.code, -32004);
    return { code: data?.code, message: error.message };
  });

  await check("typed error BAD_REQUEST with validation details", async () => {
    const bad: Scenario = { ...SCENARIO, models: [{ name: "m", capabilityIndex: 1001, alignmentScore: 70 }] };
    const error = await typedError(batch.simulation.create.mutate({ scenario: bad, ticks: 10 }));
    const kairos = error.data?.kairos;
    assert.equal(error.data?.code, "BAD_REQUEST");
    assert.equal(kairos?.kind, "validation");
    // The discriminator narrows the union: issues exists on the validation detail only.
    const paths = kairos?.kind === "validation" ? kairos.issues.map((issue) => issue.path) : [];
    assert.ok(paths.includes("scenario.models[0].capabilityIndex"), JSON.stringify(paths));
    return { paths };
  });

  if (argv.sse) await streamingChecks(created);

  const failed = checks.filter((c) => !c.ok).length;
  console.log(JSON.stringify({ passed: checks.length - failed, failed, checks }));
  process.exitCode = failed ? 1 : 0;
}

/** The links that need the server's JSONL batch responses and SSE subscriptions (issue 13,
 * item 1): a stream over httpSubscriptionLink and a batch over httpBatchStreamLink. */
async function streamingChecks(created: Simulation | undefined): Promise<void> {
  await check("stream (httpSubscriptionLink)", async () => {
    assert.ok(created, "no simulation was created");
    const sse = createTRPCClient<KairosRouter>({ links: [httpSubscriptionLink({ url: TRPC_URL, EventSource })] });
    const { ticks, ids } = await streamTicks(sse, created.id);
    assertAllTicks(ticks, ids);
    return { events: ids.length, ticks: ticks.length };
  });

  await check("batch (httpBatchStreamLink)", async () => {
    assert.ok(created, "no simulation was created");
    const streaming = createTRPCClient<KairosRouter>({ links: [httpBatchStreamLink({ url: TRPC_URL })] });
    const [record, versions, again] = await Promise.all([
      streaming.simulation.get.query({ id: created.id }),
      streaming.engine.versions.query(),
      streaming.simulation.get.query({ id: created.id }),
    ]);
    const ticks: Outputs["simulation"]["get"]["ticks"] = record.ticks;
    assert.equal(record.id, created.id);
    assert.equal(again.id, created.id);
    assert.equal(ticks, TICKS);
    assert.ok(versions.active.length > 0);
    return { status: record.status, engine: versions.default };
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
