// An OFFICIAL tRPC v11 server (@trpc/server 11.25.2, zod 4, ws 8) in the shape of the KAIROS
// API, with known answers and injectable errors: the other end for the Python client's tests
// (trpc-protocol.md section 8). Plain ESM, no build.
//
//   node fixture_server.mjs            -> prints "READY <port>" on stdout once listening
//
// HTTP: standalone handler at basePath /trpc; WebSocket: applyWSSHandler on the same server and
// port (any path, e.g. ws://127.0.0.1:<port>/trpc). isDev is false (no stacks in errors).
//
// Environment:
//   FIXTURE_PORT                 port to listen on (default 0: a free one)
//   FIXTURE_KEEPALIVE_PING_MS    turn on server keep-alive: PING after this many idle ms
//   FIXTURE_KEEPALIVE_PONG_WAIT_MS  ... and terminate without any frame within (default 5000)
//   FIXTURE_CHUNK                steps per simulation.stream event (default 100)
//   FIXTURE_STREAM_DELAY_MS      pause before each stream event (default 0)
//   FIXTURE_REJECT_TOKEN         a bearer token createContext refuses (default krs_bad)
//   FIXTURE_REQUIRE_TOKEN        when set, every other token (or none) is refused too
//   FIXTURE_METHOD_OVERRIDE=1    allowMethodOverride (queries by POST)
//   FIXTURE_MAX_BATCH_SIZE       maxBatchSize
//   FIXTURE_SSE_PING_MS          SSE subscriptions: a `ping` event after this many idle ms
//   FIXTURE_SSE_RECONNECT_MS     SSE: reconnectAfterInactivityMs told in the `connected` event
//   FIXTURE_SSE_MAX_DURATION_MS  SSE: end each stream after this long (sse.maxDurationMs)
//   FIXTURE_JSONL_PING_MS        streamed batches: a space after this many idle ms (jsonl.pingMs)
//
// Procedures (inputs validated with zod; a bad input is tRPC's BAD_REQUEST):
//   engine.versions    query     fixed {default: "1.4.4", active: [1.4.4, 1.5.0], retired: [...]}
//   simulation.create  mutation  {scenario, ticks, engineVersion?, organizationId?,
//                                 idempotencyKey?} -> a deterministic completed Simulation.
//                                 Injected errors, by scenario name:
//                                   "inject:<CODE>:<n>[:<key>]" fails with <CODE> (e.g.
//                                   TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE, BAD_GATEWAY) the
//                                   first n times that name is created, then succeeds;
//                                   TOO_MANY_REQUESTS carries `retry-after: 1` and
//                                   data.kairos {kind: "rate_limit", retryAfter: 1}.
//                                 engineVersion "1.4.0" / "1.3.2" (retired) or unknown ->
//                                   PRECONDITION_FAILED with data.kairos {kind:
//                                   "engine_version", requested, active}.
//   simulation.get     query     {id} -> the Simulation, or NOT_FOUND
//   simulation.stream  subscription {id, lastEventId?} -> tracked(String(lastTick), {steps})
//                                 events of schema-valid TraceSteps for ticks 1..N, resuming
//                                 after lastEventId; a scenario named "stream-error..." fails
//                                 with UNPROCESSABLE_CONTENT after its first event.
//   whoami             query     the context: {authorization, source, connectionParams}
//   boom               query     throws a plain Error("kaboom") -> 500 INTERNAL_SERVER_ERROR
//   slow               query     {ms} -> waits, returns ms
//   control.calls      query     how many calls each procedure has received
//
// Reconnect notification ({"id":null,"method":"reconnect"} to every socket): SIGUSR2, or
// POST /control/reconnect (answers 204). SIGTERM/SIGINT stop the server.

import { createHash } from 'node:crypto';
import http from 'node:http';

import { TRPCError, initTRPC, tracked } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { z } from 'zod';

