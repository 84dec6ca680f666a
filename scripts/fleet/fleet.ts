import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { pick, seededRandom } from '../../simulators/barcodes.js';
import { DEMO_GTIN_PRODUCTS } from '../../simulators/personalization.js';
import { newToken, SimulatedPosLane } from '../../simulators/pos-lane.js';
import { FleetBroker } from './broker.js';
import { type BrokerCounters, Central, type GroupTally } from './central.js';
import { type Check, groupChecks, sameEventsCheck } from './checks.js';

export type { Check } from './checks.js';

import { FleetGateway, serviceNodeFlags } from './gateway.js';
import { cpuShare, type ProcSample, sampleProc } from './proc.js';

export interface FleetOptions {
  /** Gateway processes to start (as many as fit: see `minFreeMemBytes`). */
  gateways: number;
  /** How long the simulated stores post transactions, seconds. */
  durationSec: number;
  /** Stop each store after this many accepted transactions instead (overrides the duration). */
  eventsPerGateway?: number;
  /** POS transactions per second per store. */
  ratePerGateway: number;
  /** POS lanes per store: each posts one transaction at a time. */
  lanes: number;
  /** Subscription groups (each must get every event). */
  groups: number;
  /** Members per group (the broker spreads the group's events over them). */
  consumersPerGroup: number;
  /** Gateways started at the same time. */
  startConcurrency: number;
  /** The broker's Receive Maximum (Mosquitto `max_inflight_messages`). */
  receiveMaximum: number;
  /** `mqtt.batch.threshold` of the gateways (its default when unset); 0 sends every event in a batch. */
  batchThreshold?: number;
  /** Only the first N gateways get `batchThreshold` (default: all), so one run sees both forms. */
  batchGateways?: number;
  /** How long to wait for the last events to reach every group, seconds. */
  drainTimeoutSec: number;
  /** Do not start another gateway while the machine has less free memory than this. */
  minFreeMemBytes: number;
  /** V8 flags of the gateway processes (default: the systemd unit's). */
  nodeFlags?: string[];
  /** Keep the temp dir (configs, buffers, broker) for inspection. */
  keep?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

export const FLEET_DEFAULTS: FleetOptions = {
  gateways: 50,
  durationSec: 30,
  ratePerGateway: 2,
  lanes: 10,
  groups: 2,
  consumersPerGroup: 2,
  startConcurrency: 4,
  receiveMaximum: 20,
  drainTimeoutSec: 120,
  minFreeMemBytes: 1024 ** 3,
};

interface Stats {
  min: number;
  median: number;
  max: number;
  sum: number;
}

export interface FleetResult {
  pass: boolean;
  checks: Check[];
  requested: number;
  started: number;
  /** Why fewer gateways than requested run (empty when all do). */
  notStarted: string[];
  /** Gateways that started only at the second attempt, and why the first failed. */
  retried: string[];
  nodeFlags: string[];
  source: string;
  machine: { cores: number; totalMemBytes: number; loadAvgStart: number[]; loadAvgEnd: number[] };
  startSec: number;
  sourceSec: number;
  drainSec: number;
  accepted: number;
  refused: number;
  postErrors: number;
  acceptedPerSec: number;
  perGatewayPerSec: Stats;
  /** POST /v1/pos/transactions until its 202 (the commit to SQLite), ms. */
  postLatencyMs: { p50: number; p99: number; max: number };
  broker: {
    publishInPerSec: number;
    publishOutPerSec: number;
    peakPublishInPerSec: number;
    bytesInPerSec: number;
    bytesOutPerSec: number;
    clients: number;
    cpu: number;
    rssBytes: number;
    peakRssBytes: number;
  };
  gateways: {
    cpuTotal: number;
    cpu: Stats;
    rssBytes: Stats;
    peakRssBytes: Stats;
    batches: number;
    batchedEvents: number;
    reconnects: number;
    window: number;
    warnings: number;
    warningSamples: string[];
  };
  harness: { cpu: number; peakRssBytes: number };
  groups: {
    name: string;
    unique: number;
    deliveries: number;
    duplicates: number;
    messages: number;
    batches: number;
    invalid: number;
    perConsumer: Record<string, number>;
    problems: string[];
  }[];
}

/** The gateways and children of runs in progress, for a SIGINT handler. */
const live = new Set<{ kill(): void }>();

/** Kills every child of the runs in progress (SIGKILL); for an interrupted run. */
export function killFleetChildren(): void {
  for (const c of live) c.kill();
}

function stats(xs: number[]): Stats {
  if (xs.length === 0) return { min: 0, median: 0, max: 0, sum: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  return { min: s[0] as number, median, max: s.at(-1) as number, sum: s.reduce((a, b) => a + b, 0) };
}

function percentiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? 0 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one store's POS lanes got back. */
class Ledger {
  /** Accepted transactions: event id → seq from the 202 answer. */
  readonly accepted = new Map<string, number>();
  refused = 0;
  errors = 0;
  replayed = 0;
  /** Milliseconds from the first attempt to the 202, per accepted transaction. */
  readonly latencies: number[] = [];
  /** Transactions started (for `eventsPerGateway`). */
  started = 0;
  readonly problems: string[] = [];
}

/**
 * One POS lane: posts a transaction every `periodMs` (catching up after a slow answer, but never
 * by more than one second's worth), one at a time, retrying a failed post with the same
 * Idempotency-Key as a real lane does.
 */
async function runLane(
  gw: FleetGateway,
  lane: number,
  token: string,
  periodMs: number,
  ledger: Ledger,
  more: () => boolean,
  /** No transaction starts after this time (ms since the epoch). */
  until: number,
): Promise<void> {
  const random = seededRandom(gw.index * 100 + lane);
  const sim = new SimulatedPosLane({
    apiUrl: gw.apiUrl as string,
    token,
    storeId: gw.storeId,
    workstationId: `lane-${lane}`,
    seed: gw.index * 100 + lane,
  });
  let next = Date.now() + random() * periodMs;
  while (more()) {
    if (next >= until) break;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    if (!more()) break;
    next = Math.max(next + periodMs, Date.now() - 1000);
    ledger.started++;
    const basket = Array.from({ length: 1 + Math.floor(random() * 5) }, () =>
      pick(DEMO_GTIN_PRODUCTS, random),
    );
    const body = JSON.stringify(sim.buildTransaction(basket, undefined, []));
    const key = randomUUID();
    const sent = performance.now();
    for (let attempt = 1; ; attempt++) {
      let res: { status: number; body: string } | null = null;
      try {
        res = await gw.http('POST', '/v1/pos/transactions', body, {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        });
      } catch (err) {
        if (attempt >= 5) {
          ledger.errors++;
          if (ledger.problems.length < 5) ledger.problems.push(`${gw.key}: ${(err as Error).message}`);
          break;
        }
      }
      if (res?.status === 202) {
        const answer = JSON.parse(res.body) as { eventId: string; seq: number };
        if (ledger.accepted.has(answer.eventId)) ledger.replayed++;
        ledger.accepted.set(answer.eventId, answer.seq);
        ledger.latencies.push(performance.now() - sent);
        break;
      }
      if (res && ((res.status !== 503 && res.status !== 429) || attempt >= 5)) {
        ledger.refused++;
        if (ledger.problems.length < 5)
          ledger.problems.push(`${gw.key}: ${res.status} ${res.body.slice(0, 200)}`);
        break;
      }
      await sleep(200 * attempt);
    }
  }
}

function gatewayConfig(
  dir: string,
  mqttUrl: string,
  storeId: string,
  gatewayId: string,
  tokensFile: string,
  batchThreshold: number | undefined,
) {
  return {
    store: { id: storeId },
    gateway: { id: gatewayId },
    mqtt: {
      url: mqttUrl,
      protocolVersion: 5,
      ...(batchThreshold === undefined ? {} : { batch: { threshold: batchThreshold } }),
    },
    buffer: { path: join(dir, 'buffer.db'), minFreeBytes: '64MiB' },
    api: {
      host: '127.0.0.1',
      port: 0,
      tokensFile,
      // The harness is one client posting for every lane of the store.
      rateLimit: { max: 1_000_000 },
    },
    pos: { enabled: true },
    log: { level: 'info' },
    devices: [],
  };
}

/** Starts gateways `startConcurrency` at a time until all run or the machine has no memory left. */
async function startGateways(
  all: FleetGateway[],
  o: FleetOptions,
  flags: string[],
  log: (s: string) => void,
): Promise<{ started: FleetGateway[]; notStarted: string[]; retried: string[] }> {
  const started: FleetGateway[] = [];
  const notStarted: string[] = [];
  const retried: string[] = [];
  let next = 0;
  let full = false;
  const worker = async () => {
    for (;;) {
      const gw = all[next++];
      if (!gw) return;
      if (full || freemem() < o.minFreeMemBytes) {
        if (!full) log(`free memory below ${Math.round(o.minFreeMemBytes / 2 ** 20)} MiB: no more gateways`);
        full = true;
        notStarted.push(`${gw.key}: not started, free memory below the reserve`);
        continue;
      }
      live.add({ kill: () => gw.killNow() });
      // A second attempt if the first dies early (e.g. dist/ being rebuilt under it by a parallel build).
      for (let attempt = 1; attempt <= 2; attempt++) {
        gw.start(flags);
        try {
          await gw.ready(120_000);
          started.push(gw);
          if (started.length % 10 === 0 || started.length === all.length)
            log(`${started.length}/${all.length} gateways running`);
          break;
        } catch (err) {
          await gw.stop(2000);
          if (attempt === 2) notStarted.push(`${gw.key}: ${(err as Error).message}`);
          else {
            retried.push(`${gw.key}: ${(err as Error).message.split('\n')[0]}`);
            log(`${gw.key} did not start (${(err as Error).message.split('\n')[0]}); one more attempt`);
          }
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.startConcurrency) }, worker));
  started.sort((a, b) => a.index - b.index);
  return { started, notStarted, retried };
}

/**
 * A fleet run: one Mosquitto, N gateway processes each fed by a simulated store (POS lanes posting
 * transactions to its local API), and central consumers in shared subscription groups. After the
 * stores stop and the buffers drain, it checks that every accepted event reached every group exactly
 * once after dedupe by id, with no seq gap per gateway, and reports rates, CPU and memory.
 */
export async function runFleet(options: Partial<FleetOptions> = {}): Promise<FleetResult> {
  const o: FleetOptions = { ...FLEET_DEFAULTS, ...options };
  const log = o.log ?? (() => {});
  const flags = o.nodeFlags ?? serviceNodeFlags();
  const root = mkdtempSync(join(tmpdir(), 'sg-fleet-'));
  const runId = randomUUID().slice(0, 8);
  const loadAvgStart = loadavg();
  let broker: FleetBroker | undefined;
  let central: Central | undefined;
  const gateways: FleetGateway[] = [];
  const brokerHandle = { kill: () => void broker?.stop() };
  live.add(brokerHandle);
  try {
    mkdirSync(join(root, 'broker'));
    broker = await FleetBroker.start({ dir: join(root, 'broker'), receiveMaximum: o.receiveMaximum });
    log(`broker ${broker.url} (pid ${broker.pid}); temp dir ${root}`);
    const groupNames = Array.from({ length: o.groups }, (_, i) => `central-${i + 1}`);
    central = await Central.start(broker.url, {
      groups: groupNames,
      consumersPerGroup: o.consumersPerGroup,
      runId,
    });

    const token = newToken();
    const tokensFile = join(root, 'api-tokens');
    writeFileSync(tokensFile, `${token} * pos\n`, { mode: 0o600 });
    chmodSync(tokensFile, 0o600);
    for (let i = 1; i <= o.gateways; i++) {
      const dir = join(root, `gw-${i}`);
      mkdirSync(dir);
      const storeId = String(1000 + i);
      const gatewayId = 'gw-1';
      const file = join(dir, 'config.yaml');
      const threshold = i <= (o.batchGateways ?? o.gateways) ? o.batchThreshold : undefined;
      writeFileSync(
        file,
        stringify(gatewayConfig(dir, broker.url, storeId, gatewayId, tokensFile, threshold)),
      );
      gateways.push(new FleetGateway(i, storeId, gatewayId, file, o.lanes));
    }

    const t0 = Date.now();
    const { started, notStarted, retried } = await startGateways(gateways, o, flags, log);
    const startSec = (Date.now() - t0) / 1000;
    log(`${started.length} of ${o.gateways} gateways running after ${startSec.toFixed(1)} s`);
    if (started.length === 0) throw new Error(`no gateway started: ${notStarted.slice(0, 3).join('; ')}`);

    // Measurement window: from the first transaction to the moment the last one reached every group.
    const countersStart = await central.freshCounters();
    const monitorStart = central.monitorMessages;
    const procStart = new Map<number, ProcSample | null>();
    const pids = [broker.pid, process.pid, ...started.map((g) => g.pid as number)];
    for (const pid of pids) procStart.set(pid, sampleProc(pid));
    const ledgers = new Map(started.map((g) => [g, new Ledger()]));
    const sourceStart = Date.now();
    const endAt = sourceStart + o.durationSec * 1000;
    const periodMs = (1000 * o.lanes) / o.ratePerGateway;
    const lanes: Promise<void>[] = [];
    for (const gw of started) {
      const ledger = ledgers.get(gw) as Ledger;
      const more =
        o.eventsPerGateway === undefined
          ? () => Date.now() < endAt
          : () => ledger.started < (o.eventsPerGateway as number);
      const until = o.eventsPerGateway === undefined ? endAt : Number.POSITIVE_INFINITY;
      for (let l = 1; l <= o.lanes; l++) lanes.push(runLane(gw, l, token, periodMs, ledger, more, until));
    }
    const progress = setInterval(() => {
      const acc = [...ledgers.values()].reduce((n, l) => n + l.accepted.size, 0);
      const got = central?.groups.map((g) => `${g.name} ${g.ids.size}`).join(', ');
      log(`accepted ${acc}; consumed ${got}`);
    }, 5000);
    await Promise.all(lanes);
    clearInterval(progress);
    const sourceEnd = Date.now();
    const sourceSec = (sourceEnd - sourceStart) / 1000;
    const accepted = new Map<string, { gw: FleetGateway; seq: number }>();
    for (const [gw, l] of ledgers) for (const [id, seq] of l.accepted) accepted.set(id, { gw, seq });
    log(`stores stopped after ${sourceSec.toFixed(1)} s: ${accepted.size} transactions accepted; draining`);

    // Drain: every accepted event in every group and every buffer empty.
    const groups = central.groups;
    const allIn = (g: GroupTally) => {
      for (const id of accepted.keys()) if (!g.ids.has(id)) return false;
      return true;
    };
    const drainDeadline = Date.now() + o.drainTimeoutSec * 1000;
    let drained = false;
    let lastBufferCheck = 0;
    let buffersEmpty = false;
    while (Date.now() < drainDeadline) {
      if (groups.every(allIn)) {
        if (Date.now() - lastBufferCheck > 1000) {
          lastBufferCheck = Date.now();
          const rows = await Promise.all(
            started.map(async (g) => {
              const r = await g.get('/readyz').catch(() => null);
              return r ? ((JSON.parse(r.body) as { buffer?: { rows?: number } }).buffer?.rows ?? -1) : -1;
            }),
          );
          buffersEmpty = rows.every((n) => n === 0);
        }
        if (buffersEmpty) {
          drained = true;
          break;
        }
      }
      await sleep(100);
    }
    const drainEnd = Math.max(sourceEnd, ...groups.map((g) => g.lastNewAt));
    const drainSec = (drainEnd - sourceEnd) / 1000;
    const procEnd = new Map<number, ProcSample | null>();
    for (const pid of pids) procEnd.set(pid, sampleProc(pid));
    const windowSec = (drainEnd - sourceStart) / 1000;
    // Fresh counters (also time for late redeliveries to show up as duplicates).
    const countersEnd: BrokerCounters = await central.freshCounters();
    const monitorEnd = central.monitorMessages;
    log(drained ? `drained in ${drainSec.toFixed(1)} s` : `not drained after ${o.drainTimeoutSec} s`);

    const statuses = await Promise.all(started.map((g) => g.status()));
    for (const gw of started) await gw.stop();
    const loadAvgEnd = loadavg();

    // Checks.
    const checks: Check[] = [];
    const check = (name: string, pass: boolean, detail: string) => checks.push({ name, pass, detail });
    check(
      'gateways started',
      started.length === o.gateways,
      `${started.length} of ${o.gateways}${notStarted.length ? `; ${notStarted.slice(0, 3).join('; ')}` : ''}`,
    );
    const idle = started.filter((g) => (ledgers.get(g) as Ledger).accepted.size === 0);
    check(
      'every store had transactions accepted',
      idle.length === 0 && accepted.size > 0,
      idle.length ? `none accepted by ${idle.map((g) => g.key).join(', ')}` : `${accepted.size} accepted`,
    );
    const refused = [...ledgers.values()].reduce((n, l) => n + l.refused, 0);
    const postErrors = [...ledgers.values()].reduce((n, l) => n + l.errors, 0);
    check(
      'no transaction refused or failed',
      refused === 0 && postErrors === 0,
      `${refused} refused, ${postErrors} failed${
        refused + postErrors
          ? `: ${[...ledgers.values()]
              .flatMap((l) => l.problems)
              .slice(0, 3)
              .join('; ')}`
          : ''
      }`,
    );
    check('drained', drained, drained ? `${drainSec.toFixed(1)} s after the stores stopped` : 'timed out');
    const acceptedBy = new Map([...accepted].map(([id, a]) => [id, { gateway: a.gw.key, seq: a.seq }]));
    const lastSeq = new Map(
      started.map((gw, i) => [
        gw.key,
        Number((statuses[i]?.buffer as { lastSeq?: number } | null)?.lastSeq ?? 0),
      ]),
    );
    for (const g of groups) checks.push(...groupChecks(g, acceptedBy, lastSeq, o.consumersPerGroup));
    if (groups.length > 1) checks.push(sameEventsCheck(groups));
    const unclean = started.filter((g) => g.exitCode !== 0);
    check(
      'gateways stopped cleanly on SIGTERM',
      unclean.length === 0,
      unclean.length
        ? unclean
            .slice(0, 3)
            .map((g) => `${g.key}: code ${g.exitCode} signal ${g.exitSignal}`)
            .join('; ')
        : `${started.length} exited 0`,
    );

    // Figures.
    const perGw = started.map((g) => (ledgers.get(g) as Ledger).accepted.size / sourceSec);
    const gwCpu = started.map((g) =>
      cpuShare(procStart.get(g.pid as number) ?? null, procEnd.get(g.pid as number) ?? null, windowSec),
    );
    const gwEnd = started.map((g) => procEnd.get(g.pid as number));
    const bStart = procStart.get(broker.pid) ?? null;
    const bEnd = procEnd.get(broker.pid) ?? null;
    const series = central.receivedSeries.filter(
      (p) => p.at >= sourceStart - 1000 && p.at <= drainEnd + 1500,
    );
    let peak = 0;
    for (let i = 1; i < series.length; i++) {
      const a = series[i - 1] as { at: number; value: number };
      const b = series[i] as { at: number; value: number };
      if (b.at - a.at >= 500) peak = Math.max(peak, ((b.value - a.value) * 1000) / (b.at - a.at));
    }
    const sum = (k: 'batches' | 'batchedEvents' | 'reconnects') =>
      statuses.reduce((n, s) => n + Number((s?.uplink as Record<string, number> | null)?.[k] ?? 0), 0);
    const result: FleetResult = {
      pass: checks.every((c) => c.pass),
      checks,
      requested: o.gateways,
      started: started.length,
      notStarted,
      retried,
      nodeFlags: flags,
      source:
        `${o.lanes} simulated POS lanes per store posting retail.pos.transaction.v1 to POST /v1/pos/transactions ` +
        `(${o.ratePerGateway} transactions/s per store offered${o.eventsPerGateway ? `, ${o.eventsPerGateway} per store` : ''}; ` +
        'each lane waits for its answer)',
      machine: { cores: cpus().length, totalMemBytes: totalmem(), loadAvgStart, loadAvgEnd },
      startSec,
      sourceSec,
      drainSec,
      accepted: accepted.size,
      refused,
      postErrors,
      acceptedPerSec: accepted.size / sourceSec,
      perGatewayPerSec: stats(perGw),
      postLatencyMs: percentiles([...ledgers.values()].flatMap((l) => l.latencies)),
      broker: {
        publishInPerSec: (countersEnd.publishReceived - countersStart.publishReceived) / windowSec,
        publishOutPerSec:
          (countersEnd.publishSent - countersStart.publishSent - (monitorEnd - monitorStart)) / windowSec,
        peakPublishInPerSec: peak,
        bytesInPerSec: (countersEnd.bytesReceived - countersStart.bytesReceived) / windowSec,
        bytesOutPerSec: (countersEnd.bytesSent - countersStart.bytesSent) / windowSec,
        clients: countersEnd.clientsConnected,
        cpu: cpuShare(bStart, bEnd, windowSec),
        rssBytes: bEnd?.rssBytes ?? 0,
        peakRssBytes: bEnd?.peakRssBytes ?? 0,
      },
      gateways: {
        cpuTotal: gwCpu.reduce((a, b) => a + b, 0),
        cpu: stats(gwCpu),
        rssBytes: stats(gwEnd.map((s) => s?.rssBytes ?? 0)),
        peakRssBytes: stats(gwEnd.map((s) => s?.peakRssBytes ?? 0)),
        batches: sum('batches'),
        batchedEvents: sum('batchedEvents'),
        reconnects: sum('reconnects'),
        window: Number((statuses[0]?.uplink as { window?: number } | null)?.window ?? 0),
        warnings: started.reduce((n, g) => n + g.warningCount, 0),
        warningSamples: started.flatMap((g) => g.warnings.map((w) => `${g.key}: ${w}`)).slice(0, 5),
      },
      harness: {
        cpu: cpuShare(procStart.get(process.pid) ?? null, procEnd.get(process.pid) ?? null, windowSec),
        peakRssBytes: procEnd.get(process.pid)?.peakRssBytes ?? 0,
      },
      groups: groups.map((g) => ({
        name: g.name,
        unique: g.ids.size,
        deliveries: g.deliveries,
        duplicates: g.duplicates,
        messages: g.messages,
        batches: g.batches,
        invalid: g.invalid,
        perConsumer: Object.fromEntries(g.perConsumer),
        problems: g.problems,
      })),
    };
    return result;
  } finally {
    await Promise.allSettled(gateways.map((g) => g.stop(5000)));
    await central?.stop();
    await broker?.stop();
    live.clear();
    if (!o.keep) rmSync(root, { recursive: true, force: true });
  }
}
