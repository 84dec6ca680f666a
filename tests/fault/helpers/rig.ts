import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DEMO_GTIN_PRODUCTS } from '../../../simulators/personalization.js';
import { SimulatedPosLane } from '../../../simulators/pos-lane.js';
import { SimulatedSerialScanner } from '../../../simulators/serial-scanner.js';
import type { Received } from '../../../src/consumer/consumer.js';
import { sleep } from '../../../src/util/sleep.js';
import { Collector } from '../../helpers/collector.js';
import { configPath, testConfig, writeConfig } from '../../helpers/config.js';
import { GatewayProcess } from '../../helpers/gateway-process.js';
import { Mosquitto } from '../../helpers/mosquitto.js';
import { freePort } from '../../helpers/ports.js';
import { tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { FastTypist, type FastTypistOptions } from './typist.js';

export const SCAN = 'retail.scan.v1';
export const POS = 'retail.pos.transaction.v1';

export interface RigOptions {
  /** MQTT protocol of the gateway and the collector (default 5). */
  protocolVersion?: 4 | 5;
  /** `mqtt.inflightWindow` of the gateway (default: the config's default). */
  window?: number;
  /** A serial scanner on a real PTY, device id `lane-1` (default true). */
  scanner?: boolean;
  /** `POST /v1/pos/transactions` switched on, with a token for every lane (default false). */
  pos?: boolean;
  /** Extra Mosquitto config lines. */
  brokerConfig?: string;
  /**
   * The MQTT URL the gateway is given (default: the broker's): e.g. a TCP proxy in front of it.
   * The collector always talks to the broker directly.
   */
  gatewayMqttUrl?: (broker: Mosquitto) => string | Promise<string>;
  /** Deep-merged over the gateway's config. */
  config?: Record<string, unknown>;
}

/** What central received, checked against what the gateway accepted. */
export interface Delivery {
  /** The buffer's last committed seq: seqs 1..lastSeq are the accepted events. */
  lastSeq: number;
  /** Accepted seqs central never received (empty when nothing was lost). */
  lostSeqs: number[];
  /** POS transactions that got a 2xx whose event id central never received. */
  lostPos: string[];
  /** Distinct events central has. */
  unique: number;
  /** Redeliveries (same id) central dropped. */
  duplicates: number;
  /**
   * Copies of one seq that differ from its first copy (must be 0: a redelivery of a buffered row is
   * byte-identical, same id included).
   */
  divergentDuplicates: number;
  /**
   * Events committed again under an id central already had, with a new seq: a POS transaction whose
   * commit was not yet recorded as answered when the gateway died is re-sent with its first id.
   */
  reissued: number;
  /** Events with schema problems. */
  invalid: number;
}

/**
 * One store on a bench, for fault tests: a real Mosquitto, the built gateway CLI in a child process
 * (so it can be SIGKILLed), a scanner on a real PTY, a POS lane posting to the local API, and a
 * central collector (persistent MQTT session on the broker). Everything lives in one temp dir;
 * `dispose()` removes it all.
 *
 * The local API listens on a fixed free port, so lanes keep one URL across gateway restarts.
 */
export class Rig {
  /** The running (or last) gateway process; `undefined` before the first start. */
  gateway: GatewayProcess | undefined;
  scanner: SimulatedSerialScanner | undefined;
  /** Every gateway process started, in order. */
  readonly incarnations: GatewayProcess[] = [];
  readonly bufferPath: string;
  readonly configFile: string;
  readonly apiUrl: string;
  /** Bearer token allowed to post for every lane. */
  readonly posToken = randomBytes(32).toString('hex');
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private configObject: Record<string, unknown>;

  private constructor(
    readonly broker: Mosquitto,
    readonly collector: Collector,
    readonly dir: string,
    apiPort: number,
    config: Record<string, unknown>,
  ) {
    this.bufferPath = join(dir, 'buffer.db');
    this.configFile = configPath(dir);
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    this.configObject = config;
  }

  static async start(opts: RigOptions = {}): Promise<Rig> {
    const cleanups: (() => Promise<void> | void)[] = [];
    try {
      const broker = await Mosquitto.start({ extraConfig: opts.brokerConfig });
      cleanups.push(() => broker.dispose());
      const dir = tmpDir('sg-fault-');
      cleanups.push(() => dir.cleanup());
      const collector = await Collector.start(broker.url, { protocolVersion: opts.protocolVersion ?? 5 });
      cleanups.push(() => collector.stop());
      const apiPort = await freePort();
      const mqttUrl = opts.gatewayMqttUrl ? await opts.gatewayMqttUrl(broker) : broker.url;
      const tokensFile = join(dir.path, 'api-tokens');
      const extra: Record<string, unknown> = { api: { port: apiPort } };
      if (opts.window !== undefined) extra.mqtt = { inflightWindow: opts.window };
      if (opts.pos) {
        (extra.api as Record<string, unknown>).tokensFile = tokensFile;
        extra.pos = { enabled: true };
      }
      const rig = new Rig(broker, collector, dir.path, apiPort, {});
      rig.cleanups.push(...cleanups.splice(0));
      writeFileSync(tokensFile, `${rig.posToken} * pos\n`, { mode: 0o600 });
      let devices: Record<string, unknown>[] = [];
      if (opts.scanner ?? true) {
        const scanner = new SimulatedSerialScanner({
          linkPath: join(dir.path, 'scanner'),
          framing: { suffix: '\r\n' },
        });
        await scanner.plug();
        rig.scanner = scanner;
        rig.cleanups.push(() => scanner.unplug());
        devices = [
          {
            id: 'lane-1',
            kind: 'serial-scanner',
            path: scanner.options.linkPath,
            reopen: { minMs: 50, maxMs: 200 },
          },
        ];
      }
      rig.configObject = testConfig({
        dir: dir.path,
        mqttUrl,
        protocolVersion: opts.protocolVersion ?? 5,
        devices,
        extra: mergeDeep(extra, opts.config ?? {}),
      });
      writeConfig(rig.configFile, rig.configObject);
      rig.cleanups.push(() => rig.gateway?.kill('SIGKILL').then(() => undefined));
      return rig;
    } catch (err) {
      for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
      throw err;
    }
  }

  /** The gateway's config as written to `configFile`. */
  get config(): Record<string, unknown> {
    return this.configObject;
  }

  /** Deep-merges `patch` into the config file; takes effect at the next gateway start. */
  patchConfig(patch: Record<string, unknown>): void {
    this.configObject = mergeDeep(this.configObject, patch);
    writeConfig(this.configFile, this.configObject);
  }

  /** Spawns a gateway process (does not wait for it). */
  spawn(env?: NodeJS.ProcessEnv): GatewayProcess {
    const gw = GatewayProcess.run(this.configFile, env);
    this.gateway = gw;
    this.incarnations.push(gw);
    return gw;
  }

  /** Spawns a gateway and waits for /readyz; resolves with the ms from spawn to ready. */
  async startGateway(timeoutMs = 30_000): Promise<number> {
    const t = performance.now();
    const gw = this.spawn();
    await waitFor(
      async () => {
        if (!gw.alive) throw new Error(`gateway exited early: ${gw.stderr}\n${gw.tail()}`);
        const res = await fetch(`${this.apiUrl}/readyz`).catch(() => null);
        return res?.status === 200;
      },
      'gateway ready',
      timeoutMs,
      10,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message} (incarnation ${this.incarnations.length}): ${gw.stderr}\n${gw.tail(30)}`,
      );
    });
    return performance.now() - t;
  }

  /** Kills the current gateway (SIGKILL by default) and waits for it to exit. */
  async killGateway(signal: NodeJS.Signals = 'SIGKILL') {
    return this.gateway ? this.gateway.kill(signal) : { code: null, signal: null };
  }

  /** A FastTypist on the rig's scanner (started; stopped by `dispose()`). */
  typist(o: Omit<FastTypistOptions, 'scanner'>): FastTypist {
    if (!this.scanner) throw new Error('the rig has no scanner');
    const t = new FastTypist({ scanner: this.scanner, ...o }).start();
    this.cleanups.push(() => t.stop().then(() => undefined));
    return t;
  }

  /** A POS lane posting to the rig's API (needs `pos: true`); stopped by `dispose()`. */
  posLane(workstationId = 'pos-1'): PosPoster {
    const p = new PosPoster(
      this.apiUrl,
      this.posToken,
      String((this.config.store as { id: string }).id),
      workstationId,
    );
    this.cleanups.push(() => p.stop());
    return p;
  }

  /** The buffer's last committed seq, read from the file (use while the gateway is stopped or killed). */
  lastCommittedSeq(): number {
    if (!existsSync(this.bufferPath)) return 0;
    const db = new Database(this.bufferPath, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'last_seq'").get() as
        | { value: number }
        | undefined;
      return Number(row?.value ?? 0);
    } finally {
      db.close();
    }
  }

  /** SQLite's `PRAGMA quick_check` on the buffer file ('ok' when sound). */
  quickCheck(): string {
    const db = new Database(this.bufferPath, { fileMustExist: true });
    try {
      const rows = db.pragma('quick_check') as { quick_check: string }[];
      return rows.map((r) => r.quick_check).join('; ');
    } finally {
      db.close();
    }
  }

  /** Rows still in the buffer, per the running gateway's status. */
  async bufferRows(): Promise<number | undefined> {
    const res = await fetch(`${this.apiUrl}/v1/status`).catch(() => null);
    if (!res?.ok) return undefined;
    const s = (await res.json()) as { buffer?: { rows?: number } | null };
    return s.buffer?.rows;
  }

  /** Waits until the running gateway reports an empty buffer. */
  async waitDrained(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await this.bufferRows()) === 0, 'the buffer to drain', timeoutMs, 50);
  }

  /**
   * Seqs central has received (duplicates included: an event re-accepted under its old id after a
   * crash, such as a POS transaction whose answer was lost, is a duplicate by id with a new seq).
   */
  seenSeqs(): Set<number> {
    const seen = new Set<number>();
    for (const r of this.collector.received) if (r.event) seen.add(r.event.seq as number);
    return seen;
  }

  /**
   * Waits until central has every seq up to `lastSeq` (default: the buffer's, read from the file,
   * so the gateway should be stopped) and every POS event id in `posIds`, then reports.
   */
  async delivery(
    opts: { lastSeq?: number; posIds?: Iterable<string>; timeoutMs?: number } = {},
  ): Promise<Delivery> {
    const lastSeq = opts.lastSeq ?? this.lastCommittedSeq();
    const posIds = [...(opts.posIds ?? [])];
    const ids = () => new Set(this.collector.unique().map((r) => r.event?.id as string));
    await waitFor(
      () => {
        const seen = this.seenSeqs();
        for (let s = 1; s <= lastSeq; s++) if (!seen.has(s)) return false;
        const got = ids();
        return posIds.every((id) => got.has(id));
      },
      `all ${lastSeq} accepted events at central`,
      opts.timeoutMs ?? 60_000,
      100,
    ).catch(() => undefined);
    const seen = this.seenSeqs();
    const lostSeqs: number[] = [];
    for (let s = 1; s <= lastSeq; s++) if (!seen.has(s)) lostSeqs.push(s);
    const got = ids();
    const bySeq = new Map<number, string>();
    const seqOfId = new Map<string, number>();
    let divergent = 0;
    let reissued = 0;
    for (const r of this.collector.received) {
      if (!r.event) continue;
      const seq = r.event.seq as number;
      const text = JSON.stringify(r.event);
      const prev = bySeq.get(seq);
      if (prev === undefined) bySeq.set(seq, text);
      else if (prev !== text) divergent++;
      const idSeq = seqOfId.get(r.event.id);
      if (idSeq === undefined) seqOfId.set(r.event.id, seq);
      else if (idSeq !== seq && prev === undefined) reissued++;
    }
    return {
      lastSeq,
      lostSeqs,
      lostPos: posIds.filter((id) => !got.has(id)),
      unique: this.collector.unique().length,
      duplicates: this.collector.received.filter((r) => r.duplicate).length,
      divergentDuplicates: divergent,
      reissued,
      invalid: this.collector.received.filter((r) => r.issues.length > 0).length,
    };
  }

  /** Everything central received so far (duplicates included), in arrival order. */
  get received(): Received[] {
    return this.collector.received;
  }

  /** Kills the gateway, stops typists and lanes, the collector and the broker; removes the temp dir. */
  async dispose(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  }
}

export interface PosOutcome {
  sequenceNumber: number;
  status: number;
  eventId: string;
  seq: number;
  replayed: boolean;
}

/**
 * A POS lane that posts transactions one after another, as fast as the gateway answers, and (as a
 * real lane must) retries each with the same Idempotency-Key until it gets an answer other than
 * 503 or a lost connection, so it rides through gateway restarts. `accepted` holds every 2xx.
 */
export class PosPoster {
  readonly accepted: PosOutcome[] = [];
  /** Non-2xx final answers (must stay empty in a sound run). */
  readonly refused: { sequenceNumber: number; status: number; body: string }[] = [];
  /** Attempts that failed with a lost connection or 503 and were retried. */
  retries = 0;
  private readonly lane: SimulatedPosLane;
  private readonly abort = new AbortController();
  private run: Promise<void> | undefined;

  constructor(apiUrl: string, token: string, storeId: string, workstationId: string) {
    this.lane = new SimulatedPosLane({ apiUrl, token, storeId, workstationId });
  }

  /** Posts `count` transactions (unbounded when omitted, until `stop()`), `gapMs` apart. */
  start(opts: { count?: number; gapMs?: number } = {}): this {
    this.run ??= this.loop(opts.count, opts.gapMs ?? 0);
    return this;
  }

  private async loop(count: number | undefined, gapMs: number): Promise<void> {
    const signal = this.abort.signal;
    for (let i = 0; !signal.aborted && (count === undefined || i < count); i++) {
      const tx = this.lane.buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 1 + (i % 3)), undefined, []);
      const key = randomUUID();
      for (;;) {
        const res = await fetch(`${this.lane.options.apiUrl}/v1/pos/transactions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.lane.options.token}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify(tx),
          signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]),
        }).catch(() => null);
        const body = res ? await res.text().catch(() => null) : null;
        if (res && body !== null && res.status !== 503) {
          if (res.status >= 200 && res.status < 300) {
            const a = JSON.parse(body) as { eventId: string; seq: number };
            this.accepted.push({
              sequenceNumber: tx.sequenceNumber,
              status: res.status,
              eventId: a.eventId,
              seq: a.seq,
              replayed: res.headers.get('idempotent-replayed') === 'true',
            });
          } else {
            this.refused.push({ sequenceNumber: tx.sequenceNumber, status: res.status, body });
          }
          break;
        }
        this.retries++;
        // A stopping lane gives up on a transaction that got no answer: it was never accepted.
        if (signal.aborted || !(await sleep(20, signal))) return;
      }
      if (gapMs > 0 && !(await sleep(gapMs, signal))) return;
    }
  }

  /** Resolves once the lane has stopped (after the post in progress gets its answer or fails). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.run;
  }

  done(): Promise<void> {
    return this.run ?? Promise.resolve();
  }
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? mergeDeep(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Splits whole MQTT control packets off `buf`: [first byte, body] each, and what is left over. */
function mqttPackets(buf: Buffer): { packets: [number, Buffer][]; rest: Buffer } {
  const packets: [number, Buffer][] = [];
  let at = 0;
  for (;;) {
    let len = 0;
    let mul = 1;
    let i = at + 1;
    let complete = false;
    for (; i < buf.length && i <= at + 4; i++) {
      const b = buf[i] as number;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete || buf.length < i + 1 + len) break;
    packets.push([buf[at] as number, buf.subarray(i + 1, i + 1 + len)]);
    at = i + 1 + len;
  }
  return { packets, rest: buf.subarray(at) };
}