const env = process.env;
const CHUNK = Number(env.FIXTURE_CHUNK ?? 100);
const STREAM_DELAY_MS = Number(env.FIXTURE_STREAM_DELAY_MS ?? 0);
const REJECT_TOKEN = env.FIXTURE_REJECT_TOKEN ?? 'krs_bad';
const REQUIRE_TOKEN = env.FIXTURE_REQUIRE_TOKEN ?? null;

const VERSIONS = {
  default: '1.4.4',
  active: [
    { version: '1.4.4', released: '2025-06-03', notes: 'Fixture: the documented version.' },
    { version: '1.5.0', released: '2025-11-18', notes: 'Fixture: a newer active version.' },
  ],
  retired: [
    { version: '1.4.0', released: '2025-02-11', notes: 'Fixture: retired.' },
    { version: '1.3.2', released: '2024-09-30', notes: 'Fixture: retired.' },
  ],
};
const ACTIVE = VERSIONS.active.map((v) => v.version);
const CREATED_AT = '2025-06-03T12:00:00.000Z';

// -- known answers ------------------------------------------------------------------------------

/** A schema-valid TraceStep ($defs/TraceStep) for tick t, a pure function of (seed, t). */
export function fakeStep(t, seed = 0, modelName = 'model') {
  const stability = Math.round((0.5 + 0.4 * Math.sin((t + seed) / 10)) * 1e6) / 1e6;
  const phase = stability >= 0.3 ? 'resonant' : stability >= 0.15 ? 'volatile' : 'stagnant';
  const gamma = 4 + stability;
  return {
    t,
    stability,
    phase,
    agents: {
      [modelName]: {
        gamma,
        lambda: 4,
        stability,
        cumulativeStability: Math.round(t * stability * 1e6) / 1e6,
        load: 4 / gamma,
        capabilityIndex: 400,
        alignmentScore: 70,
        basinLost: false,
      },
    },
    oversight: {},
    events: [],
    losses: [],
    ghost: null,
  };
}

function summaryOf(ticks, seed, modelName) {
  let sum = 0;
  let min = 1;
  let transitions = 0;
  let previous = null;
  let final = 'resonant';
  for (let t = 1; t <= ticks; t++) {
    const step = fakeStep(t, seed, modelName);
    sum += step.stability;
    min = Math.min(min, step.stability);
    if (previous !== null && step.phase !== previous) transitions++;
    previous = step.phase;
    final = step.phase;
  }
  return {
    finalPhase: final,
    meanStability: sum / ticks,
    minStability: min,
    phaseTransitions: transitions,
    basinLosses: 0,
    ghostBranches: 0,
  };
}

const simulations = new Map();
const idempotency = new Map();
const injected = new Map(); // scenario name -> failures so far
const calls = {};

function simulationRecord(input, ctx) {
  const { scenario, ticks } = input;
  const engineVersion = input.engineVersion ?? VERSIONS.default;
  const organizationId = input.organizationId ?? ctx.organizationId ?? null;
  const digest = createHash('sha256')
    .update(JSON.stringify([scenario, ticks, engineVersion, organizationId]))
    .digest('hex');
  const modelName = scenario.models?.[0]?.name ?? 'model';
  return {
    id: `sim_${digest.slice(0, 20)}`,
    status: 'completed',
    scenarioName: scenario.name,
    domain: scenario.domain ?? 'ai_safety',
    seed: scenario.seed,
    ticks,
    tick: ticks,
    engineVersion,
    organizationId,
    createdAt: CREATED_AT,
    completedAt: CREATED_AT,
    summary: summaryOf(ticks, scenario.seed, modelName),
    error: null,
    // not on the wire:
    _modelName: modelName,
  };
}

const wire = ({ _modelName, ...record }) => record;

/** A TRPCError whose error shape carries `data.kairos` (see errorFormatter). */
function kairosError(code, message, kairos) {
  const cause = new Error(message);
  cause.kairos = kairos;
  return new TRPCError({ code, message, cause });
}

