import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PRODUCTS } from '../../simulators/barcodes.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { GatewayStatus } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { VERSION } from '../../src/paths.js';
import { Collector } from '../helpers/collector.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const STATE_TOPIC = 'stores/0421/gateways/gw-test/state';

/** Everything a test starts, undone in reverse order after it (also when it fails). */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo();
});

function checked(raw: Record<string, unknown>): Config {
  const r = validateConfig(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

async function broker(extraConfig = ''): Promise<Mosquitto> {
  const b = await Mosquitto.start({ extraConfig });
  cleanups.push(() => b.dispose());
  return b;
}

function dir(): string {
  const d = tmpDir();
  cleanups.push(() => d.cleanup());
  return d.path;
}

async function scanner(path: string, aim = true): Promise<SimulatedSerialScanner> {
  const s = new SimulatedSerialScanner({ linkPath: path, framing: { suffix: '\r\n' }, aim });
  await s.plug();
  cleanups.push(() => s.unplug());
  return s;
}

async function collector(url: string, protocolVersion: 4 | 5 = 5): Promise<Collector> {
  const c = await Collector.start(url, { protocolVersion });
  cleanups.push(() => c.stop());
  return c;
}

async function gateway(config: Config): Promise<Running> {
  const running = await startGateway(config, { log: silentLogger() });
  cleanups.push(() => running.stop());
  return running;
}

function apiUrl(running: Running): string {
  const address = running.api?.server.address();
  if (!address || typeof address === 'string') throw new Error('local API not listening');
  return `http://127.0.0.1:${address.port}`;
}

const scanDevice = (id: string, path: string) => ({ id, kind: 'serial-scanner', path, aim: true });

/**
 * What a subscriber that connects now sees on the state topic: the retained message, or null when
 * none is retained. A fresh clean-session client each time, as a monitoring tool would connect.
 */
async function retainedState(url: string): Promise<Record<string, unknown> | null> {
  const client = await connectAsync(url, {
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 0,
    clientId: `state-probe-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
  });
  try {
    const got: Record<string, unknown>[] = [];
    client.on('message', (topic, payload, packet) => {
      if (topic === STATE_TOPIC && packet.retain && payload.length > 0)
        got.push(JSON.parse(payload.toString()) as Record<string, unknown>);
    });
    await client.subscribeAsync(STATE_TOPIC, { qos: 1 });
    // Retained messages are sent right after SUBACK; a round trip on the same connection flushes them.
    await client.publishAsync(`probe/${client.options.clientId}`, 'x', { qos: 1 });
    return got[0] ?? null;
  } finally {
    await client.endAsync();
  }
}

function waitForState(url: string, want: (s: Record<string, unknown>) => boolean, what: string) {
  return waitFor(
    async () => {
      const s = await retainedState(url);
      return s && want(s) ? s : null;
    },
    what,
    20_000,
    100,
  ) as Promise<Record<string, unknown>>;
}

/** Seqs of every distinct event received, in arrival order. */
const seqs = (c: Collector, type?: string) => c.unique(type).map((r) => r.event?.seq as number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('uplink against Mosquitto', () => {
  it('retained state topic: birth, Last Will on a killed process, offline on a clean stop', async () => {
    const mq = await broker();
    const d = dir();
    const sc = await scanner(join(d, 'scanner'));
    const file = writeConfig(
      configPath(d),
      testConfig({ dir: d, mqttUrl: mq.url, devices: [scanDevice('lane-1', sc.options.linkPath)] }),
    );

    const first = GatewayProcess.run(file);
    cleanups.push(() => first.kill('SIGKILL'));
    await first.ready();
    const birth1 = await waitForState(mq.url, (s) => s.state === 'online', 'birth message');
    expect(birth1).toMatchObject({
      state: 'online',
      storeid: '0421',
      gatewayid: 'gw-test',
      version: VERSION,
    });
    expect(birth1.reason).toBeUndefined();
    expect(Array.isArray(birth1.devices)).toBe(true);
    expect(birth1.birth).toBeGreaterThanOrEqual(1);
    expect(typeof birth1.bootid).toBe('string');

    // The process dies without a DISCONNECT: the broker publishes the Last Will, retained.
    expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
    const will = await waitForState(mq.url, (s) => s.state === 'offline', 'Last Will');
    expect(will).toMatchObject({
      state: 'offline',
      reason: 'connection-lost',
      storeid: '0421',
      gatewayid: 'gw-test',
      bootid: birth1.bootid,
      birth: birth1.birth,
      version: VERSION,
    });

    // A new process on the same buffer: a higher birth counter, a new boot id.
    const second = GatewayProcess.run(file);
    cleanups.push(() => second.kill('SIGKILL'));
    await second.ready();
    const birth2 = await waitForState(
      mq.url,
      (s) => s.state === 'online' && s.bootid !== birth1.bootid,
      'second birth message',
    );
    expect(birth2.birth).toBeGreaterThan(birth1.birth as number);
    expect(birth2.version).toBe(VERSION);

    // Clean stop: the gateway itself publishes offline/shutdown before it disconnects.
    const exit = await second.kill('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await retainedState(mq.url)).toMatchObject({
      state: 'offline',
      reason: 'shutdown',
      bootid: birth2.bootid,
      birth: birth2.birth,
    });
  });

  it('the birth message lists the configured devices', async () => {
    // The daemon as deployed (child process, cold module cache): the broker answers CONNECT before
    // the driver modules are loaded, so the birth must list the configured devices, not the drivers
    // started so far.
    const mq = await broker();
    const d = dir();
    const sc = await scanner(join(d, 'scanner'));
    const file = writeConfig(
      configPath(d),
      testConfig({ dir: d, mqttUrl: mq.url, devices: [scanDevice('lane-1', sc.options.linkPath)] }),
    );
    const gw = GatewayProcess.run(file);
    cleanups.push(() => gw.kill('SIGKILL'));
    await gw.ready();
    const birth = await waitForState(mq.url, (s) => s.state === 'online', 'birth message');
    expect(birth.devices).toEqual([{ id: 'lane-1', kind: 'serial-scanner' }]);
  });

  it("lowers the in-flight window to the broker's Receive Maximum", async () => {
    // tests/helpers/mosquitto.ts writes `max_inflight_messages 0` first; Mosquitto takes the last
    // value of a repeated option, so this caps the Receive Maximum in CONNACK at 5.
    const mq = await broker('max_inflight_messages 5');
    const d = dir();
    const sc = await scanner(join(d, 'scanner'));
    const central = await collector(mq.url);
    const running = await gateway(
      checked(testConfig({ dir: d, mqttUrl: mq.url, devices: [scanDevice('lane-1', sc.options.linkPath)] })),
    );
    await waitFor(() => running.gateway.status().uplink?.connected, 'uplink connected');
    const api = apiUrl(running);
    const status = async () => (await (await fetch(`${api}/v1/status`)).json()) as GatewayStatus;

    const before = await status();
    expect(before.uplink?.window).toBeLessThanOrEqual(4);
    expect(before.uplink?.window).toBe(4);

    // A burst well above the window: never more than `window` awaiting PUBACK, nothing refused by
    // the broker (a client that exceeds Receive Maximum is disconnected), everything delivered.
    const n = 200;
    let maxInflight = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxInflight = Math.max(maxInflight, running.gateway.status().uplink?.inflight ?? 0);
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let i = 0; i < n; i++) await sc.scan(DEMO_PRODUCTS[i % 4] as (typeof DEMO_PRODUCTS)[number]);
      await central.waitForUnique(n, 'retail.scan.v1', 20_000);
    } finally {
      sampling = false;
      await sampler;
    }
    expect(maxInflight).toBeLessThanOrEqual(4);
    const after = await status();
    expect(after.uplink).toMatchObject({ connected: true, window: 4, reconnects: 0 });
    const all = seqs(central);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(central.consumer.counts.gaps).toBe(0);
  });

  it('drains a backlog built while the broker was unreachable, completely and in seq order', async () => {
    const mq = await broker();
    const d = dir();
    const sc = await scanner(join(d, 'scanner'));
    // Central subscribes (persistent session) before the outage, as a real consumer has.
    const central = await collector(mq.url);
    await mq.stop();

    const running = await gateway(
      checked(testConfig({ dir: d, mqttUrl: mq.url, devices: [scanDevice('lane-1', sc.options.linkPath)] })),
    );
    const gw = running.gateway;
    const n = 500;
    for (let i = 0; i < n; i++) await sc.scan(DEMO_PRODUCTS[i % 4] as (typeof DEMO_PRODUCTS)[number]);
    await waitFor(() => gw.status().devices[0]?.readings === n, `${n} scans read`, 20_000);
    await waitFor(() => (gw.status().buffer?.rows ?? 0) >= n + 1, 'backlog committed');
    const held = gw.status();
    expect(held.uplink?.connected).toBe(false);
    expect(held.buffer?.rows).toBe(n + 1); // n scans and the scanner's `connected` event
    expect(held.buffer?.lastSeq).toBe(n + 1);
    expect(central.received).toHaveLength(0);

    await mq.restart();
    await central.waitForUnique(n + 1, undefined, 60_000);
    await waitFor(() => gw.status().buffer?.rows === 0, 'buffer empty after the drain', 20_000);
    expect(seqs(central)).toEqual(range(1, n + 1));
    expect(seqs(central, 'retail.scan.v1')).toEqual(range(2, n + 1));
    expect(central.consumer.counts).toMatchObject({ invalid: 0, gaps: 0 });
    expect(gw.status().uplink?.connected).toBe(true);
  });

  it('works over MQTT 3.1.1 (protocolVersion 4) against Mosquitto', async () => {
    const mq = await broker();
    const d = dir();
    const sc = await scanner(join(d, 'scanner'));
    const central = await collector(mq.url, 4);
    const running = await gateway(
      checked(
        testConfig({
          dir: d,
          mqttUrl: mq.url,
          protocolVersion: 4,
          devices: [scanDevice('lane-1', sc.options.linkPath)],
        }),
      ),
    );
    const n = 100;
    for (let i = 0; i < n; i++) await sc.scan(DEMO_PRODUCTS[i % 4] as (typeof DEMO_PRODUCTS)[number]);
    await central.waitForUnique(n, 'retail.scan.v1');
    expect(running.gateway.status().uplink).toMatchObject({ connected: true, protocolVersion: 4 });
    expect(seqs(central)).toEqual(range(1, n + 1));
    expect(central.unique().every((r) => r.issues.length === 0)).toBe(true);
    expect(central.unique('retail.scan.v1')[0]?.event?.data).toMatchObject({
      deviceId: 'lane-1',
      text: DEMO_PRODUCTS[0]?.text,
      aim: ']E0',
      symbology: 'ean-13',
    });
    expect(central.states.some((s) => s.state === 'online')).toBe(true);

    await running.stop();
    await waitFor(() => central.states.at(-1)?.state === 'offline', 'offline state');
    expect(central.states.at(-1)).toMatchObject({ state: 'offline', reason: 'shutdown' });
  });

  /**
   * Two scanners; the broker's ACL denies writes to lane-2's scan topic. Waits until lane-1's scans
   * and five rejections are through, then stops the gateway and reads the buffer file.
   */
  async function refusedByAcl(inflightWindow?: number) {
    const d = dir();
    const acl = join(d, 'acl');
    writeFileSync(
      acl,
      ['topic readwrite #', 'topic deny stores/0421/gateways/gw-test/events/scan/lane-2', ''].join('\n'),
    );
    const mq = await broker([`acl_file ${acl}`, 'allow_anonymous true'].join('\n'));
    const lane1 = await scanner(join(d, 'lane-1'));
    const lane2 = await scanner(join(d, 'lane-2'));
    const central = await collector(mq.url);
    const running = await gateway(
      checked(
        testConfig({
          dir: d,
          mqttUrl: mq.url,
          devices: [
            scanDevice('lane-1', lane1.options.linkPath),
            scanDevice('lane-2', lane2.options.linkPath),
          ],
          extra: inflightWindow ? { mqtt: { inflightWindow } } : undefined,
        }),
      ),
    );
    const gw = running.gateway;
    await waitFor(() => gw.status().uplink?.connected, 'uplink connected');
    const api = apiUrl(running);
    const metrics = async () => (await fetch(`${api}/metrics`)).text();

    for (let i = 0; i < 10; i++) {
      await lane1.scan(DEMO_PRODUCTS[i % 4] as (typeof DEMO_PRODUCTS)[number]);
      if (i % 2 === 1) await lane2.scan(DEMO_PRODUCTS[4] as (typeof DEMO_PRODUCTS)[number]);
    }
    const rejected = 'sg_events_rejected_total{class="scan",reason="not-authorized"} 5';
    await waitFor(async () => (await metrics()).includes(rejected), 'five rejections counted', 20_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}; uplink ${JSON.stringify(gw.status().uplink)}`);
      },
    );
    await central.waitForUnique(10, 'retail.scan.v1');
    // Each rejection raises a message-rejected alarm, which is itself delivered.
    await central.waitForUnique(5, 'retail.gateway.alarm.v1');
    await waitFor(() => gw.status().buffer?.rows === 0, 'buffer empty');
    const text = await metrics();
    const status = gw.status();
    await running.stop();

    const db = new Database(join(d, 'buffer.db'), { readonly: true, fileMustExist: true });
    try {
      const dead = db
        .prepare('SELECT seq, cls, device, reason, payload FROM dead_letter ORDER BY seq')
        .all() as { seq: number; cls: string; device: string; reason: string; payload: string }[];
      const outboxRows = (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
      return { central, text, status, dead, outboxRows };
    } finally {
      db.close();
    }
  }

  function expectDeadLettered(r: Awaited<ReturnType<typeof refusedByAcl>>) {
    expect(r.text).toContain('sg_events_published_total{class="scan"} 10');
    expect(r.status.buffer?.deadLetters).toBe(5);
    expect(r.dead).toHaveLength(5);
    for (const row of r.dead) {
      expect(row).toMatchObject({ cls: 'scan', device: 'lane-2', reason: 'not-authorized' });
      expect(JSON.parse(row.payload)).toMatchObject({ seq: row.seq, data: { deviceId: 'lane-2' } });
    }
    expect(r.outboxRows).toBe(0);
    // The other device's events flow; nothing of lane-2 reached central.
    const scans = r.central.unique('retail.scan.v1');
    expect(scans).toHaveLength(10);
    expect(scans.every((e) => e.event?.data.deviceId === 'lane-1')).toBe(true);
    const alarms = r.central.unique('retail.gateway.alarm.v1').map((e) => e.event?.data ?? {});
    expect(alarms.every((a) => a.alarm === 'message-rejected')).toBe(true);
    expect(alarms.map((a) => (a.details as { reasonCode: number }).reasonCode)).toEqual([
      0x87, 0x87, 0x87, 0x87, 0x87,
    ]);
    expect(alarms.map((a) => (a.details as { seq: number }).seq)).toEqual(r.dead.map((row) => row.seq));
    // Central sees each rejected seq as a gap: the only trace of it outside the gateway.
    expect(r.central.consumer.counts.gaps).toBe(5);
  }

  /*
   * PUBACK reason codes. Mosquitto 2.0.11 answers a denied MQTT 5 QoS 1 PUBLISH with PUBACK 0x87
   * (not authorized) and then closes the connection ("Bad socket read/write ... Unknown error",
   * eclipse-mosquitto/mosquitto#2579). When more publishes are already on the wire, the close finds
   * unread data and becomes a TCP reset, and the client can lose the PUBACK itself. On MQTT 3.1.1 a
   * PUBACK carries no reason code: the broker acknowledges and drops, and the gateway cannot know.
   */
  it('PUBACK 0x87 (not authorized): the row moves to dead_letter, other devices flow (window 1)', async () => {
    const r = await refusedByAcl(1);
    expectDeadLettered(r);
    // Mosquitto closed the connection after each refusal; the gateway reconnected each time.
    expect(r.status.uplink?.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('PUBACK 0x87 with the default window: a refused event does not stall the uplink', async () => {
    const r = await refusedByAcl();
    expectDeadLettered(r);
  }, 60_000);
});
