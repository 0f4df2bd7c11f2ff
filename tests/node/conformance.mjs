// Conformance of the KAIROS reference server with the OFFICIAL tRPC v11 client (@trpc/client
// 11.25.2): httpLink, httpBatchLink, httpBatchStreamLink (JSONL), httpSubscriptionLink (SSE, with
// the `eventsource` package as EventSource: Node 20 has none) and wsLink + createWSClient (with
// `ws` as the WebSocket), plus a few raw fetches where the official client hides the wire (batch
// status, headers).
//
//   node conformance.mjs --url http://127.0.0.1:8787 [--api-key KEY]
//                        [--serve-cmd '["kairos","serve","--db","/tmp/x.db"]']
//
// (or KAIROS_URL, KAIROS_API_KEY, KAIROS_SERVE_CMD). With --api-key the server is expected to
// require keys: every call carries the key (HTTP `Authorization: Bearer`, WS connectionParams)
// and the UNAUTHORIZED checks run. With --serve-cmd (argv of `kairos serve` without --port), the
// script also starts a server of its own, stops it gracefully (SIGTERM) in the middle of a
// subscription and restarts it on the same port, to check the reconnect notification.
//
// Prints one JSON report {url, keyed, passed, failed, skipped, checks: [{name, ok, detail}]} on
// stdout and exits 1 when a check fails (2 when the script itself breaks).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

import {
  TRPCClientError,
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  httpSubscriptionLink,
  wsLink,
} from '@trpc/client';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