// -- tRPC -----------------------------------------------------------------------------------------

function bearer(value) {
  return typeof value === 'string' && value.startsWith('Bearer ') ? value.slice(7) : null;
}

function createContext({ req, info }) {
  const fromParams = info?.connectionParams?.authorization ?? null;
  const fromHeader = req?.headers?.authorization ?? null;
  const authorization = fromParams ?? fromHeader;
  const token = bearer(authorization);
  if (token === REJECT_TOKEN || (REQUIRE_TOKEN !== null && token !== REQUIRE_TOKEN)) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'the API key is not valid' });
  }
  return {
    authorization,
    source: fromParams ? 'connectionParams' : fromHeader ? 'header' : null,
    connectionParams: info?.connectionParams ?? null,
    organizationId: token ? `org_${token}` : null,
  };
}

const sse = {
  ...(env.FIXTURE_SSE_PING_MS ? { ping: { enabled: true, intervalMs: Number(env.FIXTURE_SSE_PING_MS) } } : {}),
  ...(env.FIXTURE_SSE_RECONNECT_MS
    ? { client: { reconnectAfterInactivityMs: Number(env.FIXTURE_SSE_RECONNECT_MS) } }
    : {}),
  ...(env.FIXTURE_SSE_MAX_DURATION_MS ? { maxDurationMs: Number(env.FIXTURE_SSE_MAX_DURATION_MS) } : {}),
};
const t = initTRPC.context().create({
  isDev: false,
  sse,
  ...(env.FIXTURE_JSONL_PING_MS ? { jsonl: { pingMs: Number(env.FIXTURE_JSONL_PING_MS) } } : {}),
  errorFormatter({ shape, error }) {
    const kairos = error.cause?.kairos;
    return kairos ? { ...shape, data: { ...shape.data, kairos } } : shape;
  },
});

const counted = t.middleware(({ path, next }) => {
  calls[path] = (calls[path] ?? 0) + 1;
  return next();
});
const procedure = t.procedure.use(counted);

const Scenario = z.looseObject({
  name: z.string().min(1),
  domain: z.literal('ai_safety').optional(),
  seed: z.number().int().min(0),
  models: z.array(z.looseObject({ name: z.string() })).min(1),
});

