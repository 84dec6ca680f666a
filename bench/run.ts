/**
 * `npm run bench`: every figure of docs/PERFORMANCE.md in one run against one Mosquitto started
 * here. Each measurement runs in its own process (so peak RSS is that phase's own).
 * Options: --events N (throughput, default 200000), --backlog N (drain, default 1000000), --quick.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { rootPath } from '../src/paths.js';
import { Mosquitto } from '../tests/helpers/mosquitto.js';
import { tmpDir } from '../tests/helpers/tmp.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    backlog: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const events = Number(values.events ?? (values.quick ? 50_000 : 200_000));
const backlog = Number(values.backlog ?? (values.quick ? 100_000 : 1_000_000));

function phase(name: string, opts: Record<string, unknown>): Record<string, number> {
  const out = execFileSync(
    process.execPath,
    [rootPath('dist', 'bench', 'phases.js'), name, JSON.stringify(opts)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Record<string, number>;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const broker = await Mosquitto.start();
const dir = tmpDir('sg-bench-');
const base = { url: broker.url, dir: dir.path };
const log = (s: string) => process.stderr.write(`${s}\n`);
try {
  log(
    `store-gateway bench: Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model}), Mosquitto on ${broker.url}`,
  );
  log(
    `throughput: ${fmt(events)} events; drain: ${fmt(backlog)} events; window 1000; SQLite synchronous FULL`,
  );
  const raw = phase('raw', { ...base, count: events });
  log(`raw mqtt.js QoS 1 (no buffer):        ${fmt(raw.perSec as number)} msgs/s`);
  const thr = phase('throughput', { ...base, count: events });
  log(
    `gateway ingest → SQLite → PUBACK:      ${fmt(thr.perSec as number)} events/s  (${fmt((thr.perSec as number) / (raw.perSec as number), 2)}x raw), peak RSS ${fmt(thr.peakRssMb as number)} MB`,
  );
  const lat = phase('latency', { ...base, rate: 1000, seconds: values.quick ? 5 : 10 });
  log(
    `latency at 1,000 events/s offered:     p50 ${fmt(lat.p50Ms as number, 2)} ms, p99 ${fmt(lat.p99Ms as number, 2)} ms, max ${fmt(lat.maxMs as number, 2)} ms`,
  );
  const fill = phase('fill', { ...base, count: backlog });
  log(
    `backlog filled offline:                ${fmt(fill.count as number)} events at ${fmt(fill.perSec as number)} events/s`,
  );
  const rawDrain = phase('raw', { ...base, count: backlog });
  const drain = phase('drain', { ...base, count: backlog });
  log(
    `raw mqtt.js, ${fmt(backlog)} msgs:        ${fmt((rawDrain.ms as number) / 1000, 1)} s (${fmt(rawDrain.perSec as number)} msgs/s)`,
  );
  log(
    `gateway drain of ${fmt(drain.count as number)} events:  ${fmt((drain.ms as number) / 1000, 1)} s (${fmt(drain.perSec as number)} events/s, ${fmt((drain.perSec as number) / (rawDrain.perSec as number), 2)}x raw), peak RSS ${fmt(drain.peakRssMb as number)} MB`,
  );
  const result = { raw, throughput: thr, latency: lat, fill, rawDrain, drain };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await broker.dispose();
  dir.cleanup();
}