function readVarint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = at; i < buf.length; i++) {
    const b = buf[i] as number;
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [value, i + 1];
  }
  return [value, buf.length];
}

/**
 * A TCP proxy between the gateway and the broker (MQTT 5) that reads the packets both ways: which
 * seqs each QoS 1 PUBLISH carried (single events and batches), and which of them the broker
 * acknowledged with a successful PUBACK. It can also hold back everything the broker sends (the
 * PUBACKs among it) while the gateway's publishes still go through.
 */
export class MqttProxy {
  /** While true, broker → gateway bytes are kept, not forwarded (for the current connections). */
  holding = false;
  /** PUBACKs kept since `hold()`. */
  heldPubacks = 0;
  /** Event seqs the broker acknowledged (PUBACK reason < 0x80), over all connections. */
  readonly ackedSeqs = new Set<number>();
  /** Events the broker acknowledged with reason 0x10, no matching subscribers (nobody got them). */
  noSubscribers = 0;
  /** Event PUBLISH packets forwarded to the broker, over all connections. */
  publishes = 0;
  /** Seqs of every event PUBLISH forwarded. */
  readonly publishedSeqs = new Set<number>();
  /**
   * Per connection, in order: event publishes, and those of them (and their events) that repeated a
   * seq an earlier publish had carried.
   */
  readonly connections: { publishes: number; resentMessages: number; resentEvents: number }[] = [];
  /** Called after each event PUBLISH is forwarded, with the count on its connection. */
  onPublish: ((onConnection: number) => void) | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(brokerPort: number): Promise<MqttProxy> {
    let proxy: MqttProxy | undefined;
    const server = createServer((down) => proxy?.pipe(down, brokerPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new MqttProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  hold(): void {
    this.heldPubacks = 0;
    this.holding = true;
  }

  /** Forwards normally again; what was held is dropped with its connection. */
  release(): void {
    this.holding = false;
  }

  private pipe(down: Socket, brokerPort: number): void {
    const up = tcpConnect(brokerPort, '127.0.0.1');
    this.sockets.add(down).add(up);
    /** Packet id → seqs of the publish in flight with it, on this connection. */
    const inflight = new Map<number, number[]>();
    const stats = { publishes: 0, resentMessages: 0, resentEvents: 0 };
    this.connections.push(stats);
    let fromGateway: Buffer = Buffer.alloc(0);
    let fromBroker: Buffer = Buffer.alloc(0);
    down.on('data', (d: Buffer) => {
      up.write(d);
      const { packets, rest } = mqttPackets(Buffer.concat([fromGateway, d]));
      fromGateway = rest;
      for (const [first, body] of packets) {
        if (first >> 4 !== 3 || ((first >> 1) & 3) === 0) continue;
        const topicLen = body.readUInt16BE(0);
        const topic = body.toString('utf8', 2, 2 + topicLen);
        if (!topic.includes('/events/')) continue;
        const id = body.readUInt16BE(2 + topicLen);
        const [propsLen, propsAt] = readVarint(body, 4 + topicLen);
        const payload = JSON.parse(body.toString('utf8', propsAt + propsLen)) as
          | { seq: number }
          | { seq: number }[];
        const seqs = (Array.isArray(payload) ? payload : [payload]).map((e) => e.seq);
        inflight.set(id, seqs);
        const resent = seqs.filter((q) => this.publishedSeqs.has(q)).length;
        for (const q of seqs) this.publishedSeqs.add(q);
        if (resent > 0) stats.resentMessages++;
        stats.resentEvents += resent;
        this.publishes++;
        stats.publishes++;
        this.onPublish?.(stats.publishes);
      }
    });
    up.on('data', (d: Buffer) => {
      const { packets, rest } = mqttPackets(Buffer.concat([fromBroker, d]));
      fromBroker = rest;
      if (this.holding) {
        this.heldPubacks += packets.filter(([first]) => first >> 4 === 4).length;
        return;
      }
      // Forward whole packets only, so a later hold never splits one.
      for (const [first, body] of packets) {
        if (first >> 4 === 4) {
          const id = body.readUInt16BE(0);
          const reason = body.length > 2 ? (body[2] as number) : 0;
          const seqs = inflight.get(id);
          inflight.delete(id);
          if (seqs && reason < 0x80) for (const s of seqs) this.ackedSeqs.add(s);
          if (seqs && reason === 0x10) this.noSubscribers += seqs.length;
        }
      }
      if (packets.length > 0) down.write(Buffer.concat(packets.map(([f, b]) => frame(f, b))));
    });
    const close = () => {
      down.destroy();
      up.destroy();
      this.sockets.delete(down);
      this.sockets.delete(up);
    };
    down.on('close', close).on('error', close);
    up.on('close', close).on('error', close);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** An MQTT packet's bytes again from its first byte and body. */
function frame(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}
