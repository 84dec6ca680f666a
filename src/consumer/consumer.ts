import { EventEmitter } from 'node:events';
import type { ValidateFunction } from 'ajv';
import { type MqttClient, connect as mqttConnect } from 'mqtt';
import { EVENT_TYPE_NAMES, type EventType } from '../events/catalog.js';
import { envelopeSchema } from '../events/schemas.js';
import { createAjv, describeErrors, type SchemaIssue } from '../schema/ajv.js';
import { isBatchPayload } from '../uplink/batch.js';
import { Topics } from '../uplink/topics.js';

/** A CloudEvent as received; `data` is left as the consumer's business. */
export interface CloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  time: string;
  datacontenttype: string;
  seq: number;
  bootid: string;
  storeid: string;
  gatewayid: string;
  data: Record<string, unknown>;
}

export interface Received {
  topic: string;
  event: CloudEvent | null;
  /** Schema problems; empty when the event is valid. */
  issues: SchemaIssue[];
  /** Seen before (same id): a redelivery to drop. */
  duplicate: boolean;
  /**
   * seq numbers this event skipped past on its gateway (0 when in order). During a catch-up drain
   * live events run ahead of the batched backlog, so the hole they open fills as the batches
   * arrive; `counts.gaps` holds what is still missing.
   */
  gap: number;
  /** The batch the event came in (CloudEvents batched content mode), or null for a single event. */
  batch: { message: number; index: number; size: number } | null;
}

export interface GatewayState {
  topic: string;
  state: Record<string, unknown> | null;
}

export interface Checked {
  event: CloudEvent | null;
  issues: SchemaIssue[];
}

const ajv = createAjv({ allErrors: true });
const validators = new Map<string, ValidateFunction>(
  EVENT_TYPE_NAMES.map((type: EventType) => [type, ajv.compile(envelopeSchema(type))]),
);

/** Validates one parsed event against the published schema of its type. */
function checkValue(value: unknown): Checked {
  const event = value as CloudEvent;
  if (!event || typeof event !== 'object' || Array.isArray(event))
    return { event: null, issues: [{ path: '/', message: 'not a JSON object' }] };
  const validate = validators.get(event.type);
  if (!validate)
    return { event, issues: [{ path: '/type', message: `unknown event type ${String(event.type)}` }] };
  return { event, issues: validate(event) ? [] : describeErrors(validate.errors) };
}

/** Validates one payload holding a single event against the published schema of its type. Pure. */
export function checkEvent(payload: Buffer | string): Checked {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch (err) {
    return { event: null, issues: [{ path: '/', message: `not JSON: ${(err as Error).message}` }] };
  }
  return checkValue(value);
}

/**
 * Validates one MQTT message in either form: a single event, or a batch (CloudEvents batched
 * content mode: a JSON array of events). The MQTT 5 content type says which; without one (MQTT
 * 3.1.1) a payload whose first non-space byte is `[` is a batch. Each event of a batch is checked
 * on its own. Pure.
 */
export function checkMessage(
  payload: Buffer | string,
  contentType?: string,
): { batch: boolean; events: Checked[] } {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  const batch =
    type === 'application/cloudevents-batch+json' ||
    (type !== 'application/cloudevents+json' && isBatchPayload(payload));
  if (!batch) return { batch, events: [checkEvent(payload)] };
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch (err) {
    return {
      batch,
      events: [{ event: null, issues: [{ path: '/', message: `not JSON: ${(err as Error).message}` }] }],
    };
  }
  if (!Array.isArray(value) || value.length === 0)
    return {
      batch,
      events: [{ event: null, issues: [{ path: '/', message: 'a batch must be a non-empty JSON array' }] }],
    };
  return { batch, events: value.map(checkValue) };
}

/**
 * The seq numbers seen from one gateway, as sorted disjoint ranges, and how many are missing
 * between them. Arrival need not be in order: a hole opened by a live event during a catch-up
 * drain closes when the batch holding its events arrives.
 */
export class SeqTracker {
  private readonly ranges: [number, number][] = [];
  missing = 0;

  /** Records `seq`; returns how many seqs it newly skipped past (0 when it closes a hole or follows on). */
  add(seq: number): { opened: number; filled: boolean } {
    const r = this.ranges;
    const last = r[r.length - 1];
    if (!last) {
      r.push([seq, seq]);
      return { opened: 0, filled: false };
    }
    if (seq === last[1] + 1) {
      last[1] = seq;
      return { opened: 0, filled: false };
    }
    if (seq > last[1]) {
      const opened = seq - last[1] - 1;
      this.missing += opened;
      r.push([seq, seq]);
      this.cap();
      return { opened, filled: false };
    }
    // Below the highest seen: find the range it belongs after (few ranges; search from the end).
    let i = r.length - 1;
    while (i >= 0 && (r[i] as [number, number])[0] > seq) i--;
    const before = r[i];
    if (before && seq <= before[1]) return { opened: 0, filled: false }; // seen already
    const after = r[i + 1] as [number, number];
    if (!before) {
      // Older than anything seen: the hole up to the oldest range is counted as missing.
      const opened = after[0] - seq - 1;
      this.missing += opened;
      if (opened === 0) after[0] = seq;
      else r.unshift([seq, seq]);
      return { opened, filled: false };
    }
    this.missing--;
    if (seq === before[1] + 1 && seq === after[0] - 1) {
      before[1] = after[1];
      r.splice(i + 1, 1);
    } else if (seq === before[1] + 1) before[1] = seq;
    else if (seq === after[0] - 1) after[0] = seq;
    else r.splice(i + 1, 0, [seq, seq]);
    return { opened: 0, filled: true };
  }

