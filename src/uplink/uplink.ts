import { EventEmitter } from 'node:events';
import {
  type IClientOptions,
  type IClientPublishOptions,
  type IPublishPacket,
  type MqttClient,
  connect as mqttConnect,
} from 'mqtt';
import type { Outbox, OutboxRow } from '../buffer/outbox.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { EventClass } from '../events/catalog.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { sleep } from '../util/sleep.js';
import { Backoff } from './backoff.js';
import { NullStore } from './null-store.js';
import { CLOUDEVENT_CONTENT_TYPE, Topics } from './topics.js';

export interface UplinkOptions {
  mqtt: Config['mqtt'];
  storeId: string;
  gatewayId: string;
  bootId: string;
  version: string;
  /** Broker password, read from `mqtt.passwordFile` by the caller; never part of the config. */
  password?: string;
}

export interface UplinkDeps {
  outbox: Outbox;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Devices listed in the birth message. */
  devices: () => { id: string; kind: string }[];
  random?: () => number;
}

export interface UplinkStatus {
  connected: boolean;
  broker: string;
  protocolVersion: number;
  inflight: number;
  window: number;
  birth: number;
  connectedSince: string | null;
  lastError: string | null;
  reconnects: number;
  nextRetryInMs: number | null;
}

/** PUBACK reason codes that will never succeed on retry: the row goes to dead_letter. */
const PERMANENT_REASONS = new Map<number, string>([
  [0x87, 'not-authorized'],
  [0x90, 'topic-name-invalid'],
  [0x99, 'payload-format-invalid'],
]);

const POISON_LOSSES = 10;
const READ_BATCH = 500;

/**
 * Forwards the outbox to the broker: QoS 1, at most `window` messages awaiting PUBACK, in seq order.
 *
 * One MQTT client per connection: when a connection ends, every unacknowledged message is rewound
 * into the outbox cursor and resent on the next connection at full window, never waiting on mqtt.js's
 * one-at-a-time store replay. Rows are deleted in ranges only after their PUBACK, and a row keeps
 * its window slot until its delete is committed: whatever a crash makes us send twice (published
 * but not acknowledged, or acknowledged but not yet deleted) is at most one window.
 * Connection attempts back off exponentially with full jitter.
 */
