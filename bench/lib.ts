import { connectAsync, type IClientPublishOptions } from 'mqtt';
import { withCheckDigit } from '../simulators/barcodes.js';
import { validateConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { CLOUDEVENT_CONTENT_TYPE } from '../src/uplink/topics.js';

export const WINDOW = 1000;

/** A scan reading with a distinct, valid EAN-13 per index. */
export function scanData(i: number, deviceId = 'lane-1') {
  return {
    deviceId,
    text: withCheckDigit(`4${String(i).padStart(11, '0')}`),
    aim: ']E0',
    symbology: 'ean-13',
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Tracks peak RSS by sampling every `everyMs`. */
export function rssSampler(everyMs = 50) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  return {
    stop(): number {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

/**
 * The gateway's config for a phase. `batch` is `mqtt.batch`: the defaults (CloudEvents batches on
 * the catch-up path) unless a phase measures the per-message path with `{ enabled: false }`.
 */
export function benchConfig(opts: {
  url: string;
  bufferPath: string;
  window?: number;
  batch?: Record<string, unknown>;
}): Config {
  const r = validateConfig({
    store: { id: '0421' },
    gateway: { id: 'gw-bench' },
    mqtt: {
      url: opts.url,
      protocolVersion: 5,
      inflightWindow: opts.window ?? WINDOW,
      ...(opts.batch ? { batch: opts.batch } : {}),
    },
    buffer: {
      path: opts.bufferPath,
      maxBytes: '4GiB',
      minFreeBytes: '256MiB',
      // Experiments only: BENCH_SYNC / BENCH_COMMIT_MS override the defaults.
      ...(process.env.BENCH_SYNC ? { synchronous: process.env.BENCH_SYNC } : {}),
      ...(process.env.BENCH_COMMIT_MS ? { commitIntervalMs: Number(process.env.BENCH_COMMIT_MS) } : {}),
    },
    api: { enabled: false },
    log: { level: 'warn' },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

/**
 * The baseline: mqtt.js publishing the given payloads QoS 1 with `window` in flight, no buffer.
 * Returns elapsed ms from the first publish to the last PUBACK.
 */
export async function rawPublish(
  url: string,
  payloads: (i: number) => string,
  count: number,
  window = WINDOW,
) {
  const client = await connectAsync(url, {
    protocolVersion: 5,
    clean: true,
    clientId: `bench-raw-${process.pid}`,
  });
  const options: IClientPublishOptions = { qos: 1, properties: { contentType: CLOUDEVENT_CONTENT_TYPE } };
  const topic = 'stores/0421/gateways/gw-raw/events/scan/lane-1';
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    const onAck = (err?: Error) => {
      if (err) return reject(err);
      acked++;
      if (acked === count) resolve();
      else if (window - (sent - acked) >= 64) pump();
    };
    const pump = () => {
      while (sent < count && sent - acked < window) client.publish(topic, payloads(sent++), options, onAck);
    };
    pump();
  });
  const elapsed = performance.now() - t0;
  await client.endAsync();
  return elapsed;
}