  /** Keeps memory bounded: the oldest holes are given up on (they stay counted as missing). */
  private cap(): void {
    if (this.ranges.length <= 10_000) return;
    const [a, b] = this.ranges as [[number, number], [number, number]];
    this.ranges.splice(0, 2, [a[0], b[1]]);
  }
}

/**
 * What a central service does with the topics, as a reusable reference: subscribe, unpack
 * batches, validate each event against its schema, drop redeliveries by `id`, and detect gaps by
 * `seq` per gateway. Used by `store-gateway tail`, demo mode and the integration tests.
 */
export class EventConsumer extends EventEmitter<{ event: [Received]; state: [GatewayState] }> {
  private client: MqttClient | undefined;
  private readonly seen = new Set<string>();
  private readonly seqs = new Map<string, SeqTracker>();
  /**
   * Events received (each event of a batch counts), invalid ones, redeliveries, and seqs missing
   * now (skipped and not arrived since); `messages` and `batches` count MQTT messages.
   */
  readonly counts = { received: 0, invalid: 0, duplicates: 0, gaps: 0, messages: 0, batches: 0 };

  constructor(
    private readonly opts: {
      url: string;
      storeId?: string;
      gatewayId?: string;
      protocolVersion?: 4 | 5;
      clientId?: string;
      /** How many ids to remember for deduplication. */
      dedupeWindow?: number;
      /** Keep the session across reconnects (needs a fixed clientId): nothing queued for us is lost. */
      persistent?: boolean;
    },
  ) {
    super();
  }

  async start(): Promise<void> {
    const client = mqttConnect(this.opts.url, {
      protocolVersion: this.opts.protocolVersion ?? 4,
      clientId: this.opts.clientId ?? `sg-consumer-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      reconnectPeriod: 500,
      clean: !this.opts.persistent,
      ...(this.opts.persistent && this.opts.protocolVersion === 5
        ? { properties: { sessionExpiryInterval: 3600 } }
        : {}),
    });
    this.client = client;
    client.on('message', (topic, payload, packet) =>
      this.onMessage(topic, payload, packet.properties?.contentType),
    );
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(
      [
        Topics.eventsFilter(this.opts.storeId, this.opts.gatewayId),
        Topics.stateFilter(this.opts.storeId, this.opts.gatewayId),
      ],
      { qos: 1 },
    );
  }

  private onMessage(topic: string, payload: Buffer, contentType?: string): void {
    if (topic.endsWith('/state')) {
      let state: Record<string, unknown> | null = null;
      try {
        state = JSON.parse(payload.toString()) as Record<string, unknown>;
      } catch {}
      this.emit('state', { topic, state });
      return;
    }
    const message = ++this.counts.messages;
    const { batch, events } = checkMessage(payload, contentType);
    if (batch) this.counts.batches++;
    events.forEach((checked, index) => {
      this.onEvent(topic, checked, batch ? { message, index, size: events.length } : null);
    });
  }

  private onEvent(topic: string, { event, issues }: Checked, batch: Received['batch']): void {
    this.counts.received++;
    let duplicate = false;
    let gap = 0;
    if (issues.length > 0) this.counts.invalid++;
    if (event?.id) {
      duplicate = this.remember(event.id);
      if (duplicate) this.counts.duplicates++;
      else if (typeof event.seq === 'number') {
        const key = `${event.storeid}/${event.gatewayid}`;
        let tracker = this.seqs.get(key);
        if (!tracker) {
          tracker = new SeqTracker();
          this.seqs.set(key, tracker);
        }
        const { opened, filled } = tracker.add(event.seq);
        gap = opened;
        this.counts.gaps += opened - (filled ? 1 : 0);
      }
    }
    this.emit('event', { topic, event, issues, duplicate, gap, batch });
  }

  /** Returns true when `id` was already seen. */
  private remember(id: string): boolean {
    if (this.seen.has(id)) return true;
    this.seen.add(id);
    // A Set iterates in insertion order: the first value is the oldest id.
    if (this.seen.size > (this.opts.dedupeWindow ?? 1_000_000))
      this.seen.delete(this.seen.values().next().value as string);
    return false;
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true);
  }
}