const { values: argv } = parseArgs({
  options: {
    url: { type: 'string' },
    'api-key': { type: 'string' },
    'serve-cmd': { type: 'string' },
    only: { type: 'string' },
  },
});
const BASE = (argv.url ?? process.env.KAIROS_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
const API_KEY = argv['api-key'] ?? process.env.KAIROS_API_KEY ?? null;
const SERVE_CMD = argv['serve-cmd'] ?? process.env.KAIROS_SERVE_CMD ?? null;
const ONLY = argv.only ? new RegExp(argv.only) : null;
const KEYED = Boolean(API_KEY);
const WRONG_KEY = 'krs_wrong_key_for_conformance';

const httpUrl = (base) => `${base}/trpc`;
const wsUrl = (base) => `${base.replace(/^http/, 'ws')}/trpc`;

// -- report -------------------------------------------------------------------------------------

const checks = [];

async function check(name, fn) {
  if (ONLY && !ONLY.test(name)) return;
  const started = Date.now();
  try {
    const detail = await fn();
    checks.push({ name, ok: true, detail: detail ?? null, ms: Date.now() - started });
  } catch (error) {
    checks.push({ name, ok: false, detail: describe(error), ms: Date.now() - started });
  }
}

function skip(name, why) {
  if (ONLY && !ONLY.test(name)) return;
  checks.push({ name, ok: true, skipped: true, detail: `skipped: ${why}` });
}

function describe(error) {
  if (error instanceof assert.AssertionError) {
    return { assertion: error.message.split('\n')[0], actual: error.actual, expected: error.expected };
  }
  if (error instanceof TRPCClientError) {
    return { unexpectedTRPCClientError: error.message, shape: error.shape ?? null };
  }
  return String(error?.stack ?? error);
}

// -- data -----------------------------------------------------------------------------------------

const SCENARIO = {
  name: 'conformance',
  domain: 'ai_safety',
  seed: 7,
  models: [{ name: 'model', capabilityIndex: 400, alignmentScore: 70, guardrailCoverage: 60 }],
  events: [{ tick: 3, type: 'capability_jump', target: 'model', magnitude: 0.3 }],
};
const BAD_SCENARIO = {
  ...SCENARIO,
  models: [{ name: 'model', capabilityIndex: 1001, alignmentScore: 70 }],
};
const TICKS = 500;
const CHUNK = 256; // the server's default chunk_steps: stream events carry at most this many steps
const LONG_TICKS = 60_000; // ~2-3 s of work: still running while a stream is cut
const UNKNOWN_ID = 'sim_doesnotexist0000';

// -- clients --------------------------------------------------------------------------------------

function authHeaders(key) {
  return key ? { authorization: `Bearer ${key}` } : {};
}

function fetchLog(log) {
  return (url, init) => {
    log.push({ url: String(url), method: init?.method ?? 'GET' });
    return fetch(url, init);
  };
}

function httpClient(base, key = API_KEY, log = []) {
  return createTRPCClient({
    links: [httpLink({ url: httpUrl(base), headers: () => authHeaders(key), fetch: fetchLog(log) })],
  });
}

function batchClient(base, key = API_KEY, log = []) {
  return createTRPCClient({
    links: [
      httpBatchLink({ url: httpUrl(base), headers: () => authHeaders(key), fetch: fetchLog(log) }),
    ],
  });
}

function streamBatchClient(base, key = API_KEY, log = []) {
  return createTRPCClient({
    links: [
      httpBatchStreamLink({ url: httpUrl(base), headers: () => authHeaders(key), fetch: fetchLog(log) }),
    ],
  });
}

/**
 * An httpSubscriptionLink client. The key travels as tRPC's `connectionParams` (a query
 * parameter) or, with `via: 'header'`, as an Authorization header through the EventSource's
 * fetch. `cutAfterEvents` cuts the first connection's body after that many value events (a
 * network error: EventSource reconnects by itself, sending Last-Event-ID). Every request made is
 * logged with its Last-Event-ID.
 */
function sseClient(base, key = API_KEY, { via = 'connectionParams', cutAfterEvents = null } = {}) {
  const requests = [];
  const fetchWithCut = async (url, init) => {
    const headers = new Headers(init?.headers ?? {});
    if (key && via === 'header') headers.set('authorization', `Bearer ${key}`);
    requests.push({ url: String(url), lastEventId: headers.get('last-event-id') });
    const response = await fetch(url, { ...init, headers });
    if (cutAfterEvents === null || requests.length > 1 || !response.body) return response;
    const reader = response.body.getReader();
    let seen = 0;
    const decoder = new TextDecoder();
    const body = new ReadableStream({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        seen += (decoder.decode(value, { stream: true }).match(/\nid: /g) ?? []).length;
        if (seen >= cutAfterEvents) {
          reader.cancel().catch(() => {});
          controller.error(new Error('cut by the test'));
        }
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  const client = createTRPCClient({
    links: [
      httpSubscriptionLink({
        url: httpUrl(base),
        EventSource,
        eventSourceOptions: { fetch: fetchWithCut },
        ...(key && via === 'connectionParams'
          ? { connectionParams: async () => ({ authorization: `Bearer ${key}` }) }
          : {}),
      }),
    ],
  });
  return { client, requests };
}

/** A `ws` WebSocket that records every frame in and out, and every socket made. */
function tappedWebSocket(tap) {
  return class TappedWebSocket extends WebSocket {
    constructor(address, protocols, options) {
      super(address, protocols, options);
      const index = tap.sockets.length;
      tap.sockets.push(this);
      this.tapIndex = index;
      this.on('message', (data) => tap.frames.push({ socket: index, dir: 'in', text: String(data) }));
      this.on('close', (code) => tap.frames.push({ socket: index, dir: 'close', text: String(code) }));
    }

    send(data, ...rest) {
      tap.frames.push({ socket: this.tapIndex, dir: 'out', text: String(data) });
      return super.send(data, ...rest);
    }
  };
}

function wsPair(base, key = API_KEY, extra = {}) {
  const tap = { sockets: [], frames: [], states: [] };
  const wsClient = createWSClient({
    url: wsUrl(base),
    WebSocket: tappedWebSocket(tap),
    ...(key ? { connectionParams: async () => ({ authorization: `Bearer ${key}` }) } : {}),
    ...extra,
  });
  wsClient.connectionState.subscribe({ next: (s) => tap.states.push(s) });
  const client = createTRPCClient({ links: [wsLink({ client: wsClient })] });
  return { client, wsClient, tap };
}

// -- helpers --------------------------------------------------------------------------------------

async function rejection(promise) {
  try {
    const value = await promise;
    assert.fail(`expected an error, got a result: ${JSON.stringify(value).slice(0, 300)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    return error;
  }
}

/** The error must be a TRPCClientError carrying the tRPC error shape of `code` on `path`. */
function assertTRPCError(error, { code, status, jsonrpc, path }) {
  assert.ok(error instanceof TRPCClientError, `not a TRPCClientError: ${describe(error)}`);
  assert.ok(error.shape, `no error shape on the TRPCClientError (${error.message})`);
  assert.equal(error.data?.code, code, `data.code (message: ${error.message})`);
  assert.equal(error.data?.httpStatus, status, 'data.httpStatus');
  assert.equal(error.shape.code, jsonrpc, 'JSON-RPC code');
  if (path === null) assert.equal('path' in error.data, false, 'data.path must be absent');
  else if (path !== undefined) assert.equal(error.data.path, path, 'data.path');
  assert.equal(typeof error.message, 'string');
  assert.equal(error.message, error.shape.message);
  return { message: error.message, data: error.data };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

async function waitFinished(client, id, timeoutMs = 30_000) {
  let record;
  await until(
    async () => {
      record = await client.simulation.get.query({ id });
      return ['completed', 'failed', 'cancelled'].includes(record.status);
    },
    timeoutMs,
    `simulation ${id} to finish`,
  );
  return record;
}

function assertSimulation(record, { ticks }) {
  assert.match(record.id, /^sim_[A-Za-z0-9]+$/);
  assert.ok(['queued', 'running', 'completed', 'failed', 'cancelled'].includes(record.status));
  assert.equal(record.ticks, ticks);
  assert.equal(record.scenarioName, SCENARIO.name);
  assert.equal(record.domain, 'ai_safety');
  assert.equal(record.seed, SCENARIO.seed);
  assert.equal(typeof record.engineVersion, 'string');
  assert.equal(typeof record.createdAt, 'string');
  if (KEYED) assert.equal(typeof record.organizationId, 'string', 'organizationId of a keyed caller');
}

function assertStep(step) {
  assert.equal(typeof step.t, 'number');
  assert.ok(step.stability >= 0 && step.stability <= 1, `stability ${step.stability}`);
  assert.ok(['resonant', 'volatile', 'stagnant'].includes(step.phase), `phase ${step.phase}`);
  assert.equal(typeof step.agents, 'object');
}

/** Ticks from..to each exactly once, in order. */
function assertTicks(ticks, from, to) {
  const expected = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  if (ticks.length !== expected.length || ticks.some((t, i) => t !== expected[i])) {
    const dupes = ticks.filter((t, i) => ticks.indexOf(t) !== i).slice(0, 5);
    assert.fail(
      `expected ticks ${from}..${to} exactly once in order; got ${ticks.length} ticks ` +
        `(first ${ticks[0]}, last ${ticks.at(-1)}, duplicates ${JSON.stringify(dupes)})`,
    );
  }
}

/**
 * Subscribe through the official client; resolves when the subscription completes or errors.
 * `onEvent(event, ctx)` runs on every tracked event.
 */
function stream(client, input, { onEvent, timeoutMs = 30_000 } = {}) {
  const out = { events: [], ticks: [], started: 0, stopped: 0, errors: [], states: [] };
  return new Promise((resolve) => {
    let subscription = null;
    const timer = setTimeout(() => {
      out.errors.push(`timed out after ${timeoutMs} ms (${out.ticks.length} ticks so far)`);
      subscription?.unsubscribe();
      resolve(out);
    }, timeoutMs);
    subscription = client.simulation.stream.subscribe(input, {
      onStarted: () => out.started++,
      onData: (event) => {
        out.events.push({ id: event?.id, count: event?.data?.steps?.length, keys: Object.keys(event ?? {}) });
        for (const step of event?.data?.steps ?? []) out.ticks.push(step.t);
        out.lastStep = event?.data?.steps?.at(-1);
        onEvent?.(event, out);
      },
      onError: (error) => {
        out.errors.push(error);
        clearTimeout(timer);
        resolve(out);
      },
      onStopped: () => out.stopped++,
      onComplete: () => {
        clearTimeout(timer);
        out.completed = true;
        resolve(out);
      },
      onConnectionStateChange: (state) => out.states.push(state),
    });
  });
}

function assertTrackedEvents(events, ticksFrom, ticksTo) {
  for (const event of events) {
    assert.deepEqual(event.keys.sort(), ['data', 'id'], 'onData receives {id, data}');
    assert.equal(typeof event.id, 'string', 'tracked id is a string');
  }
  // each event is tracked by the last tick it carries
  let last = ticksFrom - 1;
  for (const event of events) {
    last += event.count;
    assert.equal(event.id, String(last), 'tracked id = the last tick of the event');
  }
  assert.equal(last, ticksTo);
}

async function rawFetch(path, init = {}) {
  const response = await fetch(`${httpUrl(BASE)}${path}`, {
    ...init,
    headers: { ...authHeaders(API_KEY), ...(init.headers ?? {}) },
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** The messages of a tapped frame (a frame may hold one message or a batch array). */
function parseFrame(frame) {
  if (frame.dir === 'close' || frame.text === 'PING' || frame.text === 'PONG') return [];
  return [JSON.parse(frame.text)].flat();
}

const enc = (value) => encodeURIComponent(JSON.stringify(value));

// -- the checks -------------------------------------------------------------------------------

const http = httpClient(BASE);
const state = {};

async function httpChecks() {
  const log = [];
  const logged = httpClient(BASE, API_KEY, log);

  await check('http.query.engine.versions', async () => {
    const versions = await logged.engine.versions.query();
    assert.equal(log.at(-1).method, 'GET');
    assert.ok(log.at(-1).url.endsWith('/trpc/engine.versions'), log.at(-1).url);
    assert.match(versions.default, /^\d+\.\d+\.\d+$/);
    const active = versions.active.map((v) => v.version);
    const retired = versions.retired.map((v) => v.version);
    assert.ok(active.includes('1.4.4'), `active ${active}`);
    assert.ok(active.includes(versions.default), 'the default is active');
    assert.ok(retired.includes('1.3.2'), `retired ${retired}`);
    for (const v of [...versions.active, ...versions.retired]) {
      assert.deepEqual(Object.keys(v).sort(), ['notes', 'released', 'version']);
    }
    state.versions = versions;
    return { default: versions.default, active, retired };
  });

  await check('http.query.domain.list', async () => {
    const domains = await http.domain.list.query();
    const text = JSON.stringify(domains);
    assert.ok(text.includes('ai_safety'), 'lists the ai_safety domain');
    assert.ok(text.includes('capability_jump'), 'lists its event types');
    return { bytes: text.length };
  });

  await check('http.query.scenario.validate(valid)', async () => {
    const result = await http.scenario.validate.query({ scenario: SCENARIO });
    assert.deepEqual(result, { valid: true, issues: [] });
  });

  await check('http.query.scenario.validate(invalid)', async () => {
    const result = await http.scenario.validate.query({ scenario: BAD_SCENARIO });
    assert.equal(result.valid, false);
    assert.ok(result.issues.length >= 1);
    const paths = result.issues.map((i) => i.path);
    assert.ok(
      paths.some((p) => p.endsWith('models[0].capabilityIndex')),
      `an issue at models[0].capabilityIndex: ${JSON.stringify(result.issues)}`,
    );
    return result;
  });

  await check('http.mutation.simulation.create', async () => {
    const record = await logged.simulation.create.mutate({ scenario: SCENARIO, ticks: TICKS });
    assert.equal(log.at(-1).method, 'POST');
    assert.ok(log.at(-1).url.endsWith('/trpc/simulation.create'), log.at(-1).url);
    assertSimulation(record, { ticks: TICKS });
    state.simId = record.id;
    return { id: record.id, status: record.status, engineVersion: record.engineVersion };
  });

  await check('http.query.simulation.get(completes)', async () => {
    assert.ok(state.simId, 'needs simulation.create');
    const record = await waitFinished(http, state.simId);
    assert.equal(record.status, 'completed');
    assert.equal(record.tick, TICKS);
    assertSimulation(record, { ticks: TICKS });
    assert.equal(typeof record.completedAt, 'string');
    assert.ok(record.summary && typeof record.summary.meanStability === 'number', 'summary');
    state.completed = record;
    return { status: record.status, summary: record.summary };
  });

  await check('http.query.simulation.list', async () => {
    assert.ok(state.simId, 'needs simulation.create');
    const page = await http.simulation.list.query({ limit: 100 });
    assert.ok(Array.isArray(page.items));
    assert.ok('nextCursor' in page, 'nextCursor key');
    assert.ok(page.items.some((s) => s.id === state.simId), 'lists the new simulation');
    const first = await http.simulation.list.query({ limit: 1 });
    assert.equal(first.items.length, 1);
    if (page.items.length > 1) {
      assert.equal(typeof first.nextCursor, 'string');
      const second = await http.simulation.list.query({ limit: 1, cursor: first.nextCursor });
      assert.notEqual(second.items[0].id, first.items[0].id, 'the cursor pages on');
    }
    return { items: page.items.length };
  });

  await check('http.query.simulation.trace', async () => {
    assert.ok(state.completed, 'needs a completed simulation');
    const page = await http.simulation.trace.query({ id: state.simId, fromTick: 1, limit: 10_000 });
    assert.equal(page.steps.length, TICKS);
    assertTicks(page.steps.map((s) => s.t), 1, TICKS);
    page.steps.forEach(assertStep);
    assert.equal(page.nextTick, null);
    const part = await http.simulation.trace.query({ id: state.simId, fromTick: 101, limit: 50 });
    assertTicks(part.steps.map((s) => s.t), 101, 150);
    assert.equal(part.nextTick, 151);
    assert.deepEqual(part.steps[0], page.steps[100], 'same step either way');
    state.trace = page.steps;
    return { steps: page.steps.length, nextTick: page.nextTick };
  });

  await check('http.mutation.simulation.cancel', async () => {
    const record = await http.simulation.create.mutate({ scenario: SCENARIO, ticks: 1_000_000 });
    const cancelled = await http.simulation.cancel.mutate({ id: record.id });
    assert.equal(cancelled.id, record.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.ok(cancelled.tick < 1_000_000);
    // cancelling a finished simulation answers its record unchanged
    const again = await http.simulation.cancel.mutate({ id: state.simId });
    assert.equal(again.status, 'completed');
    return { status: cancelled.status, tick: cancelled.tick };
  });

  await check('http.error.NOT_FOUND(simulation.get unknown id)', async () => {
    const error = await rejection(http.simulation.get.query({ id: UNKNOWN_ID }));
    return assertTRPCError(error, {
      code: 'NOT_FOUND',
      status: 404,
      jsonrpc: -32004,
      path: 'simulation.get',
    });
  });

  await check('http.error.NOT_FOUND(simulation.trace unknown id)', async () => {
    const error = await rejection(http.simulation.trace.query({ id: UNKNOWN_ID }));
    return assertTRPCError(error, { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'simulation.trace' });
  });

  await check('http.error.NOT_FOUND(unknown procedure)', async () => {
    const error = await rejection(http.nope.query());
    const out = assertTRPCError(error, { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'nope' });
    assert.equal(error.message, 'No procedure found on path "nope"');
    return out;
  });

  await check('http.error.METHOD_NOT_SUPPORTED(mutation as query)', async () => {
    const error = await rejection(http.simulation.create.query({ scenario: SCENARIO, ticks: 5 }));
    const out = assertTRPCError(error, {
      code: 'METHOD_NOT_SUPPORTED',
      status: 405,
      jsonrpc: -32005,
      path: 'simulation.create',
    });
    assert.equal(error.message, 'Unsupported GET-request to mutation procedure at path "simulation.create"');
    return out;
  });

  await check('http.error.BAD_REQUEST(create with an invalid scenario)', async () => {
    const error = await rejection(http.simulation.create.mutate({ scenario: BAD_SCENARIO, ticks: 10 }));
    const out = assertTRPCError(error, {
      code: 'BAD_REQUEST',
      status: 400,
      jsonrpc: -32600,
      path: 'simulation.create',
    });
    const kairos = error.data.kairos;
    assert.equal(kairos?.kind, 'validation', 'data.kairos.kind');
    const paths = kairos.issues.map((i) => i.path);
    assert.ok(
      paths.includes('scenario.models[0].capabilityIndex'),
      `field path scenario.models[0].capabilityIndex in ${JSON.stringify(paths)}`,
    );
    kairos.issues.forEach((i) => assert.equal(typeof i.message, 'string'));
    return out;
  });

  await check('http.error.BAD_REQUEST(input not matching the procedure schema)', async () => {
    const error = await rejection(http.simulation.get.query({}));
    const out = assertTRPCError(error, { code: 'BAD_REQUEST', status: 400, jsonrpc: -32600, path: 'simulation.get' });
    assert.equal(error.data.kairos?.kind, 'validation');
    assert.ok(error.data.kairos.issues.some((i) => i.path === 'id'), JSON.stringify(error.data.kairos));
    return out;
  });

  await check('http.error.PRECONDITION_FAILED(retired engine pin)', async () => {
    const retired = state.versions?.retired?.map((v) => v.version) ?? ['1.3.2'];
    assert.ok(retired.includes('1.3.2'), '1.3.2 is listed as retired');
    const error = await rejection(
      http.simulation.create.mutate({ scenario: SCENARIO, ticks: 10, engineVersion: '1.3.2' }),
    );
    const out = assertTRPCError(error, {
      code: 'PRECONDITION_FAILED',
      status: 412,
      jsonrpc: -32012,
      path: 'simulation.create',
    });
    const kairos = error.data.kairos;
    assert.equal(kairos?.kind, 'engine_version');
    assert.equal(kairos.requested, '1.3.2');
    assert.deepEqual(
      [...kairos.active].sort(),
      state.versions.active.map((v) => v.version).sort(),
      'kairos.active = the active versions of engine.versions',
    );
    return out;
  });

  await check('http.engine pin (active version) is honoured', async () => {
    const record = await http.simulation.create.mutate({ scenario: SCENARIO, ticks: 5, engineVersion: '1.4.4' });
    assert.equal(record.engineVersion, '1.4.4');
  });

  await check('http.error.CONFLICT(idempotency key reused with another input)', async () => {
    const idempotencyKey = `conformance-${process.pid}-${Date.now()}`;
    const first = await http.simulation.create.mutate({ scenario: SCENARIO, ticks: 20, idempotencyKey });
    const replay = await http.simulation.create.mutate({ scenario: SCENARIO, ticks: 20, idempotencyKey });
    assert.equal(replay.id, first.id, 'the same input with the same key is the same simulation');
    const error = await rejection(
      http.simulation.create.mutate({ scenario: SCENARIO, ticks: 21, idempotencyKey }),
    );
    return assertTRPCError(error, { code: 'CONFLICT', status: 409, jsonrpc: -32009, path: 'simulation.create' });
  });
}

async function batchChecks() {
  await check('batch.mixed success and errors in one request', async () => {
    const log = [];
    const batch = batchClient(BASE, API_KEY, log);
    const settled = await Promise.allSettled([
      batch.engine.versions.query(),
      batch.simulation.get.query({ id: UNKNOWN_ID }),
      batch.scenario.validate.query({ scenario: SCENARIO }),
      batch.nope.query(),
      batch.simulation.get.query({ id: state.simId }),
    ]);
    assert.equal(log.length, 1, `one HTTP request, got ${JSON.stringify(log)}`);
    const url = new URL(log[0].url);
    assert.equal(
      url.pathname,
      '/trpc/engine.versions,simulation.get,scenario.validate,nope,simulation.get',
    );
    assert.equal(url.searchParams.get('batch'), '1');
    const [versions, missing, valid, nope, found] = settled;
    assert.equal(versions.status, 'fulfilled');
    assert.equal(versions.value.default, state.versions.default);
    assert.equal(missing.status, 'rejected');
    assertTRPCError(missing.reason, { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'simulation.get' });
    assert.equal(valid.status, 'fulfilled');
    assert.deepEqual(valid.value, { valid: true, issues: [] });
    assert.equal(nope.status, 'rejected');
    assertTRPCError(nope.reason, { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'nope' });
    assert.equal(found.status, 'fulfilled');
    assert.equal(found.value.id, state.simId);
    state.batchUrl = url.pathname + url.search;
    return { url: state.batchUrl };
  });

  await check('batch.raw 207 Multi-Status with an array body', async () => {
    assert.ok(state.batchUrl, 'needs the batch check');
    const { status, body, headers } = await rawFetch(state.batchUrl.replace(/^\/trpc/, ''));
    assert.equal(status, 207);
    assert.ok(Array.isArray(body), 'array body');
    assert.equal(body.length, 5);
    assert.deepEqual(Object.keys(body[0]), ['result']);
    assert.deepEqual(Object.keys(body[1]), ['error']);
    assert.equal(body[1].error.data.code, 'NOT_FOUND');
    assert.equal(body[1].error.data.path, 'simulation.get');
    assert.deepEqual(body[2], { result: { data: { valid: true, issues: [] } } });
    assert.equal(body[3].error.data.path, 'nope');
    assert.equal(body[4].result.data.id, state.simId);
    assert.match(headers.get('content-type') ?? '', /^application\/json/);
    return { status, envelopes: body.map((e) => Object.keys(e)[0]) };
  });

  await check('batch.raw uniform statuses: 404+404 -> 404, all ok -> 200', async () => {
    const input = enc({ 0: { id: UNKNOWN_ID }, 1: { id: UNKNOWN_ID } });
    const both = await rawFetch(`/simulation.get,simulation.trace?batch=1&input=${input}`);
    assert.equal(both.status, 404);
    assert.deepEqual(both.body.map((e) => e.error.data.code), ['NOT_FOUND', 'NOT_FOUND']);
    assert.deepEqual(both.body.map((e) => e.error.data.path), ['simulation.get', 'simulation.trace']);
    const ok = await rawFetch(`/engine.versions,domain.list?batch=1&input=${enc({})}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 2);
    return { both: both.status, ok: ok.status };
  });

  await check('batch.mutations batched in one POST', async () => {
    const log = [];
    const batch = batchClient(BASE, API_KEY, log);
    const [a, b] = await Promise.all([
      batch.simulation.create.mutate({ scenario: SCENARIO, ticks: 7 }),
      batch.simulation.create.mutate({ scenario: { ...SCENARIO, seed: 8 }, ticks: 9 }),
    ]);
    assert.equal(log.length, 1);
    assert.equal(log[0].method, 'POST');
    assert.equal(new URL(log[0].url).pathname, '/trpc/simulation.create,simulation.create');
    assert.equal(a.ticks, 7);
    assert.equal(b.ticks, 9);
    assert.equal(b.seed, 8);
    assert.notEqual(a.id, b.id);
  });

  await check('batch.raw mixed procedure types -> one top-level 400 (not an array)', async () => {
    const { status, body } = await rawFetch(`/engine.versions,simulation.cancel?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ 1: { id: UNKNOWN_ID } }),
    });
    assert.equal(status, 400);
    assert.ok(!Array.isArray(body), `a single error object, got ${JSON.stringify(body)}`);
    assert.equal(body.error.data.code, 'BAD_REQUEST');
    assert.equal(body.error.message, 'Cannot mix procedure types in call: query, mutation');
    assert.equal('path' in body.error.data, false);
  });
}

async function rawChecks() {
  await check('raw.envelope of a success', async () => {
    const { status, body, headers } = await rawFetch('/engine.versions');
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body), ['result']);
    assert.deepEqual(Object.keys(body.result), ['data']);
    assert.match(headers.get('vary') ?? '', /trpc-accept/);
  });

  await check('raw.envelope of an error (key order, no stack)', async () => {
    const { status, body } = await rawFetch(`/simulation.get?input=${enc({ id: UNKNOWN_ID })}`);
    assert.equal(status, 404);
    assert.deepEqual(Object.keys(body), ['error']);
    assert.deepEqual(Object.keys(body.error), ['message', 'code', 'data']);
    assert.deepEqual(Object.keys(body.error.data).slice(0, 3), ['code', 'httpStatus', 'path']);
    assert.equal('stack' in body.error.data, false, 'no stack outside dev mode');
    return body;
  });

  await check('raw.405 carries allow: POST', async () => {
    const { status, headers } = await rawFetch('/simulation.cancel');
    assert.equal(status, 405);
    assert.equal(headers.get('allow'), 'POST');
  });

  await check('raw.HEAD -> 204 empty', async () => {
    const { status, text } = await rawFetch('/simulation.create', { method: 'HEAD' });
    assert.equal(status, 204);
    assert.equal(text, '');
  });

  await check('raw.POST without content-type -> 415', async () => {
    const response = await fetch(`${httpUrl(BASE)}/simulation.cancel`, {
      method: 'POST',
      headers: authHeaders(API_KEY),
      body: new Uint8Array(Buffer.from(JSON.stringify({ id: UNKNOWN_ID }))),
    });
    const body = await response.json();
    assert.equal(response.status, 415);
    assert.equal(body.error.data.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(body.error.message, 'Missing content-type header');
  });

  await check('raw.GET with invalid JSON input -> 400 with path', async () => {
    const { status, body } = await rawFetch('/simulation.get?input=%7Bnope');
    assert.equal(status, 400);
    assert.equal(body.error.data.code, 'BAD_REQUEST');
    assert.equal(body.error.data.path, 'simulation.get');
  });
}

async function authChecks() {
  if (!KEYED) {
    skip('auth.http UNAUTHORIZED without a key', 'the server under test has no API keys');
    skip('auth.http UNAUTHORIZED with a wrong key', 'the server under test has no API keys');
    skip('auth.ws refusals', 'the server under test has no API keys');
    return;
  }
  await check('auth.http UNAUTHORIZED without a key', async () => {
    const anonymous = httpClient(BASE, null);
    const error = await rejection(anonymous.engine.versions.query());
    return assertTRPCError(error, { code: 'UNAUTHORIZED', status: 401, jsonrpc: -32001, path: 'engine.versions' });
  });

  await check('auth.http UNAUTHORIZED with a wrong key', async () => {
    const wrong = httpClient(BASE, WRONG_KEY);
    const error = await rejection(wrong.simulation.create.mutate({ scenario: SCENARIO, ticks: 5 }));
    return assertTRPCError(error, { code: 'UNAUTHORIZED', status: 401, jsonrpc: -32001, path: 'simulation.create' });
  });

  await check('auth.http batch without a key: every call UNAUTHORIZED with its path', async () => {
    const batch = batchClient(BASE, null);
    const settled = await Promise.allSettled([batch.engine.versions.query(), batch.domain.list.query()]);
    assertTRPCError(settled[0].reason, { code: 'UNAUTHORIZED', status: 401, jsonrpc: -32001, path: 'engine.versions' });
    assertTRPCError(settled[1].reason, { code: 'UNAUTHORIZED', status: 401, jsonrpc: -32001, path: 'domain.list' });
  });

  await check('auth.ws connectionParams with the key', async () => {
    const { client, wsClient, tap } = wsPair(BASE, API_KEY);
    try {
      const versions = await client.engine.versions.query();
      assert.equal(versions.default, state.versions.default);
      const first = tap.frames.find((f) => f.dir === 'out');
      assert.deepEqual(JSON.parse(first.text), {
        method: 'connectionParams',
        data: { authorization: `Bearer ${API_KEY}` },
      });
      assert.match(tap.sockets[0].url, /\?connectionParams=1$/);
      const record = await client.simulation.create.mutate({ scenario: SCENARIO, ticks: 5 });
      assert.equal(typeof record.organizationId, 'string');
      return { organizationId: record.organizationId, url: tap.sockets[0].url };
    } finally {
      await wsClient.close();
    }
  });

  for (const [label, key] of [['wrong key in connectionParams', WRONG_KEY], ['no key', null]]) {
    const refused = { closeCode: null };
    await check(`auth.ws ${label}: id-null UNAUTHORIZED, socket closed`, async () => {
      const { client, wsClient, tap } = wsPair(BASE, key, { retryDelayMs: () => 60_000 });
      try {
        const error = await rejection(client.engine.versions.query());
        assert.ok(error instanceof TRPCClientError, `a TRPCClientError, got ${describe(error)}`);
        await until(() => tap.frames.some((f) => f.dir === 'close'), 5000, 'the socket to close');
        const refusal = tap.frames
          .filter((f) => f.dir === 'in')
          .flatMap(parseFrame)
          .find((m) => m.id === null);
        assert.ok(refusal, 'an id-null error frame');
        assert.deepEqual(Object.keys(refusal), ['id', 'error']);
        assert.equal(refusal.error.data.code, 'UNAUTHORIZED');
        assert.equal(refusal.error.data.httpStatus, 401);
        assert.equal(refusal.error.code, -32001);
        assert.equal('path' in refusal.error.data, false, 'connection errors carry no path');
        refused.closeCode = tap.frames.find((f) => f.dir === 'close').text;
        return { clientError: error.message, refusal, closeCode: refused.closeCode };
      } finally {
        await wsClient.close();
      }
    });
    // @trpc/server's ws adapter refuses with ws.close() without a code, which the peer sees as
    // 1005 (trpc-protocol.md section 5, "When createContext throws", step 3). An ASGI server
    // cannot send a close frame without a code (websocket.close always carries one), so ours
    // closes with 1000 (normal closure); docs/server.md lists this difference. Either way the
    // official client treats it as the end of a refused connection.
    await check(`auth.ws ${label}: refused socket is closed (1005, or 1000 from ASGI)`, async () => {
      assert.ok(refused.closeCode !== null, 'needs the refusal check');
      assert.ok(['1005', '1000'].includes(refused.closeCode), `close code ${refused.closeCode}`);
    });
  }
}

async function streamLinkChecks() {
  await check('batchstream.mixed success and errors, each call its own result', async () => {
    const log = [];
    const client = streamBatchClient(BASE, API_KEY, log);
    const settled = await Promise.allSettled([
      client.engine.versions.query(),
      client.simulation.get.query({ id: UNKNOWN_ID }),
      client.domain.list.query(),
      client.simulation.get.query({ id: 42 }),
    ]);
    assert.equal(log.length, 1, 'one request for the four calls');
    assert.match(log[0].url, /engine\.versions,simulation\.get,domain\.list,simulation\.get\?batch=1/);
    assert.equal(settled[0].status, 'fulfilled');
    assert.match(settled[0].value.default, /^\d+\.\d+\.\d+$/);
    assertTRPCError(settled[1].reason, { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'simulation.get' });
    assert.equal(settled[2].status, 'fulfilled');
    assert.ok(Array.isArray(settled[2].value.domains ?? settled[2].value), 'domain.list answered');
    assertTRPCError(settled[3].reason, { code: 'BAD_REQUEST', status: 400, jsonrpc: -32600, path: 'simulation.get' });
    return { statuses: settled.map((s) => s.status) };
  });

  await check('batchstream.mutation and query streamed (POST and GET)', async () => {
    const client = streamBatchClient(BASE);
    const record = await client.simulation.create.mutate({ scenario: SCENARIO, ticks: 5 });
    assertSimulation(record, { ticks: 5 });
    const again = await client.simulation.get.query({ id: record.id });
    assert.equal(again.id, record.id);
  });

  await check('batchstream.raw head line, then chunk lines; 200 whatever the calls', async () => {
    const res = await rawFetch(`/engine.versions,simulation.get?batch=1&input=${enc({ 1: { id: UNKNOWN_ID } })}`, {
      headers: { 'trpc-accept': 'application/jsonl' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('vary'), 'trpc-accept, accept');
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { 0: [[0], [null, 0, 0]], 1: [[0], [null, 0, 1]] });
    const error = lines.find((l) => l[0] === 1);
    assert.equal(error[2][0][0].error.data.code, 'NOT_FOUND');
    return { lines: lines.length };
  });

  await check('batchstream.raw not batched -> 400 before streaming', async () => {
    const res = await rawFetch('/engine.versions', { headers: { 'trpc-accept': 'application/jsonl' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.message, 'Streaming requests must be batched (you can do a batch of 1)');
  });

  for (const via of KEYED ? ['connectionParams', 'header'] : ['connectionParams']) {
    await check(`sse.subscription of a completed simulation (key as ${via}): ticks 1..N once`, async () => {
      assert.ok(state.simId, 'needs the completed simulation');
      const { client, requests } = sseClient(BASE, API_KEY, { via });
      const out = await stream(client, { id: state.simId });
      assert.deepEqual(out.errors.map(describe), []);
      assert.equal(out.completed, true, 'completes on the `return` event');
      assertTicks(out.ticks, 1, TICKS);
      assertTrackedEvents(out.events, 1, TICKS);
      assert.equal(requests.length, 1, 'no reconnection');
      if (KEYED && via === 'connectionParams') assert.match(requests[0].url, /[?&]connectionParams=/);
      return { events: out.events.map((e) => [e.id, e.count]) };
    });
  }

  await check('sse.subscription resumed with lastEventId input', async () => {
    const { client } = sseClient(BASE);
    const out = await stream(client, { id: state.simId, lastEventId: '100' });
    assert.deepEqual(out.errors.map(describe), []);
    assertTicks(out.ticks, 101, TICKS);
  });

  await check('sse.subscription cut mid-stream: EventSource resumes with Last-Event-ID, exactly once', async () => {
    const http = httpClient(BASE);
    const record = await http.simulation.create.mutate({ scenario: SCENARIO, ticks: LONG_TICKS });
    const { client, requests } = sseClient(BASE, API_KEY, { cutAfterEvents: 3 });
    const out = await stream(client, { id: record.id }, { timeoutMs: 60_000 });
    assert.deepEqual(out.errors.map(describe), []);
    assert.equal(out.completed, true);
    assertTicks(out.ticks, 1, LONG_TICKS);
    assert.ok(requests.length >= 2, 'reconnected');
    assert.match(requests[1].lastEventId ?? '', /^\d+$/, 'the reconnection sent Last-Event-ID');
    return { requests: requests.map((r) => r.lastEventId), events: out.events.length };
  });

  await check('sse.error NOT_FOUND (unknown id) as a typed error', async () => {
    const { client } = sseClient(BASE);
    const out = await stream(client, { id: UNKNOWN_ID });
    assert.equal(out.ticks.length, 0);
    assert.equal(out.errors.length, 1);
    return assertTRPCError(out.errors[0], { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'simulation.stream' });
  });

  await check('sse.error mid-stream: a run cancelled while streamed is UNPROCESSABLE_CONTENT', async () => {
    const http = httpClient(BASE);
    const record = await http.simulation.create.mutate({ scenario: SCENARIO, ticks: 1_000_000 });
    const { client } = sseClient(BASE);
    let cancelling = null;
    const out = await stream(
      client,
      { id: record.id },
      {
        timeoutMs: 60_000,
        onEvent: () => {
          cancelling ??= http.simulation.cancel.mutate({ id: record.id });
        },
      },
    );
    await cancelling;
    assert.ok(out.ticks.length > 0, 'data before the error');
    assert.equal(out.errors.length, 1);
    const detail = assertTRPCError(out.errors[0], {
      code: 'UNPROCESSABLE_CONTENT', status: 422, jsonrpc: -32022, path: 'simulation.stream',
    });
    assert.equal(out.errors[0].data.kairos.kind, 'simulation');
    assert.equal(out.errors[0].data.kairos.reason, 'cancelled');
    return { ticks: out.ticks.length, ...detail };
  });

  await check('sse.raw headers and the connected event', async () => {
    const controller = new AbortController();
    const res = await fetch(`${httpUrl(BASE)}/simulation.stream?input=${enc({ id: state.simId })}`, {
      headers: { accept: 'text/event-stream', ...authHeaders(API_KEY) },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const text = await res.text();
    assert.match(text, /^event: connected\ndata: \{"reconnectAfterInactivityMs":\d+\}\n\n\n/);
    assert.match(text, /\nid: 256\n\n\n/);
    assert.ok(text.endsWith('event: return\ndata: \n\n\n'), 'ends with return');
  });

  if (!KEYED) {
    skip('sse.auth UNAUTHORIZED', 'the server under test has no API keys');
    return;
  }
  await check('sse.auth UNAUTHORIZED with a wrong key: typed error, no retry', async () => {
    const { client, requests } = sseClient(BASE, WRONG_KEY);
    const out = await stream(client, { id: state.simId });
    assert.equal(out.errors.length, 1);
    assert.equal(requests.length, 1, 'a 401 is not retried');
    return assertTRPCError(out.errors[0], { code: 'UNAUTHORIZED', status: 401, jsonrpc: -32001, path: 'simulation.stream' });
  });

  await check('batchstream.auth without a key: every call UNAUTHORIZED', async () => {
    const client = streamBatchClient(BASE, null);
    const settled = await Promise.allSettled([client.engine.versions.query(), client.domain.list.query()]);
    assertTRPCError(settled[0].reason, { code: 'UNAUTHORIZED', status: 401, jsonrpc: -32001, path: 'engine.versions' });
    assertTRPCError(settled[1].reason, { code: 'UNAUTHORIZED', status: 401, jsonrpc: -32001, path: 'domain.list' });
  });
}

async function wsChecks() {
  const { client, wsClient, tap } = wsPair(BASE);
  try {
    await check('ws.query and mutation over the socket', async () => {
      const versions = await client.engine.versions.query();
      assert.equal(versions.default, state.versions.default);
      const record = await client.simulation.create.mutate({ scenario: SCENARIO, ticks: TICKS });
      assertSimulation(record, { ticks: TICKS });
      state.wsSimId = record.id;
      const got = await client.simulation.get.query({ id: record.id });
      assert.equal(got.id, record.id);
      const frames = tap.frames.filter((f) => f.dir === 'out').map((f) => JSON.parse(f.text));
      const flat = frames.flat().filter((m) => m.method !== 'connectionParams');
      assert.ok(flat.some((m) => m.method === 'query' && m.params.path === 'engine.versions'));
      assert.ok(flat.some((m) => m.method === 'mutation' && m.params.path === 'simulation.create'));
      return { sockets: tap.sockets.length };
    });

    await check('ws.error NOT_FOUND with path', async () => {
      const error = await rejection(client.simulation.get.query({ id: UNKNOWN_ID }));
      return assertTRPCError(error, { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'simulation.get' });
    });

    await check('ws.error BAD_REQUEST validation detail', async () => {
      const error = await rejection(client.simulation.create.mutate({ scenario: BAD_SCENARIO, ticks: 10 }));
      const out = assertTRPCError(error, { code: 'BAD_REQUEST', status: 400, jsonrpc: -32600, path: 'simulation.create' });
      assert.equal(error.data.kairos?.kind, 'validation');
      return out;
    });

    await check('ws.error unknown procedure', async () => {
      const error = await rejection(client.nope.query());
      const out = assertTRPCError(error, { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'nope' });
      assert.equal(error.message, 'No "query"-procedure on path "nope"');
      return out;
    });

    await check('ws.subscription of a completed simulation: ticks 1..N once, in order', async () => {
      assert.ok(state.simId, 'needs the completed simulation');
      const out = await stream(client, { id: state.simId });
      assert.deepEqual(out.errors, []);
      assert.equal(out.completed, true, 'completes');
      assert.equal(out.started, 1, 'onStarted once');
      assertTicks(out.ticks, 1, TICKS);
      assertTrackedEvents(out.events, 1, TICKS);
      assert.deepEqual(out.lastStep, state.trace.at(-1), 'same steps as simulation.trace');
      const started = tap.frames.filter((f) => f.dir === 'in').map((f) => JSON.parse(f.text));
      const data = started.find((m) => m.result?.type === 'data' && m.result.id !== undefined);
      assert.deepEqual(Object.keys(data.result).sort(), ['data', 'id', 'type']);
      assert.equal(data.result.data.id, data.result.id, 'wrapped {id, data}');
      return { events: out.events.map((e) => [e.id, e.count]) };
    });

    await check('ws.subscription resumed with lastEventId at a chunk boundary', async () => {
      const out = await stream(client, { id: state.simId, lastEventId: String(CHUNK) });
      assert.deepEqual(out.errors, []);
      assert.equal(out.completed, true);
      assertTicks(out.ticks, CHUNK + 1, TICKS);
      assertTrackedEvents(out.events, CHUNK + 1, TICKS);
      return { events: out.events.map((e) => [e.id, e.count]) };
    });

    await check('ws.subscription resumed with lastEventId inside a chunk', async () => {
      const out = await stream(client, { id: state.simId, lastEventId: '100' });
      assert.deepEqual(out.errors, []);
      assert.equal(out.completed, true);
      assertTicks(out.ticks, 101, TICKS);
      assert.equal(out.events.at(-1).id, String(TICKS));
      return { events: out.events.map((e) => [e.id, e.count]) };
    });

    await check('ws.subscription resumed at the end: no events, completes', async () => {
      const out = await stream(client, { id: state.simId, lastEventId: String(TICKS) });
      assert.deepEqual(out.errors, []);
      assert.equal(out.completed, true);
      assert.equal(out.ticks.length, 0);
    });

    await check('ws.subscription of an unknown id: error, no data', async () => {
      const out = await stream(client, { id: UNKNOWN_ID });
      assert.equal(out.ticks.length, 0);
      assert.equal(out.errors.length, 1);
      return assertTRPCError(out.errors[0], { code: 'NOT_FOUND', status: 404, jsonrpc: -32004, path: 'simulation.stream' });
    });

    await check('ws.subscription of a running simulation, unsubscribed mid-way', async () => {
      const record = await client.simulation.create.mutate({ scenario: SCENARIO, ticks: LONG_TICKS });
      const frames = tap.frames.length;
      let subscription;
      const first = await new Promise((resolve, reject) => {
        subscription = client.simulation.stream.subscribe(
          { id: record.id },
          { onData: (event) => resolve(event), onError: reject },
        );
      });
      subscription.unsubscribe();
      const out = tap.frames.slice(frames).filter((f) => f.dir === 'out').map((f) => JSON.parse(f.text));
      const sub = out.flat().find((m) => m.method === 'subscription');
      await until(
        () => tap.frames.slice(frames).filter((f) => f.dir === 'in').flatMap(parseFrame).some((m) => m.id === sub.id && m.result?.type === 'stopped'),
        5000,
        'stopped after subscription.stop',
      );
      assert.ok(out.flat().some((m) => m.method === 'subscription.stop' && m.id === sub.id), 'stop sent');
      await client.simulation.cancel.mutate({ id: record.id });
      return { firstEvent: first.id };
    });

    await check('ws.tracked resume on reconnect (socket cut mid-stream)', async () => {
      const record = await client.simulation.create.mutate({ scenario: SCENARIO, ticks: LONG_TICKS });
      let cutAt = null;
      const socketsBefore = tap.sockets.length;
      const frameIndex = tap.frames.length;
      const out = await stream(
        client,
        { id: record.id },
        {
          timeoutMs: 40_000,
          onEvent: (event, acc) => {
            if (cutAt === null && acc.events.length === 2) {
              cutAt = event.id;
              tap.sockets.at(-1).terminate(); // abrupt loss: the client sees 1006 and reconnects
            }
          },
        },
      );
      assert.deepEqual(out.errors.map(describe), [], 'no error surfaced');
      assert.equal(out.completed, true);
      assert.ok(cutAt, 'the socket was cut');
      assert.ok(tap.sockets.length > socketsBefore, 'a new socket was opened');
      // frames since the subscription, in order: the original subscription, the data it got,
      // and the resubscription the client sent on a new socket after the cut
      const frames = tap.frames.slice(frameIndex).map((f) => ({ ...f, messages: parseFrame(f) }));
      const original = frames
        .filter((f) => f.dir === 'out')
        .flatMap((f) => f.messages)
        .find((m) => m.method === 'subscription');
      const resubAt = frames.findIndex(
        (f) => f.dir === 'out' && f.socket >= socketsBefore &&
          f.messages.some((m) => m.method === 'subscription' && m.params.lastEventId !== undefined),
      );
      assert.ok(resubAt >= 0, 'a resubscription with params.lastEventId on a new socket');
      const resub = frames[resubAt].messages.find((m) => m.method === 'subscription');
      assert.equal(resub.params.path, 'simulation.stream');
      assert.deepEqual(resub.params.input, { id: record.id });
      const lastData = frames
        .slice(0, resubAt)
        .filter((f) => f.dir === 'in')
        .flatMap((f) => f.messages)
        .filter((m) => m.id === original.id && m.result?.type === 'data')
        .at(-1);
      assert.equal(resub.params.lastEventId, lastData.result.id, 'lastEventId = the last tracked id received');
      assertTicks(out.ticks, 1, LONG_TICKS);
      return { cutAt, original: original.id, resubscribe: resub, events: out.events.length, sockets: tap.sockets.length };
    });
  } finally {
    await wsClient.close();
  }
}

// -- graceful shutdown: the reconnect notification --------------------------------------------

function startServer(cmd, port) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], [...cmd.slice(1), '--port', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in 20 s: ${log}`));
    }, 20_000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /Uvicorn running on https?:\/\/[^:]+:(\d+)/.exec(log);
      if (match && !child.readyPort) {
        child.readyPort = Number(match[1]);
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code, signal) => {
      child.exited = true;
      child.exitCode_ = code ?? signal;
      clearTimeout(timer);
      if (!child.readyPort) reject(new Error(`server exited with ${code}: ${log}`));
    });
    child.getLog = () => log;
  });
}