const router = t.router({
  engine: t.router({
    versions: procedure.query(() => VERSIONS),
  }),
  simulation: t.router({
    create: procedure
      .input(
        z.object({
          scenario: Scenario,
          ticks: z.number().int().min(1),
          engineVersion: z.string().optional(),
          organizationId: z.string().optional(),
          idempotencyKey: z.string().optional(),
        }),
      )
      .mutation(({ input, ctx }) => {
        const inject = /^inject:([A-Z_]+):(\d+)/.exec(input.scenario.name);
        if (inject) {
          const [, code, times] = inject;
          const so_far = injected.get(input.scenario.name) ?? 0;
          if (so_far < Number(times)) {
            injected.set(input.scenario.name, so_far + 1);
            if (code === 'TOO_MANY_REQUESTS') {
              throw kairosError(code, 'rate limit exceeded; retry after 1 s', {
                kind: 'rate_limit',
                retryAfter: 1,
              });
            }
            throw new TRPCError({ code, message: `injected ${code} ${so_far + 1}/${times}` });
          }
        }
        if (input.engineVersion !== undefined && !ACTIVE.includes(input.engineVersion)) {
          throw kairosError('PRECONDITION_FAILED', `engine version ${input.engineVersion} is not served`, {
            kind: 'engine_version',
            requested: input.engineVersion,
            active: ACTIVE,
          });
        }
        const record = simulationRecord(input, ctx);
        if (input.idempotencyKey !== undefined) {
          const earlier = idempotency.get(input.idempotencyKey);
          if (earlier && earlier !== record.id) {
            throw new TRPCError({
              code: 'CONFLICT',
              message: `idempotency key already used for ${earlier} with a different input`,
            });
          }
          idempotency.set(input.idempotencyKey, record.id);
        }
        simulations.set(record.id, record);
        return wire(record);
      }),
    get: procedure.input(z.object({ id: z.string() })).query(({ input }) => {
      const record = simulations.get(input.id);
      if (!record) throw new TRPCError({ code: 'NOT_FOUND', message: `simulation '${input.id}' not found` });
      return wire(record);
    }),
    stream: procedure
      .input(z.object({ id: z.string(), lastEventId: z.string().nullish() }))
      .subscription(async function* ({ input, signal }) {
        const record = simulations.get(input.id);
        if (!record) throw new TRPCError({ code: 'NOT_FOUND', message: `simulation '${input.id}' not found` });
        let position = input.lastEventId ? Number(input.lastEventId) : 0;
        let sent = 0;
        while (position < record.ticks) {
          if (STREAM_DELAY_MS) await new Promise((resolve) => setTimeout(resolve, STREAM_DELAY_MS));
          if (signal?.aborted) return;
          const last = Math.min(record.ticks, position + CHUNK);
          const steps = [];
          for (let tick = position + 1; tick <= last; tick++) {
            steps.push(fakeStep(tick, record.seed, record._modelName));
          }
          yield tracked(String(last), { steps });
          position = last;
          sent++;
          if (sent === 1 && record.scenarioName.startsWith('stream-error')) {
            throw kairosError('UNPROCESSABLE_CONTENT', `simulation ${record.id} failed: injected`, {
              kind: 'simulation',
              simulationId: record.id,
              reason: 'injected',
            });
          }
        }
      }),
  }),
  whoami: procedure.query(({ ctx }) => ({
    authorization: ctx.authorization,
    source: ctx.source,
    connectionParams: ctx.connectionParams,
  })),
  boom: procedure.query(() => {
    throw new Error('kaboom');
  }),
  slow: procedure.input(z.object({ ms: z.number().int().min(0).max(10_000) })).query(
    async ({ input }) => {
      await new Promise((resolve) => setTimeout(resolve, input.ms));
      return input.ms;
    },
  ),
  control: t.router({
    calls: t.procedure.query(() => ({ ...calls })),
  }),
});

// -- servers ----------------------------------------------------------------------------------

const handler = createHTTPHandler({
  router,
  createContext,
  basePath: '/trpc',
  allowMethodOverride: env.FIXTURE_METHOD_OVERRIDE === '1',
  ...(env.FIXTURE_MAX_BATCH_SIZE ? { maxBatchSize: Number(env.FIXTURE_MAX_BATCH_SIZE) } : {}),
  responseMeta({ errors }) {
    const limited = errors.find((e) => e.code === 'TOO_MANY_REQUESTS');
    return limited ? { headers: { 'retry-after': '1' } } : {};
  },
});

let wsHandler = null;

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/control/reconnect') {
    wsHandler?.broadcastReconnectNotification();
    res.writeHead(204).end();
    return;
  }
  if (!req.url.startsWith('/trpc/') && req.url !== '/trpc') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not a tRPC path (use /trpc/...)\n');
    return;
  }
  handler(req, res);
});

const wss = new WebSocketServer({ server });
const keepAlive = env.FIXTURE_KEEPALIVE_PING_MS
  ? {
      enabled: true,
      pingMs: Number(env.FIXTURE_KEEPALIVE_PING_MS),
      pongWaitMs: Number(env.FIXTURE_KEEPALIVE_PONG_WAIT_MS ?? 5000),
    }
  : { enabled: false };
wsHandler = applyWSSHandler({ wss, router, createContext, keepAlive });

process.on('SIGUSR2', () => wsHandler.broadcastReconnectNotification());
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}

server.listen(Number(env.FIXTURE_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
