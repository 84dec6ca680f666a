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
import { parseSize } from '../config/types.js';
import { type EventClass, GATEWAY_DEVICE_ID } from '../events/catalog.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { sleep } from '../util/sleep.js';
import { Backoff } from './backoff.js';
import { BATCH_CONTENT_TYPE, packRun, payloadLimit, serializeBatch } from './batch.js';
import { NullStore } from './null-store.js';
import type { MqttTlsOptions } from './tls.js';
import { CLOUDEVENT_CONTENT_TYPE, Topics } from './topics.js';

export interface UplinkOptions {
  mqtt: Config['mqtt'];
  storeId: string;
  gatewayId: string;
  bootId: string;
  version: string;
  /** Broker password, read from `mqtt.passwordFile` by the caller; never part of the config. */
  password?: string;
  /** TLS material read from `mqtt.tls` at start (src/uplink/tls.ts); undefined without TLS files. */
  tls?: MqttTlsOptions;
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
  /** The backlog draining in batches, or null: events up to `untilSeq` go out in batches. */
  catchUp: { untilSeq: number; publishedSeq: number; liveShare: number; batchEvents: number } | null;
  /** Batch messages acknowledged since start, and the events in them. */
  batches: number;
  batchedEvents: number;
}

/** PUBACK reason codes that will never succeed on retry: the row goes to dead_letter. */
const PERMANENT_REASONS = new Map<number, string>([
  [0x87, 'not-authorized'],
  [0x90, 'topic-name-invalid'],
  [0x99, 'payload-format-invalid'],
]);

const POISON_LOSSES = 10;

/**
 * True for one of the uplink's own `message-rejected` alarms. When the broker refuses such an
 * alarm too, no alarm is raised about it: that one would be refused in turn, and so on for as long
 * as the gateway runs. The log line and the sg_events_rejected_total metric still record it.
 */
function isRejectionAlarm(row: OutboxRow): boolean {
  return row[1] === 'device' && row[2] === GATEWAY_DEVICE_ID && row[3].includes('"alarm":"message-rejected"');
}
const READ_BATCH = 500;
/** Share of the window kept for live events while a backlog drains in batches. */
const LIVE_SHARE = 0.25;
/** Batches of the drain awaiting PUBACK hold at most this many payload bytes (and at least one batch). */
const DRAIN_INFLIGHT_BYTES = 4 * 2 ** 20;
/**
 * The same while live events flow (one was published within LIVE_RECENT_MS): a live event is
 * written to the socket behind the batches already there, so fewer bytes ahead of it keep its
 * latency low, at some cost to the drain's pace.
 */
const DRAIN_INFLIGHT_BYTES_WITH_LIVE = 2 ** 20;
const LIVE_RECENT_MS = 1000;
/**
 * Batch payload bytes published in one turn of the event loop (at least one batch): the drain
 * then yields, so group commits, PUBACKs and live events are not held behind it.
 */
const DRAIN_TURN_BYTES = 256 * 2 ** 10;

/**
 * One message awaiting PUBACK: a single event or a batch. Its rows are exactly the outbox rows with
 * seq in (after, last]: `after` is its lane's cursor when it was published.
 */
interface Sent {
  after: number;
  last: number;
  rows: number;
  /** Payload bytes of a batch (0 for a single event). */
  bytes: number;
  cls: EventClass;
  batch: boolean;
  acked: boolean;
}

/**
 * A stream of messages published in seq order from its own cursor, with its own acknowledgements
 * and deletes. The `main` lane carries everything, except while a backlog drains in batches: then
 * it carries the batches, and the `live` lane carries the events committed after the drain began.
 */
class Lane {
  cursor = 0;
  /** Published on the current connection, in publish order; [head, length) await PUBACK. */
  queue: Sent[] = [];
  head = 0;
  /** Acknowledged in publish order and contiguous, not yet handed to the outbox: rows (after, last]. */
  open: { after: number; last: number; msgs: number; rows: number } | null = null;
  /** Messages handed to the outbox for deletion, deleted at its next commit. */
  deleting = 0;
  /** Payload bytes of the batches awaiting PUBACK. */
  inflightBytes = 0;