function stopServer(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exited) return resolve(child.exitCode_);
    child.once('exit', (code, signal) => resolve(code ?? signal));
    child.kill(signal);
  });
}

async function reconnectChecks() {
  const name = 'reconnect.graceful shutdown: reconnect notification, subscription moves on';
  if (!SERVE_CMD) {
    skip(name, 'no --serve-cmd / KAIROS_SERVE_CMD to start and restart a server');
    return;
  }
  const cmd = JSON.parse(SERVE_CMD);
  const servers = [];
  try {
    await check(name, async () => {
      const first = await startServer(cmd, 0);
      servers.push(first);
      const port = first.readyPort;
      const base = `http://127.0.0.1:${port}`;
      const { client, wsClient, tap } = wsPair(base);
      try {
        const record = await client.simulation.create.mutate({ scenario: SCENARIO, ticks: LONG_TICKS });
        let stopping = null;
        const out = await stream(
          client,
          { id: record.id },
          {
            timeoutMs: 45_000,
            onEvent: (_event, acc) => {
              if (stopping === null && acc.events.length === 1) {
                stopping = (async () => {
                  const code = await stopServer(first, 'SIGTERM');
                  first.stoppedAt = Date.now();
                  const second = await startServer(cmd, port);
                  servers.push(second);
                  return code;
                })();
              }
            },
          },
        );
        const exitCode = await stopping;
        const inbound = tap.frames.filter((f) => f.dir === 'in').map((f) => f.text);
        const notice = inbound.find((t) => t.includes('"reconnect"'));
        assert.ok(notice, 'the reconnect notification arrived');
        assert.deepEqual(JSON.parse(notice), { id: null, method: 'reconnect' });
        assert.deepEqual(out.errors.map(describe), [], 'no error surfaced to the subscription');
        assert.equal(out.completed, true, 'the subscription completed');
        assertTicks(out.ticks, 1, LONG_TICKS);
        assert.ok(tap.sockets.length >= 2, 'moved to a new socket');
        const resubs = tap.frames
          .filter((f) => f.dir === 'out' && f.socket > 0)
          .flatMap((f) => [JSON.parse(f.text)].flat())
          .filter((m) => m.method === 'subscription');
        assert.ok(resubs.some((m) => m.params.lastEventId !== undefined), 'resubscribed with lastEventId');
        // The client moves the subscription while the old socket still serves (handOff): it
        // sends subscription.stop and a PING there, and the old socket must answer (stopped, PONG)
        // unless the server closed it first (it only waits 0.25 s after the notice).
        const old = tap.frames.filter((f) => f.socket === 0);
        const oldOut = old.filter((f) => f.dir === 'out');
        const oldIn = old.filter((f) => f.dir === 'in');
        const subId = oldOut.flatMap(parseFrame).find((m) => m.method === 'subscription').id;
        const handoff = {
          stopSent: oldOut.flatMap(parseFrame).some((m) => m.method === 'subscription.stop' && m.id === subId),
          pingSent: oldOut.some((f) => f.text === 'PING'),
          pong: oldIn.some((f) => f.text === 'PONG'),
          stopped: oldIn.flatMap(parseFrame).some((m) => m.id === subId && m.result?.type === 'stopped'),
          oldSocketClose: old.find((f) => f.dir === 'close')?.text ?? null,
        };
        if (handoff.oldSocketClose === '1005') {
          // closed by the client once drained: the old socket answered the stop and the PING
          assert.ok(handoff.stopSent && handoff.pingSent, `stop and PING on the old socket ${JSON.stringify(handoff)}`);
          // (the client lets go of the old socket on `stopped` or on PONG, whichever comes first)
          assert.ok(handoff.stopped || handoff.pong, `stopped or PONG from the old socket ${JSON.stringify(handoff)}`);
        }
        const stateErrors = out.states.filter((s) => s.error).map((s) => s.error.message);
        return {
          exitCode,
          handoff,
          sockets: tap.sockets.length,
          closes: tap.frames.filter((f) => f.dir === 'close').map((f) => `${f.socket}:${f.text}`),
          resubscriptions: resubs.map((m) => ({ id: m.id, lastEventId: m.params.lastEventId })),
          connectionStateErrors: stateErrors,
        };
      } finally {
        await wsClient.close();
      }
    });
  } finally {
    for (const server of servers) await stopServer(server, 'SIGTERM');
  }
}

// -- main -------------------------------------------------------------------------------------

async function main() {
  await httpChecks();
  await batchChecks();
  await rawChecks();
  await authChecks();
  await streamLinkChecks();
  await wsChecks();
  await reconnectChecks();
  const failed = checks.filter((c) => !c.ok);
  const report = {
    url: BASE,
    keyed: KEYED,
    passed: checks.filter((c) => c.ok && !c.skipped).length,
    failed: failed.length,
    skipped: checks.filter((c) => c.skipped).length,
    checks,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exit(failed.length ? 1 : 0);
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ url: BASE, crashed: String(error?.stack ?? error), checks })}\n`);
  process.exit(2);
});