export class Uplink extends EventEmitter<{
  connected: [];
  disconnected: [reason: string];
  /** A message on a subscribed topic (the downlink). */
  message: [topic: string, payload: Buffer, packet: IPublishPacket];
}> {
  readonly topics: Topics;
  private client: MqttClient | undefined;
  private gen = 0;
  private connected = false;
  private stopping = false;
  private window: number;
  private cursor = 0;
  /** seqs published on the current connection, in publish order; [head, length) await PUBACK. */
  private queue: number[] = [];
  private head = 0;
  private readonly ackedEarly = new Set<number>();
  /** Acknowledged, in publish order, not yet handed to the outbox for deletion. */
  private openRange: [number, number] | null = null;
  private rangeRows = 0;
  private handOverScheduled = false;
  /** Handed to the outbox, deleted at its next commit. */
  private deleting = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private nextRetryAt: number | null = null;
  private readonly backoff: Backoff;
  private birth = 0;
  private connectedSince: number | null = null;
  private lastError: string | null = null;
  private reconnects = 0;
  private drained: (() => void) | undefined;
  private readonly publishOptions: IClientPublishOptions;
  private refill: number;
  private deleteChunk: number;
  /** After a connection died with messages unacknowledged, the next one sends only the oldest first. */
  private probe = false;
  /** Consecutive connections lost while the probe message was the only one outstanding. */
  private probeLosses = 0;
  /** Downlink topic filters, subscribed again on every connection. */
  private readonly subscriptions = new Map<string, 0 | 1>();

  constructor(
    private readonly opts: UplinkOptions,
    private readonly deps: UplinkDeps,
  ) {
    super();
    this.topics = new Topics(opts.storeId, opts.gatewayId);
    this.window = opts.mqtt.inflightWindow;
    this.refill = Math.max(1, Math.min(64, Math.floor(this.window / 4)));
    this.deleteChunk = this.chunkFor(this.window);
    this.backoff = new Backoff(opts.mqtt.reconnect.minMs, opts.mqtt.reconnect.maxMs, deps.random);
    this.publishOptions =
      opts.mqtt.protocolVersion === 5
        ? { qos: 1, properties: { contentType: CLOUDEVENT_CONTENT_TYPE } }
        : { qos: 1 };
    deps.outbox.on('committed', (rows) => this.onCommitted(rows));
  }

  start(): void {
    this.stopping = false;
    this.connect();
  }

  private clientOptions(): IClientOptions {
    const m = this.opts.mqtt;
    const offline = this.statePayload('offline', 'connection-lost');
    return {
      protocolVersion: m.protocolVersion,
      clientId: m.clientId ?? `sg-${this.opts.storeId}-${this.opts.gatewayId}`,
      clean: false,
      keepalive: m.keepaliveSec,
      connectTimeout: m.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      // mqtt.js formats a debug line per packet unless given a logger; ours logs what matters.
      log: () => {},
      outgoingStore: new NullStore(),
      username: m.username,
      password: this.opts.password,
      will: { topic: this.topics.state, payload: Buffer.from(offline), qos: 1, retain: true },
      ...(m.protocolVersion === 5 ? { properties: { sessionExpiryInterval: m.sessionExpirySec } } : {}),
    };
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    this.nextRetryAt = null;
    if (this.stopping) return;
    const gen = ++this.gen;
    this.birth = this.deps.outbox.bump('births');
    const client = mqttConnect(this.opts.mqtt.url, this.clientOptions());
    this.client = client;
    client.on('connect', (connack) => {
      if (gen === this.gen) this.onConnect(client, connack.properties?.receiveMaximum);
    });
    client.on('close', () => {
      if (gen === this.gen) this.onClose(client);
    });
    client.on('message', (topic, payload, packet) => {
      if (gen === this.gen) this.emit('message', topic, payload, packet);
    });
    client.on('error', (err) => {
      if (gen !== this.gen) return;
      this.lastError = err.message;
      this.deps.log.warn(
        { err: { message: err.message, code: (err as { code?: unknown }).code } },
        'mqtt error',
      );
    });
  }

  private onConnect(client: MqttClient, receiveMaximum: number | undefined): void {
    this.connected = true;
    this.connectedSince = this.deps.clock.now();
    this.lastError = null;
    this.backoff.reset();
    // Keep one slot of the broker's Receive Maximum for the state message.
    const brokerMax = receiveMaximum === undefined ? 65535 : Math.max(1, receiveMaximum - 1);
    this.window = Math.min(this.opts.mqtt.inflightWindow, brokerMax);
    this.refill = Math.max(1, Math.min(64, Math.floor(this.window / 4)));
    this.deleteChunk = this.chunkFor(this.window);
    this.deps.metrics.connected.set(1);
    this.deps.log.info(
      { broker: this.brokerUrl, window: this.window, birth: this.birth, resumeAfterSeq: this.cursor },
      'connected to broker',
    );
    client.publish(this.topics.state, this.statePayload('online'), { qos: 1, retain: true }, (err) => {
      if (err) this.deps.log.warn({ err }, 'birth message not acknowledged');
    });
    if (this.subscriptions.size > 0) {
      const filters = Object.fromEntries([...this.subscriptions].map(([f, qos]) => [f, { qos }]));
      client.subscribe(filters, (err) => {
        if (err) this.deps.log.error({ err }, 'downlink subscription failed');
      });
    }
    this.emit('connected');
    this.pump();
  }

  private onClose(client: MqttClient): void {
    this.gen++;
    const wasConnected = this.connected;
    this.connected = false;
    this.connectedSince = null;
    this.deps.metrics.connected.set(0);
    this.flushDeletes();
    const unacked = this.queue.length - this.head;
    if (unacked > 0) {
      const oldest = this.queue[this.head] as number;
      this.cursor = oldest - 1;
      this.onUnackedLoss(oldest, wasConnected);
    }
    this.queue = [];
    this.head = 0;
    this.ackedEarly.clear();
    this.deps.metrics.inflight.set(0);
    client.removeAllListeners();
    client.on('error', () => {});
    client.end(true);
    if (wasConnected) {
      this.reconnects++;
      this.deps.metrics.reconnects.inc();
      this.deps.log.warn({ unacked, resumeAfterSeq: this.cursor }, 'broker connection lost');
      this.emit('disconnected', this.lastError ?? 'connection closed');
    }
    this.drained?.();
    if (this.stopping) return;
    const delay = this.backoff.next();
    this.nextRetryAt = this.deps.clock.now() + delay;
    this.deps.log.debug({ delay }, 'reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private chunkFor(window: number): number {
    return Math.max(1, Math.min(256, Math.floor(window / 4)));
  }

  /** Window slots taken: awaiting PUBACK, or acknowledged with the delete not yet committed. */
  private occupied(): number {
    return this.queue.length - this.head + this.rangeRows + this.deleting;
  }

  /**
   * A connection died with `oldest` unacknowledged. Some brokers (Mosquitto 2.0 among them) close
   * the connection on a publish they refuse, and with a full window the PUBACK saying so is lost
   * in the reset: resending the whole window would loop forever. So the next connection sends the
   * oldest message alone and opens the window once it is acknowledged. A message that alone kills
   * the connection POISON_LOSSES times in a row is moved to dead_letter, so it cannot block the
   * store's feed; it stays in the buffer file for store IT.
   */
  private onUnackedLoss(oldest: number, wasConnected: boolean): void {
    if (this.probe && wasConnected) this.probeLosses++;
    this.probe = true;
    if (this.probeLosses < POISON_LOSSES) return;
    this.probeLosses = 0;
    const row = this.deps.outbox.read(oldest - 1, 1)[0];
    if (row?.[0] !== oldest) return;
    this.deps.outbox.deadLetter(oldest, 'connection-closed');
    this.cursor = oldest;
    this.deps.metrics.rejected.inc({ class: row[1], reason: 'connection-closed' });
    this.deps.log.error(
      { seq: oldest, losses: POISON_LOSSES },
      'the broker drops the connection on this message; moved to dead_letter',
    );
    this.deps.outbox.raise(
      'message-rejected',
      'warning',
      `the broker closed the connection ${POISON_LOSSES} times on event seq ${oldest}`,
      { seq: oldest, reason: 'connection-closed' },
    );
  }

  /**
   * Fresh rows: when the uplink is caught up they are published straight from memory (no read
   * back from SQLite); whatever does not fit the window is read later, in order, by `pump`.
   */
  private onCommitted(rows: readonly OutboxRow[]): void {
    const client = this.client;
    const first = rows[0];
    if (!first || !this.connected || this.stopping || this.probe || !client || first[0] !== this.cursor + 1) {
      this.pump();
      return;
    }
    const room = this.window - this.occupied();
    const n = Math.min(room, rows.length);
    for (let i = 0; i < n; i++) this.publish(client, rows[i] as OutboxRow);
    this.deps.metrics.inflight.set(this.queue.length - this.head);
  }

  /** Publishes rows after the cursor while the window has room. */
  private pump(): void {
    const client = this.client;
    if (!this.connected || this.stopping || !client) return;
    let room = (this.probe ? 1 : this.window) - this.occupied();
    while (room > 0) {
      const limit = Math.min(room, READ_BATCH);
      const rows = this.deps.outbox.read(this.cursor, limit);
      for (const row of rows) this.publish(client, row);
      room -= rows.length;
      if (rows.length < limit) break;
    }
    this.deps.metrics.inflight.set(this.queue.length - this.head);
  }

  private publish(client: MqttClient, row: OutboxRow): void {
    const [seq, cls, device, payload] = row;
    const gen = this.gen;
    this.cursor = seq;
    this.queue.push(seq);
    client.publish(this.topics.event(cls, device), payload, this.publishOptions, (err) => {
      if (gen === this.gen) this.onAck(seq, cls, err);
    });
  }

  private onAck(seq: number, cls: EventClass, err: Error | undefined): void {
    if (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'number') return; // the connection ended; onClose rewinds.
      this.probe = false;
      this.probeLosses = 0;
      const permanent = PERMANENT_REASONS.get(code);
      if (!permanent) {
        this.lastError = `PUBACK reason 0x${code.toString(16)}`;
        this.deps.log.warn(
          { seq, reasonCode: code },
          'broker refused a message for now; reconnecting to retry',
        );
        this.client?.end(true);
        return;
      }
      this.deps.outbox.deadLetter(seq, permanent);
      this.deps.metrics.rejected.inc({ class: cls, reason: permanent });
      this.deps.log.error(
        { seq, reason: permanent },
        'broker refused a message for good; moved to dead_letter',
      );
      this.deps.outbox.raise(
        'message-rejected',
        'warning',
        `the broker refused event seq ${seq}: ${permanent}`,
        {
          seq,
          reasonCode: code,
        },
      );
    } else {
      this.probe = false;
      this.probeLosses = 0;
      this.deps.metrics.published[cls].inc();
    }
    if (this.queue[this.head] === seq) {
      this.popAcked(seq);
      while (this.head < this.queue.length && this.ackedEarly.delete(this.queue[this.head] as number)) {
        this.popAcked(this.queue[this.head] as number);
      }
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
    } else {
      this.ackedEarly.add(seq);
    }
    if (this.queue.length === this.head) this.drained?.();
    if (this.window - this.occupied() >= this.refill) this.pump();
  }

  private popAcked(seq: number): void {
    this.head++;
    if (this.openRange) this.openRange[1] = seq;
    else this.openRange = [seq, seq];
    this.rangeRows++;
    if (this.rangeRows >= this.deleteChunk) this.flushDeletes();
    else if (!this.handOverScheduled) {
      // Hand over once per turn of the event loop, after the burst of PUBACKs it carries.
      this.handOverScheduled = true;
      setImmediate(() => {
        this.handOverScheduled = false;
        this.flushDeletes();
      });
    }
  }

  /**
   * Hands acknowledged rows to the outbox, which deletes them in its next commit; their window
   * slots are freed only then.
   */
  private flushDeletes(): void {
    const range = this.openRange;
    if (!range) return;
    const held = this.rangeRows;
    this.openRange = null;
    this.rangeRows = 0;
    this.deleting += held;
    this.deps.outbox.acknowledge([range], () => {
      this.deleting -= held;
      if (this.window - this.occupied() >= this.refill) this.pump();
    });
  }

  private statePayload(state: 'online' | 'offline', reason?: string): string {
    return JSON.stringify({
      state,
      ...(reason ? { reason } : {}),
      storeid: this.opts.storeId,
      gatewayid: this.opts.gatewayId,
      bootid: this.opts.bootId,
      birth: this.birth,
      version: this.opts.version,
      // The Last Will is composed at connect time: a time in it would be the connect time, not the loss.
      ...(reason === 'connection-lost' ? {} : { time: new Date(this.deps.clock.now()).toISOString() }),
      ...(state === 'online' ? { devices: this.deps.devices() } : {}),
    });
  }

  /** Adds a downlink subscription; kept across reconnects. */
  subscribe(filter: string, qos: 0 | 1 = 1): void {
    this.subscriptions.set(filter, qos);
    if (this.connected) this.client?.subscribe(filter, { qos });
  }

  /**
   * Publishes a message that is not an event (a command reply): outside the outbox and the
   * window, QoS 1. Resolves on PUBACK; rejects when not connected or refused.
   */
  publishDirect(
    topic: string,
    payload: string | Buffer,
    options: IClientPublishOptions = { qos: 1 },
  ): Promise<void> {
    const client = this.client;
    if (!this.connected || !client) return Promise.reject(new Error('not connected to the broker'));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, options, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Republishes the birth message (the `rebirth` command). */
  rebirth(): void {
    if (this.connected)
      this.client?.publish(this.topics.state, this.statePayload('online'), { qos: 1, retain: true });
  }

  /**
   * Clean stop: no new publishes, wait for the PUBACKs in flight (up to `timeoutMs`), delete what was
   * acknowledged, publish `offline` on the state topic, and disconnect.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    if (this.connected && client && this.queue.length > this.head) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.drained = undefined;
    }
    this.flushDeletes();
    if (this.connected && client) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(timeoutMs, 2000));
        client.publish(
          this.topics.state,
          this.statePayload('offline', 'shutdown'),
          { qos: 1, retain: true },
          () => {
            clearTimeout(timer);
            resolve();
          },
        );
      });
    }
    this.gen++;
    this.connected = false;
    this.deps.metrics.connected.set(0);
    if (client) {
      client.removeAllListeners();
      client.on('error', () => {});
      // A clean DISCONNECT, but never wait on a link that has gone silent.
      const giveUp = new AbortController();
      await Promise.race([
        client.endAsync(false).catch(() => {}),
        sleep(Math.min(timeoutMs, 2000), giveUp.signal),
      ]);
      giveUp.abort();
      client.end(true);
    }
  }

  /** The broker URL without any user info, fit for logs and status. */
  private get brokerUrl(): string {
    return this.opts.mqtt.url.replace(/\/\/[^@/]*@/, '//');
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** The MQTT client of the current connection, for the downlink; undefined while disconnected. */
  get currentClient(): MqttClient | undefined {
    return this.connected ? this.client : undefined;
  }

  status(): UplinkStatus {
    const now = this.deps.clock.now();
    return {
      connected: this.connected,
      broker: this.brokerUrl,
      protocolVersion: this.opts.mqtt.protocolVersion,
      inflight: this.queue.length - this.head,
      window: this.window,
      birth: this.birth,
      connectedSince: this.connectedSince === null ? null : new Date(this.connectedSince).toISOString(),
      lastError: this.lastError,
      reconnects: this.reconnects,
      nextRetryInMs: this.nextRetryAt === null ? null : Math.max(0, this.nextRetryAt - now),
    };
  }
}
