import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { withCheckDigit } from '../../simulators/barcodes.js';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { type Checked, checkMessage, type Received } from '../../src/consumer/consumer.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { BATCH_CONTENT_TYPE, payloadLimit } from '../../src/uplink/batch.js';
import { CLOUDEVENT_CONTENT_TYPE } from '../../src/uplink/topics.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const EVENTS = 'stores/0421/gateways/gw-test/events/';

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

async function collector(url: string, protocolVersion: 4 | 5 = 5): Promise<Collector> {
  const c = await Collector.start(url, { protocolVersion });
  cleanups.push(() => c.stop());
  return c;
}

async function gateway(
  d: string,
  url: string,
  mqtt: Record<string, unknown>,
  protocolVersion: 4 | 5 = 5,
): Promise<Running> {
  const config = checked(testConfig({ dir: d, mqttUrl: url, protocolVersion, extra: { mqtt } }));
  const running = await startGateway(config, {
    log: process.env.SG_DEBUG ? createLogger({ level: 'debug', destination: 2 }) : silentLogger(),
  });
  cleanups.push(() => running.stop());
  return running;
}

/** One message as a central subscriber sees it. */
interface Message {
  topic: string;
  payload: string;
  contentType: string | undefined;
  checked: { batch: boolean; events: Checked[] };
}