  get unacked(): number {
    return this.queue.length - this.head;
  }

  /** Window slots taken: awaiting PUBACK, or acknowledged with the delete not yet committed. */
  occupied(): number {
    return this.queue.length - this.head + (this.open?.msgs ?? 0) + this.deleting;
  }

  /** The oldest message awaiting PUBACK. */
  get oldest(): Sent | undefined {
    return this.queue[this.head];
  }

  reset(): void {
    this.queue = [];
    this.head = 0;
    this.inflightBytes = 0;
  }
}

/**
 * Forwards the outbox to the broker: QoS 1, at most `window` messages awaiting PUBACK, in seq order.
 *
 * One MQTT client per connection: when a connection ends, every unacknowledged message is rewound
 * into the outbox cursor and resent on the next connection at full window, never waiting on mqtt.js's
 * one-at-a-time store replay. Rows are deleted in ranges only after their PUBACK, and a message keeps
 * its window slot until the delete of its rows is committed: whatever a crash makes us send twice
 * (published but not acknowledged, or acknowledged but not yet deleted) is at most one window of
 * messages. Connection attempts back off exponentially with full jitter.
 *
 * A backlog deeper than `mqtt.batch.threshold` drains in CloudEvents batches (src/uplink/batch.ts)
 * on the main lane, while the events committed after the drain began go out one per message on the
 * live lane. The window is shared: the drain never holds more than `window − liveShare` slots
 * (liveShare is a quarter of the window), nor more than DRAIN_INFLIGHT_BYTES of batches awaiting
 * PUBACK (DRAIN_INFLIGHT_BYTES_WITH_LIVE while live events flow); the live lane may take every
 * free slot, so it always has at least `liveShare`. Live rows are published before new batches,
 * and the drain yields to the event loop after DRAIN_TURN_BYTES of batches. Each lane is in seq
 * order, and every batched event of a drain has a lower seq than every live event
 * (docs/ARCHITECTURE.md, "Catch-up batches").
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
  private readonly main = new Lane();
  private readonly live = new Lane();
  private handOverScheduled = false;
  private drainTurnScheduled = false;
  /** When the live lane last published (clock ms). */
  private lastLiveAt = Number.NEGATIVE_INFINITY;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private nextRetryAt: number | null = null;
  private readonly backoff: Backoff;
  private birth = 0;
  private connectedSince: number | null = null;
  private lastError: string | null = null;
  private reconnects = 0;
  private drained: (() => void) | undefined;
  private readonly publishOptions: IClientPublishOptions;
  private readonly batchOptions: IClientPublishOptions;
  private refill: number;
  private deleteChunk: number;
  /** After a connection died with messages unacknowledged, the next one sends only the oldest first. */
  private probe = false;
  /** Consecutive connections lost while the probe message was the only one outstanding. */
  private probeLosses = 0;
  /**
   * The broker refused the birth message of the current connection (a PUBACK reason code): the
   * gateway may not publish under its own topics, and a connection lost after that says nothing
   * about the events in flight.
   */
  private birthRefused = false;
  /** Downlink topic filters, subscribed again on every connection. */
  private readonly subscriptions = new Map<string, 0 | 1>();
  /** Slots of the window kept for live events during a drain (0 with a window of 1). */
  private liveShare = 0;
  /** Broker's Maximum Packet Size from CONNACK (MQTT 5), if it sent one. */
  private maxPacketSize: number | undefined;
  private readonly batchMaxBytes: number;
  /** Most events per batch now: mqtt.batch.maxEvents, lowered while a batch sent alone loses the connection. */
  private batchEvents: number;
  /** Last seq of the backlog draining in batches; null when no drain runs. */
  private drainEnd: number | null = null;
  private drainStartedAt = 0;
  private drainBatches = 0;
  private drainEventCount = 0;
  /** Rows read for the drain and not yet published: carry[carryPos..]. */
  private carry: OutboxRow[] = [];
  private carryPos = 0;
  /** Last seq read into `carry`; `readDone` once every row up to `drainEnd` was read. */
  private readPos = 0;
  private readDone = false;
  private batches = 0;
  private batchedEvents = 0;

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
    const v5 = opts.mqtt.protocolVersion === 5;
    this.publishOptions = v5 ? { qos: 1, properties: { contentType: CLOUDEVENT_CONTENT_TYPE } } : { qos: 1 };
    this.batchOptions = v5 ? { qos: 1, properties: { contentType: BATCH_CONTENT_TYPE } } : { qos: 1 };
    this.batchMaxBytes = Math.max(1, parseSize(opts.mqtt.batch.maxBytes));
    this.batchEvents = opts.mqtt.batch.maxEvents;
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
      ...this.opts.tls,
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
      if (gen === this.gen)
        this.onConnect(client, connack.properties?.receiveMaximum, connack.properties?.maximumPacketSize);
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

  private onConnect(
    client: MqttClient,
    receiveMaximum: number | undefined,
    maximumPacketSize: number | undefined,
  ): void {
    this.connected = true;
    this.connectedSince = this.deps.clock.now();
    this.lastError = null;
    this.birthRefused = false;
    const gen = this.gen;
    // Keep one slot of the broker's Receive Maximum for the state message.
    const brokerMax = receiveMaximum === undefined ? 65535 : Math.max(1, receiveMaximum - 1);
    this.window = Math.min(this.opts.mqtt.inflightWindow, brokerMax);
    this.refill = Math.max(1, Math.min(64, Math.floor(this.window / 4)));
    this.deleteChunk = this.chunkFor(this.window);
    this.liveShare = this.window >= 2 ? Math.max(1, Math.floor(this.window * LIVE_SHARE)) : 0;
    this.maxPacketSize = maximumPacketSize;
    this.deps.metrics.connected.set(1);
    this.deps.log.info(
      {
        broker: this.brokerUrl,
        window: this.window,
        birth: this.birth,
        resumeAfterSeq: this.main.cursor,
        ...(maximumPacketSize === undefined ? {} : { maximumPacketSize }),
      },
      'connected to broker',
    );
    client.publish(this.topics.state, this.statePayload('online'), { qos: 1, retain: true }, (err) => {
      if (gen !== this.gen) return;
      if (!err) {
        // Backoff starts again only once the broker accepts what we publish: a broker that
        // accepts the connection and then drops it is retried at the backoff's pace, not at once.
        this.backoff.reset();
        return;
      }
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'number') return; // the connection ended first; onClose handles it.
      this.birthRefused = true;
      this.lastError = `birth message refused: ${err.message} (PUBACK reason 0x${code.toString(16)})`;
      this.deps.log.error(
        { topic: this.topics.state, reasonCode: code },
        'the broker refused the birth message: check the store and gateway ids against the credentials and the broker ACL',
      );
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
    const unacked = this.unacked();
    // Everything unacknowledged, on either lane, goes out again from the main lane, oldest first; a
    // drain that was running ends here and starts again over the whole backlog on the next connection.
    const m = this.main.oldest;
    const l = this.live.oldest;
    const oldest = m && (!l || m.after <= l.after) ? m : l;
    let resume = m ? m.after : this.main.cursor;
    if (l && l.after < resume) resume = l.after;
    this.main.cursor = resume;
    if (this.drainEnd !== null) this.dropDrain();
    // A connection whose birth was refused was lost for that, not for an event: no probe loss counts.
    if (oldest) this.onUnackedLoss(oldest, wasConnected && !this.birthRefused);
    this.birthRefused = false;
    this.main.reset();
    this.live.reset();
    this.deps.metrics.inflight.set(0);
    client.removeAllListeners();
    client.on('error', () => {});
    client.end(true);
    if (wasConnected) {
      this.reconnects++;
      this.deps.metrics.reconnects.inc();
      this.deps.log.warn({ unacked, resumeAfterSeq: this.main.cursor }, 'broker connection lost');
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

  /** Window slots taken on both lanes. */
  private occupied(): number {
    return this.main.occupied() + this.live.occupied();
  }

  /** Messages awaiting PUBACK on both lanes. */
  private unacked(): number {
    return this.main.unacked + this.live.unacked;
  }

  /**
   * A connection died with `oldest` unacknowledged. Some brokers (Mosquitto 2.0 among them) close
   * the connection on a publish they refuse, and with a full window the PUBACK saying so is lost
   * in the reset: resending the whole window would loop forever. So the next connection sends the
   * oldest message alone and opens the window once it is acknowledged. A batch that, sent alone,
   * loses the connection may be too large for the broker (MQTT 3.1.1 cannot say how large a packet
   * it takes): batches are halved until one gets through, down to a single event. A message of one
   * event that alone kills the connection POISON_LOSSES times in a row is moved to dead_letter, so
   * it cannot block the store's feed; it stays in the buffer file for store IT. `blame` is false
   * when the connection cannot be laid at the message's door: it never came up, or the broker
   * refused the birth message on it (a broker whose ACL does not cover the gateway's topics drops
   * the connection right after; dead-lettering events then would empty the buffer one event, and
   * one `message-rejected` alarm, at a time).
   */
  private onUnackedLoss(oldest: Sent, blame: boolean): void {
    if (this.probe && blame) {
      if (oldest.rows > 1) {
        this.batchEvents = Math.max(1, Math.floor(oldest.rows / 2));
        this.deps.log.warn(
          {
            fromSeq: oldest.after + 1,
            toSeq: oldest.last,
            events: oldest.rows,
            nextBatchEvents: this.batchEvents,
          },
          'the connection was lost with one batch outstanding; trying smaller batches',
        );
        return;
      }
      this.probeLosses++;
    }
    this.probe = true;
    if (this.probeLosses < POISON_LOSSES) return;
    this.probeLosses = 0;
    const row = this.deps.outbox.read(oldest.after, 1)[0];
    if (!row || row[0] > oldest.last) return;
    const seq = row[0];
    this.deps.outbox.deadLetter(seq, 'connection-closed');
    this.main.cursor = seq;
    this.deps.metrics.rejected.inc({ class: row[1], reason: 'connection-closed' });
    this.deps.log.error(
      { seq, losses: POISON_LOSSES },
      'the broker drops the connection on this message; moved to dead_letter',
    );
    if (isRejectionAlarm(row)) return;
    this.deps.outbox.raise(
      'message-rejected',
      'warning',
      `the broker closed the connection ${POISON_LOSSES} times on event seq ${seq}`,
      { seq, reason: 'connection-closed' },
    );
  }

  /** True when more than `mqtt.batch.threshold` committed events wait after the main lane's cursor. */
  private deepBacklog(): boolean {
    const batch = this.opts.mqtt.batch;
    if (!batch.enabled) return false;
    const last = this.deps.outbox.lastCommittedSeq;
    if (last - this.main.cursor <= batch.threshold) return false;
    // seq may jump (a restart, a buffer set aside): measure from the next row actually waiting.
    const next = this.deps.outbox.read(this.main.cursor, 1)[0];
    return next !== undefined && last - next[0] + 1 > batch.threshold;
  }

  /**
   * Fresh rows: when their lane is caught up they are published straight from memory (no read
   * back from SQLite); whatever does not fit is read later, in order, by `pump`. During a drain
   * that lane is the live lane, within its share of the window.
   */
  private onCommitted(rows: readonly OutboxRow[]): void {
    const client = this.client;
    const first = rows[0];
    if (!first || !this.connected || this.stopping || this.probe || !client) {
      this.pump();
      return;
    }
    let lane: Lane | undefined;
    let room = 0;
    if (this.drainEnd === null) {
      if (first[0] === this.main.cursor + 1 && !this.deepBacklog()) {
        lane = this.main;
        room = this.window - this.occupied();
      }
    } else if (this.liveShare > 0 && first[0] === this.live.cursor + 1) {
      lane = this.live;
      room = this.liveRoom();
    }
    if (!lane) {
      this.pump();
      return;
    }
    const n = Math.min(room, rows.length);
    for (let i = 0; i < n; i++) this.publishRow(client, lane, rows[i] as OutboxRow);
    this.deps.metrics.inflight.set(this.unacked());
  }

  /** Publishes what waits while the window has room: batches of the backlog, live events, or single events. */
  private pump(): void {
    const client = this.client;
    if (!this.connected || this.stopping || !client) return;
    if (this.drainEnd === null && this.deepBacklog()) this.startDrain();
    // Live events first, so that they are written to the socket ahead of the next batches.
    if (this.drainEnd !== null && this.liveShare > 0 && !this.probe)
      this.pumpRows(client, this.live, this.liveRoom());
    if (this.drainEnd !== null) {
      const room = this.probe
        ? 1 - this.occupied()
        : Math.min(this.window - this.liveShare - this.main.occupied(), this.window - this.occupied());
      this.pumpDrain(client, room);
    }
    if (this.drainEnd === null)
      this.pumpRows(client, this.main, (this.probe ? 1 : this.window) - this.occupied());
    this.deps.metrics.inflight.set(this.unacked());
  }

  /**
   * Slots the live lane may take during a drain: every free slot of the window. The drain never
   * takes more than `window − liveShare`, so at least `liveShare` are always the live lane's.
   */
  private liveRoom(): number {
    return this.window - this.occupied();
  }

  /** Publishes rows after the lane's cursor, one event per message, up to `room` of them. */
  private pumpRows(client: MqttClient, lane: Lane, room: number): void {
    while (room > 0) {
      const limit = Math.min(room, READ_BATCH);
      const rows = this.deps.outbox.read(lane.cursor, limit);
      for (const row of rows) this.publishRow(client, lane, row);
      room -= rows.length;
      if (rows.length < limit) break;
    }
  }

  /** Starts draining everything committed so far in batches; later rows are live. */
  private startDrain(): void {
    const end = this.deps.outbox.lastCommittedSeq;
    this.drainEnd = end;
    this.live.cursor = end;
    this.readPos = this.main.cursor;
    this.readDone = false;
    this.carry = [];
    this.carryPos = 0;
    this.drainStartedAt = this.deps.clock.now();
    this.drainBatches = 0;
    this.drainEventCount = 0;
    this.deps.log.info(
      { fromSeq: this.main.cursor + 1, untilSeq: end, liveShare: this.liveShare, window: this.window },
      'draining the backlog in batches',
    );
  }

  /** The drain published its last batch: the main lane goes on after the live lane. */
  private endDrain(): void {
    this.deps.log.info(
      {
        untilSeq: this.drainEnd,
        batches: this.drainBatches,
        events: this.drainEventCount,
        ms: this.deps.clock.now() - this.drainStartedAt,
      },
      'backlog drained',
    );
    this.main.cursor = this.live.cursor;
    this.dropDrain();
    this.batchEvents = this.opts.mqtt.batch.maxEvents;
  }

  private dropDrain(): void {
    this.drainEnd = null;
    this.carry = [];
    this.carryPos = 0;
  }

  /** Tops up `carry` with rows of the backlog, up to `drainEnd`. */
  private readMore(): void {
    if (this.carryPos > 0) {
      this.carry = this.carry.slice(this.carryPos);
      this.carryPos = 0;
    }
    const end = this.drainEnd as number;
    const want = Math.max(READ_BATCH, this.batchEvents * 2);
    const rows = this.deps.outbox.read(this.readPos, want);
    for (const row of rows) {
      if (row[0] > end) {
        this.readDone = true;
        break;
      }
      this.carry.push(row);
      this.readPos = row[0];
    }
    if (rows.length < want || this.readPos >= end) this.readDone = true;
  }

  /** Publishes batches of the backlog while `room` slots and the drain's byte budget allow. */
  private pumpDrain(client: MqttClient, room: number): void {
    const main = this.main;
    const liveFlows = this.deps.clock.now() - this.lastLiveAt < LIVE_RECENT_MS;
    const byteBudget = Math.max(
      liveFlows ? DRAIN_INFLIGHT_BYTES_WITH_LIVE : DRAIN_INFLIGHT_BYTES,
      2 * this.batchMaxBytes,
    );
    let turnBytes = 0;
    while (room > 0 && main.inflightBytes < byteBudget) {
      if (turnBytes >= DRAIN_TURN_BYTES) {
        // Enough for one turn of the event loop: commits, PUBACKs and live events go first.
        this.continueDrainSoon();
        return;
      }
      if (!this.readDone && this.carry.length - this.carryPos < this.batchEvents) this.readMore();
      const first = this.carry[this.carryPos];
      if (!first) {
        this.endDrain();
        return;
      }
      const topic = this.topics.event(first[1], first[2]);
      const run = packRun(this.carry, this.carryPos, {
        maxEvents: this.batchEvents,
        maxBytes: this.batchLimit(topic),
      });
      const last = this.carry[run.end - 1] as OutboxRow;
      const sent: Sent = {
        after: main.cursor,
        last: last[0],
        rows: run.end - this.carryPos,
        bytes: run.bytes,
        cls: first[1],
        batch: true,
        acked: false,
      };
      const payload = serializeBatch(this.carry, this.carryPos, run.end);
      this.carryPos = run.end;
      main.inflightBytes += run.bytes;
      turnBytes += run.bytes;
      this.drainBatches++;
      this.drainEventCount += sent.rows;
      this.send(client, main, sent, topic, payload, this.batchOptions);
      room--;
    }
  }

  /** Goes on with the drain on the next turn of the event loop (once, whatever the callers). */
  private continueDrainSoon(): void {
    if (this.drainTurnScheduled) return;
    this.drainTurnScheduled = true;
    const gen = this.gen;
    setImmediate(() => {
      this.drainTurnScheduled = false;
      if (gen === this.gen) this.pump();
    });
  }

  /** Largest batch payload for a topic: mqtt.batch.maxBytes, within the broker's Maximum Packet Size. */
  private batchLimit(topic: string): number {
    const max = this.maxPacketSize;
    if (max === undefined) return this.batchMaxBytes;
    return Math.min(this.batchMaxBytes, payloadLimit(max, topic, BATCH_CONTENT_TYPE));
  }

  private publishRow(client: MqttClient, lane: Lane, row: OutboxRow): void {
    const [seq, cls, device, payload] = row;
    if (lane === this.live) this.lastLiveAt = this.deps.clock.now();
    const sent: Sent = { after: lane.cursor, last: seq, rows: 1, bytes: 0, cls, batch: false, acked: false };
    this.send(client, lane, sent, this.topics.event(cls, device), payload, this.publishOptions);
  }

  private send(
    client: MqttClient,
    lane: Lane,
    sent: Sent,
    topic: string,
    payload: string,
    options: IClientPublishOptions,
  ): void {
    const gen = this.gen;
    lane.cursor = sent.last;
    lane.queue.push(sent);
    client.publish(topic, payload, options, (err) => {
      if (gen === this.gen) this.onAck(lane, sent, err);
    });
  }

  private onAck(lane: Lane, sent: Sent, err: Error | undefined): void {
    if (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'number') return; // the connection ended; onClose rewinds.
      this.probe = false;
      this.probeLosses = 0;
      const permanent = PERMANENT_REASONS.get(code);
      if (!permanent) {
        this.lastError = `PUBACK reason 0x${code.toString(16)}`;
        this.deps.log.warn(
          { seq: sent.last, events: sent.rows, reasonCode: code },
          'broker refused a message for now; reconnecting to retry',
        );
        this.client?.end(true);
        return;
      }
      this.refused(sent, permanent, code);
    } else {
      this.probe = false;
      this.probeLosses = 0;
      this.deps.metrics.published[sent.cls].inc(sent.rows);
      if (sent.batch) {
        this.batches++;
        this.batchedEvents += sent.rows;
      }
    }
    sent.acked = true;
    lane.inflightBytes -= sent.bytes;
    while (lane.head < lane.queue.length && (lane.queue[lane.head] as Sent).acked) {
      this.popAcked(lane, lane.queue[lane.head] as Sent);
    }
    if (lane.head > 4096 && lane.head * 2 > lane.queue.length) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
    if (this.unacked() === 0) this.drained?.();
    if (this.window - this.occupied() >= this.refill) this.pump();
  }

  /** The broker refused a message for good: its rows (every event of a batch) move to dead_letter. */
  private refused(sent: Sent, reason: string, code: number): void {
    const { outbox, metrics, log } = this.deps;
    if (!sent.batch) {
      const seq = sent.last;
      const row = outbox.read(seq - 1, 1)[0];
      outbox.deadLetter(seq, reason);
      metrics.rejected.inc({ class: sent.cls, reason });
      log.error({ seq, reason }, 'broker refused a message for good; moved to dead_letter');
      if (row && row[0] === seq && isRejectionAlarm(row)) return;
      outbox.raise('message-rejected', 'warning', `the broker refused event seq ${seq}: ${reason}`, {
        seq,
        reasonCode: code,
      });
      return;
    }
    const rows = outbox.read(sent.after, sent.rows).filter((row) => row[0] <= sent.last);
    const seqs = rows.map((row) => row[0]);
    for (const seq of seqs) outbox.deadLetter(seq, reason);
    const from = seqs[0] ?? sent.after + 1;
    metrics.rejected.inc({ class: sent.cls, reason }, seqs.length);
    log.error(
      { fromSeq: from, toSeq: sent.last, events: seqs.length, reason },
      'broker refused a batch for good; its events moved to dead_letter',
    );
    if (rows.length > 0 && rows.every(isRejectionAlarm)) return;
    outbox.raise(
      'message-rejected',
      'warning',
      `the broker refused a batch of ${seqs.length} events, seq ${from} to ${sent.last}: ${reason}`,
      { seq: from, lastSeq: sent.last, events: seqs.length, reasonCode: code },
    );
  }

  /** The lane's oldest message is acknowledged: its rows join the lane's open delete range. */
  private popAcked(lane: Lane, sent: Sent): void {
    lane.head++;
    const open = lane.open;
    if (open && open.last === sent.after) {
      open.last = sent.last;
      open.msgs++;
      open.rows += sent.rows;
    } else {
      this.flushLane(lane);
      lane.open = { after: sent.after, last: sent.last, msgs: 1, rows: sent.rows };
    }
    if ((lane.open?.rows ?? 0) >= this.deleteChunk) this.flushLane(lane);
    else if (!this.handOverScheduled) {
      // Hand over once per turn of the event loop, after the burst of PUBACKs it carries.
      this.handOverScheduled = true;
      setImmediate(() => {
        this.handOverScheduled = false;
        this.flushDeletes();
      });
    }
  }

  private flushDeletes(): void {
    this.flushLane(this.main);
    this.flushLane(this.live);
  }

  /**
   * Hands a lane's acknowledged rows to the outbox, which deletes them in its next commit; their
   * window slots are freed only then.
   */
  private flushLane(lane: Lane): void {
    const open = lane.open;
    if (!open) return;
    lane.open = null;
    lane.deleting += open.msgs;
    this.deps.outbox.acknowledge([[open.after + 1, open.last]], () => {
      lane.deleting -= open.msgs;
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
    if (this.connected && client && this.unacked() > 0) {
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
      inflight: this.unacked(),
      window: this.window,
      birth: this.birth,
      connectedSince: this.connectedSince === null ? null : new Date(this.connectedSince).toISOString(),
      lastError: this.lastError,
      reconnects: this.reconnects,
      nextRetryInMs: this.nextRetryAt === null ? null : Math.max(0, this.nextRetryAt - now),
      catchUp:
        this.drainEnd === null
          ? null
          : {
              untilSeq: this.drainEnd,
              publishedSeq: this.main.cursor,
              liveShare: this.liveShare,
              batchEvents: this.batchEvents,
            },
      batches: this.batches,
      batchedEvents: this.batchedEvents,
    };
  }
}
