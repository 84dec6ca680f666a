import { EventEmitter } from 'node:events';
import type { ValidateFunction } from 'ajv';
import { type MqttClient, connect as mqttConnect } from 'mqtt';
import { EVENT_TYPE_NAMES, type EventType } from '../events/catalog.js';
import { envelopeSchema } from '../events/schemas.js';
import { createAjv, describeErrors, type SchemaIssue } from '../schema/ajv.js';
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
  /** seq numbers skipped before this one on its gateway (0 when in order). */
  gap: number;
}

export interface GatewayState {
  topic: string;
  state: Record<string, unknown> | null;
}

const ajv = createAjv({ allErrors: true });
const validators = new Map<string, ValidateFunction>(
  EVENT_TYPE_NAMES.map((type: EventType) => [type, ajv.compile(envelopeSchema(type))]),
);

/** Validates one payload against the published schema of its type. Pure. */
export function checkEvent(payload: Buffer | string): { event: CloudEvent | null; issues: SchemaIssue[] } {
  let event: CloudEvent;
  try {
    event = JSON.parse(payload.toString()) as CloudEvent;
  } catch (err) {
    return { event: null, issues: [{ path: '/', message: `not JSON: ${(err as Error).message}` }] };
  }
  const validate = validators.get(event?.type);
  if (!validate)
    return { event, issues: [{ path: '/type', message: `unknown event type ${String(event?.type)}` }] };
  return { event, issues: validate(event) ? [] : describeErrors(validate.errors) };
}

/**
 * What a central service does with the topics, as a reusable reference: subscribe, validate each
 * event against its schema, drop redeliveries by `id`, and detect gaps by `seq` per gateway.
 * Used by `store-gateway tail`, demo mode and the integration tests.
 */
export class EventConsumer extends EventEmitter<{ event: [Received]; state: [GatewayState] }> {
  private client: MqttClient | undefined;
  private readonly seen = new Set<string>();
  private readonly lastSeq = new Map<string, number>();
  readonly counts = { received: 0, invalid: 0, duplicates: 0, gaps: 0 };

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
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
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

  private onMessage(topic: string, payload: Buffer): void {
    if (topic.endsWith('/state')) {
      let state: Record<string, unknown> | null = null;
      try {
        state = JSON.parse(payload.toString()) as Record<string, unknown>;
      } catch {}
      this.emit('state', { topic, state });
      return;
    }
    this.counts.received++;
    const { event, issues } = checkEvent(payload);
    let duplicate = false;
    let gap = 0;
    if (issues.length > 0) this.counts.invalid++;
    if (event?.id) {
      duplicate = this.remember(event.id);
      if (duplicate) this.counts.duplicates++;
      else if (typeof event.seq === 'number') {
        const key = `${event.storeid}/${event.gatewayid}`;
        const last = this.lastSeq.get(key);
        if (last !== undefined && event.seq > last + 1) {
          gap = event.seq - last - 1;
          this.counts.gaps += gap;
        }
        if (last === undefined || event.seq > last) this.lastSeq.set(key, event.seq);
      }
    }
    this.emit('event', { topic, event, issues, duplicate, gap });
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
