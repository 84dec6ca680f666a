/**
 * A central subscriber for the benchmark, in its own process so its CPU and memory are not the
 * gateway's. It unpacks every message (a single event or a batch), parses each event, and counts
 * distinct seqs (or, with `count: "events"`, every event: the raw client cycles 1,000 payloads);
 * once it has `expect` of them it prints one JSON line and exits.
 * Usage: node dist/bench/subscriber.js '<json options>'; prints `ready` once subscribed.
 */
import { connectAsync } from 'mqtt';

interface Opts {
  url: string;
  /** Topic filter, e.g. stores/0421/gateways/gw-bench/events/scan/lane-1 */
  filter: string;
  /** Distinct events to wait for. */
  expect: number;
  /** Highest seq that may arrive (sizes the bitmap). */
  maxSeq: number;
  /** What reaches `expect`: distinct seqs (the default) or events. */
  count?: 'unique' | 'events';
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Opts;
const seen = new Uint8Array(opts.maxSeq + 1);
let unique = 0;
let events = 0;
let messages = 0;
let batches = 0;
let peakRss = process.memoryUsage.rss();
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);

const client = await connectAsync(opts.url, {
  protocolVersion: 5,
  clean: true,
  clientId: `bench-sub-${process.pid}`,
  log: () => {},
});
const cpu0 = process.cpuUsage();

function count(event: { seq?: unknown }): void {
  events++;
  const seq = event?.seq;
  if (typeof seq === 'number' && seq <= opts.maxSeq && seen[seq] === 0) {
    seen[seq] = 1;
    unique++;
  }
}

client.on('message', (_topic, payload) => {
  messages++;
  const parsed = JSON.parse(payload.toString()) as { seq?: unknown } | { seq?: unknown }[];
  if (Array.isArray(parsed)) {
    batches++;
    for (const event of parsed) count(event);
  } else count(parsed);
  if ((opts.count === 'events' ? events : unique) >= opts.expect) finish();
});

function finish(): void {
  const cpu = process.cpuUsage(cpu0);
  clearInterval(rssTimer);
  process.stdout.write(
    `${JSON.stringify({
      unique,
      events,
      messages,
      batches,
      cpuUsPerEvent: (cpu.user + cpu.system) / Math.max(1, events),
      peakRssMb: Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20,
    })}\n`,
  );
  process.exit(0);
}

await client.subscribeAsync(opts.filter, { qos: 1 });
process.stdout.write('ready\n');