/** A plain MQTT 5 subscriber with a persistent session that keeps every event message whole. */
async function recorder(url: string): Promise<{ messages: Message[]; events: () => number }> {
  const client: MqttClient = await connectAsync(url, {
    protocolVersion: 5,
    clean: false,
    clientId: `recorder-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    properties: { sessionExpiryInterval: 3600 },
  });
  cleanups.push(() => client.endAsync(true));
  const messages: Message[] = [];
  client.on('message', (topic, payload, packet) => {
    const contentType = packet.properties?.contentType;
    messages.push({
      topic,
      payload: payload.toString(),
      contentType,
      checked: checkMessage(payload, contentType),
    });
  });
  await client.subscribeAsync(`${EVENTS}#`, { qos: 1 });
  return { messages, events: () => messages.reduce((n, m) => n + m.checked.events.length, 0) };
}

const scan = (i: number, device: string) => ({
  deviceId: device,
  text: withCheckDigit(`4${String(i).padStart(11, '0')}`),
  symbology: 'ean-13',
});

/** Emits `n` scans on `device`, yielding now and then so the outbox commits in groups. */
async function emitScans(running: Running, device: string, n: number, from = 0): Promise<void> {
  const emit = running.gateway.emitFor(device);
  for (let i = 0; i < n; i++) {
    emit('retail.scan.v1', scan(from + i, device));
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
}

/** The stored payload of every row of a buffer file, by seq. */
function storedRows(bufferPath: string): Map<number, string> {
  const db = new Database(bufferPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT seq, payload FROM outbox ORDER BY seq').all() as {
      seq: number;
      payload: string;
    }[];
    return new Map(rows.map((r) => [r.seq, r.payload]));
  } finally {
    db.close();
  }
}

/** Fills a buffer with runs of scans by a gateway that has no broker to reach, then stops it. */
async function prefill(d: string, runs: [device: string, count: number][]): Promise<number> {
  const nowhere = `mqtt://127.0.0.1:${await freePort()}`;
  const config = checked(testConfig({ dir: d, mqttUrl: nowhere }));
  const running = await startGateway(config, { log: silentLogger() });
  let from = 0;
  for (const [device, count] of runs) {
    await emitScans(running, device, count, from);
    from += count;
  }
  const total = from;
  await waitFor(() => running.gateway.status().buffer?.lastSeq === total, 'backlog committed');
  await running.stop();
  return total;
}

const seqsOf = (m: Message) => m.checked.events.map((e) => e.event?.seq as number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Builds a backlog of `devices` runs while the broker is down, then brings the broker back and
 * waits until everything is delivered. Returns what the subscriber saw and the stored rows.
 */
async function drainBacklog(opts: {
  mqtt: Record<string, unknown>;
  runs: [device: string, count: number][];
  extraConfig?: string;
}) {
  const mq = await broker(opts.extraConfig);
  const d = dir();
  const rec = await recorder(mq.url);
  await mq.stop();
  const running = await gateway(d, mq.url, opts.mqtt);
  const gw = running.gateway;
  let from = 0;
  for (const [device, count] of opts.runs) {
    await emitScans(running, device, count, from);
    from += count;
  }
  const total = from;
  await waitFor(() => gw.status().buffer?.lastSeq === total, 'backlog committed');
  const stored = storedRows(join(d, 'buffer.db'));
  expect(stored.size).toBe(total);
  await mq.restart();
  await waitFor(() => rec.events() >= total, `${total} events delivered`, 30_000);
  await waitFor(() => gw.status().buffer?.rows === 0, 'buffer empty');
  return { rec, stored, total, status: gw.status() };
}

/** Asserts that every batch is consecutive rows of one stream, byte-identical to the stored events. */
function expectFaithfulBatches(messages: Message[], stored: Map<number, string>): void {
  for (const m of messages) {
    expect(m.checked.events.every((e) => e.issues.length === 0)).toBe(true);
    const seqs = seqsOf(m);
    if (!m.checked.batch) {
      expect(m.contentType).toBe(CLOUDEVENT_CONTENT_TYPE);
      expect(m.payload).toBe(stored.get(seqs[0] as number));
      continue;
    }
    expect(m.contentType).toBe(BATCH_CONTENT_TYPE);
    expect(m.payload).toBe(`[${seqs.map((s) => stored.get(s)).join(',')}]`);
    const devices = new Set(m.checked.events.map((e) => e.event?.data.deviceId));
    expect(devices.size).toBe(1);
    expect(m.topic).toBe(`${EVENTS}scan/${[...devices][0]}`);
    expect(seqs).toEqual(range(seqs[0] as number, (seqs[0] as number) + seqs.length - 1));
  }
}

/**
 * The ordering rule of docs/TOPICS.md, on the distinct events in arrival order: batched events
 * arrive in seq order, single events arrive in seq order, and a single event never arrives after a
 * batched event with a higher seq (live events may run ahead of a draining backlog, never behind).
 */
function expectOrderingRule(received: Received[]): void {
  const unique = received.filter((r) => !r.duplicate && r.event);
  const batched = unique.filter((r) => r.batch).map((r) => r.event?.seq as number);
  const single = unique.filter((r) => !r.batch).map((r) => r.event?.seq as number);
  expect(batched).toEqual([...batched].sort((a, b) => a - b));
  expect(single).toEqual([...single].sort((a, b) => a - b));
  let highestBatched = 0;
  for (const r of unique) {
    const seq = r.event?.seq as number;
    if (r.batch) highestBatched = Math.max(highestBatched, seq);
    else expect(seq, `single seq ${seq} after batched seq ${highestBatched}`).toBeGreaterThan(highestBatched);
  }
}

describe('CloudEvents batches on the catch-up path (Mosquitto, MQTT 5)', () => {
  it('packs a backlog into batches of at most maxEvents consecutive events of one stream', async () => {
    const runs: [string, number][] = [
      ['lane-1', 23],
      ['lane-2', 5],
      ['lane-1', 1],
      ['lane-3', 40],
      ['lane-1', 131],
    ];
    const { rec, stored, total, status } = await drainBacklog({
      mqtt: { batch: { threshold: 50, maxEvents: 7 } },
      runs,
    });
    expect(total).toBe(200);
    expectFaithfulBatches(rec.messages, stored);
    // Everything went out in batches, in seq order; each batch is full unless its run ended.
    expect(rec.messages.every((m) => m.checked.batch)).toBe(true);
    expect(rec.messages.flatMap(seqsOf)).toEqual(range(1, total));
    const sizes = rec.messages.map((m) => m.checked.events.length);
    const expected = runs.flatMap(([, n]) => [
      ...Array<number>(Math.floor(n / 7)).fill(7),
      ...(n % 7 ? [n % 7] : []),
    ]);
    expect(sizes).toEqual(expected);
    expect(status.uplink).toMatchObject({ batches: expected.length, batchedEvents: total, catchUp: null });
  });

  it('keeps each batch payload within maxBytes, and fills it as far as the next event allows', async () => {
    const maxBytes = 3000;
    const { rec, stored, total } = await drainBacklog({
      mqtt: { batch: { threshold: 10, maxEvents: 1000, maxBytes } },
      runs: [['lane-1', 120]],
    });
    expectFaithfulBatches(rec.messages, stored);
    expect(rec.messages.flatMap(seqsOf)).toEqual(range(1, total));
    const sizes = rec.messages.map((m) => Buffer.byteLength(m.payload));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxBytes);
    // Every batch but the last was cut because the next event would not fit.
    rec.messages.slice(0, -1).forEach((m, i) => {
      const next = stored.get((seqsOf(m).at(-1) as number) + 1) as string;
      expect((sizes[i] as number) + 1 + Buffer.byteLength(next)).toBeGreaterThan(maxBytes);
    });
    expect(rec.messages.length).toBeGreaterThan(3);
  });

  it("keeps each batch within the broker's Maximum Packet Size from CONNACK", async () => {
    const maxPacket = 4096;
    const { rec, stored, total, status } = await drainBacklog({
      // Mosquitto announces max_packet_size in CONNACK and disconnects a client that exceeds it.
      extraConfig: `max_packet_size ${maxPacket}`,
      mqtt: { batch: { threshold: 10 } },
      runs: [
        ['lane-1', 100],
        ['a-device-with-a-much-longer-id-than-usual', 100],
      ],
    });
    expectFaithfulBatches(rec.messages, stored);
    expect(rec.messages.flatMap(seqsOf)).toEqual(range(1, total));
    for (const m of rec.messages) {
      const limit = payloadLimit(maxPacket, m.topic, BATCH_CONTENT_TYPE);
      const bytes = Buffer.byteLength(m.payload);
      expect(bytes).toBeLessThanOrEqual(limit);
      const next = stored.get((seqsOf(m).at(-1) as number) + 1);
      const sameStream = next !== undefined && JSON.parse(next).data.deviceId === m.topic.split('/').pop();
      if (sameStream) expect(bytes + 1 + Buffer.byteLength(next)).toBeGreaterThan(limit);
    }
    // The longer topic leaves less room for the payload.
    const longTopic = rec.messages.filter((m) => m.topic.endsWith('much-longer-id-than-usual'));
    expect(longTopic.length).toBeGreaterThan(0);
    // Nothing was too large: the broker never had to drop the connection.
    expect(status.uplink?.reconnects).toBe(0);
  });

  it('a drain split by a broker restart loses nothing; duplicates are whole batches, same ids', async () => {
    const mq = await broker();
    const d = dir();
    const central = await collector(mq.url);
    await mq.stop();
    // A small window and small batches: the drain takes long enough to be cut in the middle.
    const running = await gateway(d, mq.url, {
      inflightWindow: 4,
      batch: { threshold: 100, maxEvents: 10 },
    });
    const gw = running.gateway;
    const total = 20_000;
    await emitScans(running, 'lane-1', total);
    await waitFor(() => gw.status().buffer?.lastSeq === total, 'backlog committed');

    await mq.restart();
    await waitFor(() => central.unique().length >= 2000, 'the drain under way', 30_000);
    const atStop = central.unique().length;
    expect(gw.status().uplink?.catchUp).not.toBeNull();
    await mq.stop();
    await waitFor(() => !gw.status().uplink?.connected, 'the gateway to see the broker gone');
    await mq.restart();
    await central.waitForUnique(total, undefined, 60_000);
    await waitFor(() => gw.status().buffer?.rows === 0, 'buffer empty', 20_000);

    expect(atStop).toBeLessThan(total);
    expect(gw.status().uplink?.reconnects).toBeGreaterThanOrEqual(1);
    const seqs = central.unique().map((r) => r.event?.seq as number);
    expect(seqs).toEqual(range(1, total));
    expect(central.consumer.counts).toMatchObject({ invalid: 0, gaps: 0 });
    expect(central.received.every((r) => r.batch !== null)).toBe(true);

    // Group what arrived by MQTT message: a message repeats a batch whole or not at all.
    const byMessage = new Map<number, Received[]>();
    for (const r of central.received) {
      const k = r.batch?.message as number;
      byMessage.set(k, [...(byMessage.get(k) ?? []), r]);
    }
    const firstCopy = new Map<string, string>();
    let repeated = 0;
    for (const events of byMessage.values()) {
      const ids = events.map((r) => r.event?.id as string);
      const dups = events.filter((r) => r.duplicate).length;
      expect([0, events.length]).toContain(dups);
      const key = ids[0] as string;
      if (dups === 0) firstCopy.set(key, ids.join());
      else {
        repeated++;
        // The same batch as first sent: the same events, the same ids, in the same order.
        expect(ids.join()).toBe(firstCopy.get(key));
      }
    }
    // At most one window of whole batches per lost connection.
    expect(repeated).toBeLessThanOrEqual(4 * ((gw.status().uplink?.reconnects as number) || 1));
  }, 120_000);

  it('live events flow singly during a drain: each form in seq order, live never behind the batches', async () => {
    const mq = await broker();
    const d = dir();
    const central = await collector(mq.url);
    await mq.stop();
    const running = await gateway(d, mq.url, {
      inflightWindow: 4,
      batch: { threshold: 100, maxEvents: 5 },
    });
    const gw = running.gateway;
    const backlog = 10_000;
    await emitScans(running, 'lane-1', backlog);
    await waitFor(() => gw.status().buffer?.lastSeq === backlog, 'backlog committed');

    await mq.restart();
    await waitFor(() => gw.status().uplink?.catchUp, 'the drain to start', 20_000);
    // Live scans on another lane while the backlog drains, until the drain is over.
    const live = gw.emitFor('lane-live');
    let sent = 0;
    let singlesBeforeLastBatch = 0;
    while (gw.status().uplink?.catchUp || sent < 20) {
      live('retail.scan.v1', scan(sent, 'lane-live'));
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
    const total = backlog + sent;
    await central.waitForUnique(total, undefined, 60_000);
    await waitFor(() => gw.status().buffer?.rows === 0, 'buffer empty');

    expectOrderingRule(central.received);
    const unique = central.unique();
    expect(unique.map((r) => r.event?.seq as number).sort((a, b) => a - b)).toEqual(range(1, total));
    expect(central.consumer.counts).toMatchObject({ invalid: 0, gaps: 0 });
    // The backlog came in batches, the live lane one event per message.
    const lastBatch = unique.findLastIndex((r) => r.batch !== null);
    for (const [i, r] of unique.entries()) {
      if (r.event?.data.deviceId === 'lane-1') expect(r.batch).not.toBeNull();
      else if (i < lastBatch) singlesBeforeLastBatch++;
    }
    expect(unique.filter((r) => r.batch === null).every((r) => r.event?.data.deviceId === 'lane-live')).toBe(
      true,
    );
    // Live events arrived while batches were still coming: the drain did not hold them back.
    expect(singlesBeforeLastBatch).toBeGreaterThan(0);
  }, 120_000);

  it('a batch the broker refuses for good moves every event of it to dead_letter', async () => {
    const d = dir();
    // The backlog is built with no broker at all. (Mosquitto 2.0.11 with an acl_file does not queue
    // messages for persistent sessions restored from its database until they reconnect, so this
    // test does not restart the broker.)
    await prefill(d, [
      ['lane-1', 30],
      ['lane-2', 25],
      ['lane-1', 30],
    ]);
    const acl = join(d, 'acl');
    writeFileSync(acl, ['topic readwrite #', `topic deny ${EVENTS}scan/lane-2`, ''].join('\n'));
    const mq = await broker([`acl_file ${acl}`, 'allow_anonymous true'].join('\n'));
    const central = await collector(mq.url);
    const running = await gateway(d, mq.url, { batch: { threshold: 10, maxEvents: 10 } });
    const gw = running.gateway;
    await central.waitForUnique(60, 'retail.scan.v1', 30_000);
    await waitFor(() => gw.status().buffer?.deadLetters === 25, '25 dead letters', 30_000);
    // One alarm per refused batch, naming its seq range; together they cover every refused event.
    const alarms = () =>
      central
        .unique('retail.gateway.alarm.v1')
        .map((r) => (r.event?.data.details ?? {}) as Record<string, number | undefined>);
    const covered = () =>
      alarms()
        .flatMap((a) => range(a.seq as number, (a.lastSeq ?? a.seq) as number))
        .sort((a, b) => a - b);
    await waitFor(() => covered().length >= 25, 'alarms naming all 25 refused events', 30_000);
    await waitFor(() => gw.status().buffer?.rows === 0, 'buffer empty', 20_000);
    const status = gw.status();
    await running.stop();

    const scans = central.unique('retail.scan.v1');
    expect(scans.every((r) => r.event?.data.deviceId === 'lane-1')).toBe(true);
    expect(scans.map((r) => r.event?.seq)).toEqual([...range(1, 30), ...range(56, 85)]);
    const db = new Database(join(d, 'buffer.db'), { readonly: true, fileMustExist: true });
    const dead = db.prepare('SELECT seq, device, reason FROM dead_letter ORDER BY seq').all();
    db.close();
    expect(dead).toEqual(range(31, 55).map((seq) => ({ seq, device: 'lane-2', reason: 'not-authorized' })));
    expect(covered()).toEqual(range(31, 55));
    expect(alarms().every((a) => a.reasonCode === 0x87)).toBe(true);
    expect(status.buffer?.deadLetters).toBe(25);
  }, 90_000);
});

describe('CloudEvents batches to MQTT 3.1.1 consumers', () => {
  it('aedes (MQTT 3.1.1): the consumer tells batches by the [ marker', async () => {
    const d = dir();
    expect(await prefill(d, [['lane-1', 300]])).toBe(300);
    // aedes keeps no session across its own restart: central subscribes before the gateway comes back.
    const aedes = await startEmbeddedBroker();
    cleanups.push(() => aedes.close());
    const central = await collector(aedes.url, 4);
    const running = await gateway(d, aedes.url, { batch: { threshold: 20, maxEvents: 16 } }, 4);
    const gw = running.gateway;
    await central.waitForUnique(300, 'retail.scan.v1', 30_000);
    await waitFor(() => gw.status().buffer?.rows === 0, 'buffer empty');
    expect(gw.status().uplink).toMatchObject({ connected: true, protocolVersion: 4 });
    expect(central.unique().map((r) => r.event?.seq)).toEqual(range(1, 300));
    expect(central.consumer.counts).toMatchObject({ invalid: 0, gaps: 0, duplicates: 0 });
    expect(central.consumer.counts.batches).toBe(Math.ceil(300 / 16));
    expect(central.received.map((r) => r.batch?.size)).toEqual(
      range(1, 300).map((i) => (i <= 288 ? 16 : 12)),
    );
  });

  it('Mosquitto with protocolVersion 4: the same batches, no content type', async () => {
    const { rec, stored, total } = await drainBacklog({
      mqtt: { protocolVersion: 4, batch: { threshold: 10, maxEvents: 9 } },
      runs: [['lane-1', 50]],
    });
    expect(rec.messages.every((m) => m.checked.batch)).toBe(true);
    for (const m of rec.messages) {
      // The recorder is an MQTT 5 client, but a 3.1.1 publisher sends no properties.
      expect(m.contentType).toBeUndefined();
      expect(m.payload.startsWith('[')).toBe(true);
      expect(m.payload).toBe(
        `[${seqsOf(m)
          .map((s) => stored.get(s))
          .join(',')}]`,
      );
    }
    expect(rec.messages.flatMap(seqsOf)).toEqual(range(1, total));
    expect(rec.messages.map((m) => m.checked.events.length)).toEqual([9, 9, 9, 9, 9, 5]);
  });
});
