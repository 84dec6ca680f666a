/**
 * One benchmark measurement per process, so each figure (and each peak RSS) is its own.
 * Usage: node dist/bench/phases.js <phase> '<json options>'; prints one JSON line with the result.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { connectAsync } from 'mqtt';
import { Outbox } from '../src/buffer/outbox.js';
import { systemClock } from '../src/clock.js';
import { EventFactory } from '../src/events/envelope.js';
import { buildGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { rootPath } from '../src/paths.js';
import { benchConfig, percentile, rawPublish, rssSampler, scanData } from './lib.js';

interface Opts {
  url: string;
  dir: string;
  count: number;
  rate?: number;
  seconds?: number;
  /** `mqtt.batch` for the gateway; the defaults when absent. */
  batch?: Record<string, unknown>;
  /** raw and drain: time until a subscriber in its own process has every event, too. */
  subscribe?: boolean;
}

const BACKLOG_TOPIC = 'stores/0421/gateways/gw-bench/events/scan/lane-1';
const RAW_TOPIC = 'stores/0421/gateways/gw-raw/events/scan/lane-1';

/**
 * The subscriber of bench/subscriber.ts in its own process (Node's default flags): resolves
 * `ready` once it is subscribed, and `done` with its figures and the time it had every event.
 */
async function subscriberProcess(
  url: string,
  filter: string,
  expect: number,
  count: 'unique' | 'events' = 'unique',
) {
  const child = spawn(
    process.execPath,
    [
      rootPath('dist', 'bench', 'subscriber.js'),
      JSON.stringify({ url, filter, expect, maxSeq: expect * 2, count }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  let onDone: (v: { at: number; result: Record<string, number> }) => void = () => {};
  const done = new Promise<{ at: number; result: Record<string, number> }>((resolve) => {
    onDone = resolve;
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`subscriber exited with ${code}`)));
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else onDone({ at: performance.now(), result: JSON.parse(line) as Record<string, number> });
    });
  });
  await ready;
  return { done, kill: () => child.kill('SIGKILL') };
}

/** The subscriber's own figures, for a phase's result. */
function subscriberFigures(r: Record<string, number> | undefined): Record<string, number> {
  if (!r) return {};
  return {
    subscriberMessages: r.messages as number,
    subscriberCpuUsPerEvent: r.cpuUsPerEvent as number,
    subscriberPeakRssMb: r.peakRssMb as number,
  };
}

async function waitUntil(check: () => boolean, everyMs = 2): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, everyMs));
}

async function startGateway(o: Opts, bufferName: string): Promise<Gateway> {
  const config = benchConfig({ url: o.url, bufferPath: join(o.dir, bufferName) });
  const gw = buildGateway(config, { log: silentLogger(), metrics: new Metrics() });
  await gw.start();
  await waitUntil(() => gw.uplink.isConnected, 10);
  return gw;
}

/**
 * Payloads exactly as the gateway sends them, made before the clock starts, for the raw baseline:
 * the raw client does nothing but publish. 1,000 distinct ones, cycled.
 */
function samplePayloads(): (i: number) => string {
  const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-raw' });
  const pool = Array.from({ length: 1000 }, (_, i) =>
    factory.serialize(factory.create('retail.scan.v1', 'lane-1', scanData(i), Date.now()), i + 1),
  );
  return (i) => pool[i % pool.length] as string;
}

