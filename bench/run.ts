/**
 * `npm run bench`: every figure of docs/PERFORMANCE.md in one run against one Mosquitto started
 * here. Each measurement runs in its own process, so each peak RSS is that phase's own; the gateway
 * and the raw client alternate and each pair gives a ratio, so a noisy neighbour on a shared machine
 * moves both sides of a ratio together. Medians are reported.
 *
 * The backlog section runs, per round, the raw client, the per-message drain, the drain with
 * CloudEvents batches (timed to a subscriber in its own process that unpacks every event), and the
 * live latency while a batched drain runs.
 *
 * In the backlog section every path is timed until a subscriber in its own process has unpacked
 * and counted every event, and the three are printed side by side as a table.
 *
 * Options: --events N (throughput, default 200,000), --backlog N (drain, default 1,000,000),
 * --rounds N (pairs per comparison, default 3), --quick (50,000 / 100,000 / 1 round), --json.
 * BENCH_EVENTS, BENCH_BACKLOG and BENCH_ROUNDS set the same counts from the environment (an option
 * wins), e.g. `BENCH_EVENTS=5000 BENCH_BACKLOG=20000 BENCH_ROUNDS=1 npm run bench` for a smoke run.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { rootPath } from '../src/paths.js';
import { Mosquitto } from '../tests/helpers/mosquitto.js';
import { tmpDir } from '../tests/helpers/tmp.js';

/**
 * V8 flags the daemon runs with (the systemd unit's ExecStart). Without a cap V8 lets garbage pile
 * up to ~100 MB before a full collection, although the live heap stays near 20 MB; a 16 MB young
 * generation lets the messages of a full in-flight window die young instead of being promoted.
 */
