import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PRODUCTS } from '../../simulators/barcodes.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { buildApi } from '../../src/api/server.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { buildGateway, type GatewayStatus } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { VERSION } from '../../src/paths.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

function checked(raw: Record<string, unknown>): Config {
  const r = validateConfig(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

/** One sample of a Prometheus text exposition, labels compared as a set (order does not matter). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    const want = Object.entries(labels);
    if (want.length === Object.keys(got).length && want.every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('local API on a running gateway (Mosquitto, PTY scanner)', () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let scanner: SimulatedSerialScanner;
  let running: Running | undefined;
  let base: string;

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };
  const getJson = async <T = Record<string, unknown>>(path: string) => {
    const r = await get(path);
    return { status: r.status, body: JSON.parse(r.text) as T };
  };
  const metrics = async () => (await get('/metrics')).text;
  const status = async () => (await getJson<GatewayStatus>('/v1/status')).body;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir();
    scanner = new SimulatedSerialScanner({
      linkPath: join(dir.path, 'scanner'),
      framing: { suffix: '\r\n' },
      aim: true,
    });
    await scanner.plug();
    running = await startGateway(
      checked(
        testConfig({
          dir: dir.path,
          mqttUrl: broker.url,
          devices: [{ id: 'lane-1', kind: 'serial-scanner', path: scanner.options.linkPath, aim: true }],
        }),
      ),
      { log: silentLogger() },
    );
    const address = running.api?.server.address() as AddressInfo;
    base = `http://127.0.0.1:${address.port}`;
    const gateway = running.gateway;
    await waitFor(() => gateway.status().uplink?.connected, 'uplink connected');
  });

  afterAll(async () => {
    await running?.stop();
    await scanner?.unplug();
    await broker?.dispose();
    dir?.cleanup();
  });

  it('GET /healthz answers 200', async () => {
    const r = await getJson('/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with the buffer open and the broker connected', async () => {
    const r = await getJson('/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      ready: true,
      state: 'running',
      buffer: { open: true, refusing: false },
      broker: { connected: true, lastError: null },
    });
  });

  it('GET /metrics counts scans in Prometheus text', async () => {
    const sent = DEMO_PRODUCTS.slice(0, 5);
    for (const code of sent) await scanner.scan(code);
    await waitFor(
      async () => sample(await metrics(), 'sg_events_published_total', { class: 'scan' }) === sent.length,
      `${sent.length} scans published`,
      20_000,
    );
    await waitFor(async () => sample(await metrics(), 'sg_buffer_rows') === 0, 'buffer drained');
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    expect(r.text).toContain('# TYPE sg_events_accepted_total counter');
    expect(sample(r.text, 'sg_events_accepted_total', { class: 'scan' })).toBe(sent.length);
    // The scanner's `connected` status event.
    expect(sample(r.text, 'sg_events_accepted_total', { class: 'device' })).toBe(1);
    expect(sample(r.text, 'sg_events_published_total', { class: 'scan' })).toBe(sent.length);
    expect(sample(r.text, 'sg_events_published_total', { class: 'device' })).toBe(1);
    expect(sample(r.text, 'sg_buffer_rows')).toBe(0);
    expect(sample(r.text, 'sg_buffer_bytes')).toBeGreaterThan(0);
    expect(sample(r.text, 'sg_mqtt_inflight')).toBe(0);
    expect(sample(r.text, 'sg_mqtt_connected')).toBe(1);
    expect(sample(r.text, 'sg_mqtt_reconnects_total')).toBe(0);
  });

  it('GET /v1/status reports devices, uplink and buffer', async () => {
    const r = await getJson<GatewayStatus>('/v1/status');
    expect(r.status).toBe(200);
    const s = r.body;
    expect(s).toMatchObject({
      version: VERSION,
      store: '0421',
      gateway: 'gw-test',
      state: 'running',
      bootId: running?.gateway.bootId,
    });
    expect(typeof s.startedAt).toBe('string');
    expect(s.devices).toHaveLength(1);
    expect(s.devices[0]).toMatchObject({
      id: 'lane-1',
      kind: 'serial-scanner',
      state: 'connected',
      path: scanner.options.linkPath,
      readings: 5,
      decodeErrors: 0,
      reopens: 0,
    });
    expect(s.uplink).toMatchObject({
      connected: true,
      broker: broker.url,
      protocolVersion: 5,
      inflight: 0,
      birth: 1,
      lastError: null,
      reconnects: 0,
      nextRetryInMs: null,
    });
    expect(s.uplink?.window).toBeGreaterThan(0);
    expect(s.buffer).toMatchObject({ rows: 0, oldestSeq: null, lastSeq: 6, deadLetters: 0, refusing: false });
  });

  it('stays ready while the broker is down, buffers, and reports the broker state', async () => {
    await broker.stop();
    await waitFor(async () => (await status()).uplink?.connected === false, 'uplink disconnected');

    const r = await getJson('/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ready: true, buffer: { open: true }, broker: { connected: false } });

    for (const code of DEMO_PRODUCTS.slice(0, 3)) await scanner.scan(code);
    await waitFor(async () => (await status()).buffer?.rows === 3, '3 rows buffered');
    const down = await metrics();
    expect(sample(down, 'sg_events_accepted_total', { class: 'scan' })).toBe(8);
    expect(sample(down, 'sg_buffer_rows')).toBe(3);
    expect(sample(down, 'sg_mqtt_connected')).toBe(0);
    expect(sample(down, 'sg_mqtt_reconnects_total')).toBe(1);
    const s = await status();
    expect(s.uplink).toMatchObject({ connected: false, reconnects: 1 });
    expect(s.buffer).toMatchObject({ rows: 3, oldestSeq: 7, lastSeq: 9 });

    await broker.restart();
    await waitFor(async () => (await status()).buffer?.rows === 0, 'backlog drained', 20_000);
    const up = await metrics();
    expect(sample(up, 'sg_events_published_total', { class: 'scan' })).toBe(8);
    expect(sample(up, 'sg_mqtt_connected')).toBe(1);
    expect((await getJson('/readyz')).body).toMatchObject({ ready: true, broker: { connected: true } });
  });
});

describe('local API on a gateway that is not running', () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir();
  });

  afterAll(async () => {
    await broker?.dispose();
    dir?.cleanup();
  });

  const config = () => checked(testConfig({ dir: dir.path, mqttUrl: broker.url, gateway: 'gw-api-idle' }));

  it('GET /readyz answers 503 before start', async () => {
    const gateway = buildGateway(config(), { log: silentLogger() });
    const api = buildApi(gateway);
    try {
      const ready = await api.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({
        ready: false,
        state: 'created',
        buffer: { open: false },
        broker: { connected: false },
      });
      // Liveness is not readiness: the process answers.
      expect((await api.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      const status = await api.inject({ method: 'GET', url: '/v1/status' });
      expect(status.statusCode).toBe(200);
      expect(status.json()).toMatchObject({ state: 'created', uplink: null, buffer: null, devices: [] });
    } finally {
      await api.close();
    }
  });

  it('GET /readyz answers 503 after stop', async () => {
    const gateway = buildGateway(config(), { log: silentLogger() });
    await gateway.start();
    await waitFor(() => gateway.status().uplink?.connected, 'uplink connected');
    const api = buildApi(gateway);
    try {
      expect((await api.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      await gateway.stop();
      const ready = await api.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ ready: false, state: 'stopped', buffer: { open: false } });
      const metrics = await api.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain('sg_buffer_rows');
    } finally {
      await api.close();
      await gateway.stop();
    }
  });
});