const phases: Record<string, (o: Opts) => Promise<Record<string, number>>> = {
  /** Raw mqtt.js, same payloads, QoS 1, window 1000, no buffer. */
  async raw(o) {
    const payloads = samplePayloads();
    const sub = o.subscribe ? await subscriberProcess(o.url, RAW_TOPIC, o.count, 'events') : undefined;
    try {
      const rss = rssSampler();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const ackMs = await rawPublish(o.url, payloads, o.count);
      const cpu = process.cpuUsage(cpu0);
      const peak = rss.stop();
      const delivered = await sub?.done;
      // With a subscriber, the clock stops when it has every message; otherwise at the last PUBACK.
      const ms = delivered ? delivered.at - t0 : ackMs;
      return {
        count: o.count,
        ms,
        perSec: (o.count / ms) * 1000,
        ackMs,
        cpuUsPerEvent: (cpu.user + cpu.system) / o.count,
        peakRssMb: peak / 2 ** 20,
        ...subscriberFigures(delivered?.result),
      };
    } finally {
      sub?.kill();
    }
  },

  /** Ingest (driver emit → validate → envelope → SQLite group commit) → uplink → PUBACK → delete. */
  async throughput(o) {
    const gw = await startGateway(o, 'throughput.db');
    const emit = gw.emitFor('lane-1');
    const rss = rssSampler();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < o.count; i++) {
      emit('retail.scan.v1', scanData(i));
      if (i % 1000 === 999) await yieldLoop();
    }
    const ingestMs = performance.now() - t0;
    await waitUntil(() => gw.outbox.lastCommittedSeq >= o.count && gw.status().buffer?.rows === 0);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const peak = rss.stop();
    await gw.stop();
    return {
      count: o.count,
      ms,
      perSec: (o.count / ms) * 1000,
      ingestPerSec: (o.count / ingestMs) * 1000,
      cpuUsPerEvent: (cpu.user + cpu.system) / o.count,
      peakRssMb: peak / 2 ** 20,
    };
  },

  /** Fills a buffer offline with `count` events (not timed as part of the drain). */
  async fill(o) {
    const metrics = new Metrics();
    const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-bench' });
    const config = benchConfig({ url: o.url, bufferPath: join(o.dir, 'drain.db') });
    const outbox = Outbox.open(
      { ...config.buffer, commitMaxRows: 1000 },
      { log: silentLogger(), metrics, factory, clock: systemClock },
    );
    const t0 = performance.now();
    const now = Date.now();
    for (let i = 0; i < o.count; i++)
      outbox.offer(factory.create('retail.scan.v1', 'lane-1', scanData(i), now));
    outbox.flush();
    const ms = performance.now() - t0;
    const rows = outbox.stats().rows;
    outbox.close();
    return { count: rows, ms, perSec: (rows / ms) * 1000 };
  },

  /**
   * Connects a gateway to a buffer holding a backlog and times until it is empty; peak RSS of the
   * process. `o.batch` chooses the path: `{ enabled: false }` for one event per message.
   */
  async drain(o) {
    const sub = o.subscribe ? await subscriberProcess(o.url, BACKLOG_TOPIC, o.count) : undefined;
    try {
      const rss = rssSampler(20);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const config = benchConfig({ url: o.url, bufferPath: join(o.dir, 'drain.db'), batch: o.batch });
      const gw = buildGateway(config, { log: silentLogger(), metrics: new Metrics() });
      await gw.start();
      const backlog = gw.status().buffer?.rows ?? 0;
      await waitUntil(() => gw.status().buffer?.rows === 0, 5);
      const emptyMs = performance.now() - t0;
      const delivered = await sub?.done;
      const cpu = process.cpuUsage(cpu0);
      const peak = rss.stop();
      await gw.stop();
      // With a subscriber, the clock stops when it has every event; otherwise when the buffer is empty.
      const ms = delivered ? delivered.at - t0 : emptyMs;
      return {
        count: backlog,
        ms,
        perSec: (backlog / ms) * 1000,
        emptyMs,
        cpuUsPerEvent: (cpu.user + cpu.system) / backlog,
        peakRssMb: peak / 2 ** 20,
        ...subscriberFigures(delivered?.result),
      };
    } finally {
      sub?.kill();
    }
  },

  /**
   * The drain with CloudEvents batches (the default config), timed until a subscriber in another
   * process has unpacked and counted every event of the backlog; peak RSS of the gateway process.
   */
  async drainBatched(o) {
    const sub = await subscriberProcess(o.url, BACKLOG_TOPIC, o.count);
    try {
      const rss = rssSampler(20);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const config = benchConfig({ url: o.url, bufferPath: join(o.dir, 'drain.db'), batch: o.batch });
      const gw = buildGateway(config, { log: silentLogger(), metrics: new Metrics() });
      await gw.start();
      const backlog = gw.status().buffer?.rows ?? 0;
      const delivered = await sub.done;
      await waitUntil(() => gw.status().buffer?.rows === 0, 5);
      const emptyMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const peak = rss.stop();
      const uplink = gw.status().uplink;
      await gw.stop();
      const ms = delivered.at - t0;
      return {
        count: backlog,
        ms,
        perSec: (backlog / ms) * 1000,
        emptyMs,
        cpuUsPerEvent: (cpu.user + cpu.system) / backlog,
        peakRssMb: peak / 2 ** 20,
        batches: uplink?.batches ?? 0,
        eventsPerBatch: (uplink?.batchedEvents ?? 0) / Math.max(1, uplink?.batches ?? 0),
        ...subscriberFigures(delivered.result),
      };
    } finally {
      sub.kill();
    }
  },

  /**
   * Live latency while a backlog drains in batches: `rate` events/s on another lane, emitted from
   * the moment the drain starts until it ends; an in-process subscriber timestamps each live event,
   * and a subscriber in another process consumes the backlog.
   */
  async latencyDrain(o) {
    const rate = o.rate ?? 1000;
    const sub = await subscriberProcess(o.url, BACKLOG_TOPIC, o.count);
    const live = await connectAsync(o.url, {
      protocolVersion: 5,
      clean: true,
      clientId: `bench-live-${process.pid}`,
    });
    try {
      const captured = new Float64Array(rate * 600);
      const latencies: number[] = [];
      live.on('message', (_topic, payload) => {
        const at = performance.now();
        const text = (JSON.parse(payload.toString()) as { data: { text: string } }).data.text;
        latencies.push(at - (captured[Number(text.slice(1, 12))] as number));
      });
      await live.subscribeAsync('stores/0421/gateways/gw-bench/events/scan/lane-live', { qos: 1 });
      const rss = rssSampler(20);
      const config = benchConfig({ url: o.url, bufferPath: join(o.dir, 'drain.db'), batch: o.batch });
      const gw = buildGateway(config, { log: silentLogger(), metrics: new Metrics() });
      await gw.start();
      await waitUntil(() => gw.status().uplink?.catchUp != null, 1);
      const emit = gw.emitFor('lane-live');
      const start = performance.now();
      let i = 0;
      while (gw.status().uplink?.catchUp != null && i < captured.length) {
        const due = Math.min(captured.length, Math.floor(((performance.now() - start) / 1000) * rate));
        for (; i < due; i++) {
          captured[i] = performance.now();
          emit('retail.scan.v1', scanData(i, 'lane-live'));
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      const drainMs = performance.now() - start;
      await waitUntil(() => latencies.length >= i, 5);
      await sub.done;
      const peak = rss.stop();
      await gw.stop();
      latencies.sort((a, b) => a - b);
      return {
        count: latencies.length,
        rate,
        drainMs,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies.at(-1) as number,
        peakRssMb: peak / 2 ** 20,
      };
    } finally {
      sub.kill();
      await live.endAsync();
    }
  },

  /** Offers `rate` events/s for `seconds`; a subscriber measures capture → delivery latency. */
  async latency(o) {
    const rate = o.rate ?? 1000;
    const seconds = o.seconds ?? 10;
    const total = rate * seconds;
    const gw = await startGateway(o, 'latency.db');
    const sub = await connectAsync(o.url, {
      protocolVersion: 5,
      clean: true,
      clientId: `bench-sub-${process.pid}`,
    });
    const captured = new Float64Array(total);
    const latencies: number[] = [];
    sub.on('message', (_topic, payload) => {
      const at = performance.now();
      const text = (JSON.parse(payload.toString()) as { data: { text: string } }).data.text;
      const i = Number(text.slice(1, 12));
      latencies.push(at - (captured[i] as number));
    });
    await sub.subscribeAsync('stores/0421/gateways/gw-bench/events/scan/#', { qos: 1 });
    const emit = gw.emitFor('lane-1');
    const start = performance.now();
    let i = 0;
    while (i < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; i < due; i++) {
        captured[i] = performance.now();
        emit('retail.scan.v1', scanData(i));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await waitUntil(() => latencies.length >= total, 5);
    await sub.endAsync();
    await gw.stop();
    latencies.sort((a, b) => a - b);
    return {
      count: latencies.length,
      rate,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) as number,
    };
  },
};

const [name, json] = process.argv.slice(2);
const phase = phases[name ?? ''];
if (!phase) {
  process.stderr.write(`unknown phase ${name}; one of ${Object.keys(phases).join(', ')}\n`);
  process.exit(64);
}
const result = await phase(JSON.parse(json ?? '{}') as Opts);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