export const SERVICE_NODE_FLAGS = ['--max-old-space-size=128', '--max-semi-space-size=16'];

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    backlog: { type: 'string' },
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const env = process.env;
const events = Number(values.events ?? env.BENCH_EVENTS ?? (values.quick ? 50_000 : 200_000));
const backlog = Number(values.backlog ?? env.BENCH_BACKLOG ?? (values.quick ? 100_000 : 1_000_000));
const rounds = Number(values.rounds ?? env.BENCH_ROUNDS ?? (values.quick ? 1 : 3));
for (const [name, n] of Object.entries({ events, backlog, rounds }))
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${n}`);

type Result = Record<string, number>;

/** The gateway runs as the service does; the raw baseline gets Node's defaults, its best case. */
const GATEWAY_FLAGS = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? SERVICE_NODE_FLAGS;

function phase(name: string, opts: Record<string, unknown>): Result {
  const flags = name === 'raw' ? [] : GATEWAY_FLAGS;
  const args = [...flags, rootPath('dist', 'bench', 'phases.js'), name, JSON.stringify(opts)];
  const out = execFileSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Result;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Runs raw and gateway alternately `rounds` times; returns every run and the median figures. */
function pairs(gateway: () => Result, raw: () => Result) {
  const runs: { raw: Result; gateway: Result; ratio: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = raw();
    const g = gateway();
    runs.push({ raw: r, gateway: g, ratio: (g.perSec as number) / (r.perSec as number) });
  }
  const pick = (side: 'raw' | 'gateway', key: string) => median(runs.map((x) => x[side][key] as number));
  return { runs, pick, ratio: median(runs.map((x) => x.ratio)) };
}

const broker = await Mosquitto.start();
const dir = tmpDir('sg-bench-');
let n = 0;
const base = () => ({ url: broker.url, dir: `${dir.path}/${n++}` });
try {
  log(
    `store-gateway bench: Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model}), Mosquitto on ${broker.url}, gateway node flags: ${GATEWAY_FLAGS.join(' ') || '(none)'}`,
  );
  log(
    `window 1,000, QoS 1, MQTT 5, SQLite synchronous FULL; ${rounds} round(s) per comparison, medians shown`,
  );

  const thr = pairs(
    () => phase('throughput', { ...base(), count: events }),
    () => phase('raw', { ...base(), count: events }),
  );
  log(`\nthroughput, ${fmt(events)} events (ingest → SQLite → PUBACK → delete):`);
  log(
    `  raw mqtt.js, no buffer   ${fmt(thr.pick('raw', 'perSec'))} msgs/s, ${fmt(thr.pick('raw', 'cpuUsPerEvent'), 1)} µs CPU/msg`,
  );
  log(
    `  gateway                  ${fmt(thr.pick('gateway', 'perSec'))} events/s, ${fmt(thr.pick('gateway', 'cpuUsPerEvent'), 1)} µs CPU/event, peak RSS ${fmt(thr.pick('gateway', 'peakRssMb'))} MB`,
  );
  log(
    `  ratio                    ${fmt(thr.ratio, 2)}x raw (per pair: ${thr.runs.map((r) => fmt(r.ratio, 2)).join(', ')})`,
  );

  const lat = phase('latency', { ...base(), rate: 1000, seconds: values.quick ? 5 : 10 });
  log(`\nlatency, capture → subscriber at 1,000 events/s offered (${fmt(lat.count as number)} events):`);
  log(
    `  p50 ${fmt(lat.p50Ms as number, 2)} ms, p99 ${fmt(lat.p99Ms as number, 2)} ms, max ${fmt(lat.maxMs as number, 2)} ms`,
  );

  // The backlog: raw client, per-message drain and batched drain in each round, so a noisy
  // neighbour moves all three together; each gateway run is paired with the raw run of its round.
  let fill: Result = {};
  const filled = (name: string, opts: Record<string, unknown> = {}) => {
    const b = base();
    fill = phase('fill', { ...b, count: backlog });
    return phase(name, { ...b, count: backlog, ...opts });
  };
  const backlogRuns: { raw: Result; single: Result; batched: Result; live: Result }[] = [];
  for (let i = 0; i < rounds; i++) {
    const raw = phase('raw', { ...base(), count: backlog, subscribe: true });
    const single = filled('drain', { batch: { enabled: false }, subscribe: true });
    const batched = filled('drainBatched');
    const live = filled('latencyDrain', { rate: 1000 });
    backlogRuns.push({ raw, single, batched, live });
  }
  const med = (side: 'raw' | 'single' | 'batched' | 'live', key: string) =>
    median(backlogRuns.map((r) => r[side][key] as number));
  const each = (f: (r: (typeof backlogRuns)[number]) => number, digits = 2) =>
    backlogRuns.map((r) => fmt(f(r), digits)).join(', ');
  const drainRatio = median(backlogRuns.map((r) => (r.single.perSec as number) / (r.raw.perSec as number)));
  const batchRatio = median(backlogRuns.map((r) => (r.batched.perSec as number) / (r.raw.perSec as number)));
  log(
    `\ndrain of a ${fmt(backlog)}-event backlog (filled offline at ${fmt(fill.perSec as number)} events/s), timed until a subscriber in its own process has unpacked and counted every event:\n`,
  );
  const row = (cells: string[]) => log(`| ${cells.join(' | ')} |`);
  row([
    'Path',
    'Time',
    'Events/s delivered',
    'vs raw',
    'Publisher CPU/event',
    'Publisher peak RSS',
    'Messages',
    'Subscriber CPU/event',
  ]);
  row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']);
  const line = (label: string, side: 'raw' | 'single' | 'batched', ratio: string) =>
    row([
      label,
      `${fmt(med(side, 'ms') / 1000, 1)} s`,
      `${fmt(med(side, 'perSec'))} (runs ${each((r) => r[side].perSec as number, 0)})`,
      ratio,
      `${fmt(med(side, 'cpuUsPerEvent'), 2)} µs`,
      `${fmt(med(side, 'peakRssMb'))} MB (runs ${each((r) => r[side].peakRssMb as number, 0)})`,
      fmt(med(side, 'subscriberMessages')),
      `${fmt(med(side, 'subscriberCpuUsPerEvent'), 2)} µs`,
    ]);
  line('raw mqtt.js, one message per event', 'raw', '1.00x');
  line(
    'gateway, one event per message',
    'single',
    `${fmt(drainRatio, 2)}x (${each((r) => (r.single.perSec as number) / (r.raw.perSec as number))})`,
  );
  line(
    'gateway, CloudEvents batches',
    'batched',
    `${fmt(batchRatio, 2)}x (${each((r) => (r.batched.perSec as number) / (r.raw.perSec as number))})`,
  );
  log(
    `\n  batches: ${fmt(med('batched', 'eventsPerBatch'), 0)} events/batch; buffer empty at ${fmt(med('batched', 'emptyMs') / 1000, 1)} s (per message: ${fmt(med('single', 'emptyMs') / 1000, 1)} s; raw last PUBACK at ${fmt(med('raw', 'ackMs') / 1000, 1)} s)`,
  );
  log(
    `  live latency during the batched drain, 1,000 events/s: p50 ${fmt(med('live', 'p50Ms'), 2)} ms, p99 ${fmt(med('live', 'p99Ms'), 2)} ms (runs ${each((r) => r.live.p99Ms as number)}), max ${fmt(med('live', 'maxMs'), 2)} ms, ${fmt(med('live', 'count'))} live events over ${fmt(med('live', 'drainMs') / 1000, 1)} s`,
  );

  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ flags: SERVICE_NODE_FLAGS, rounds, throughput: thr.runs, latency: lat, fill, backlog: backlogRuns }, null, 2)}\n`,
    );
  }
} finally {
  await broker.dispose();
  dir.cleanup();
}
