import { randomUUID } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import { GatewayError } from '../errors.js';
import { createAjv, describeErrors } from '../schema/ajv.js';
import { EVENT_TYPE_NAMES, EVENT_TYPES, type EventClass, type EventData, type EventType } from './catalog.js';
import { Uuid7 } from './uuid7.js';

/** An event that has passed validation and waits for its `seq`, which the outbox assigns at commit. */
export interface PendingEvent {
  readonly id: string;
  readonly type: EventType;
  readonly cls: EventClass;
  readonly deviceId: string;
  /** RFC 3339 capture time with milliseconds. */
  readonly time: string;
  /** `data`, already serialised. */
  readonly dataJson: string;
}

export interface EnvelopeIdentity {
  storeId: string;
  gatewayId: string;
  bootId: string;
}

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ajv = createAjv({ allErrors: true });
const validators = Object.fromEntries(
  EVENT_TYPE_NAMES.map((type) => [type, ajv.compile(EVENT_TYPES[type].data)]),
) as Record<EventType, ValidateFunction>;

/**
 * Builds CloudEvents envelopes for one gateway. `create` validates `data` against the type's schema
 * and throws GW_ERR_EVENT_INVALID (with every failing path) before anything reaches the outbox;
 * `serialize` writes the final JSON once the seq is known.
 */
export class EventFactory {
  readonly identity: EnvelopeIdentity;
  private readonly head: string;
  private readonly sourcePrefix: string;
  private readonly tail: string;
  private readonly ids = new Uuid7();
  private readonly deviceIds = new Set<string>();

  constructor(identity: Omit<EnvelopeIdentity, 'bootId'> & { bootId?: string }) {
    this.identity = { ...identity, bootId: identity.bootId ?? randomUUID() };
    this.head = '{"specversion":"1.0","id":"';
    this.sourcePrefix = `/stores/${identity.storeId}/gateways/${identity.gatewayId}/devices/`;
    this.tail = `,"bootid":"${this.identity.bootId}","storeid":${JSON.stringify(identity.storeId)},"gatewayid":${JSON.stringify(identity.gatewayId)},"data":`;
  }

  create<T extends EventType>(type: T, deviceId: string, data: EventData<T>, timeMs: number): PendingEvent {
    if (!this.deviceIds.has(deviceId)) {
      // The device id becomes a topic level and part of `source`; config validates it, this guards the rest.
      if (!DEVICE_ID.test(deviceId)) {
        throw new GatewayError(
          'GW_ERR_EVENT_INVALID',
          `${type}: device id ${JSON.stringify(deviceId)} is not topic-safe`,
        );
      }
      this.deviceIds.add(deviceId);
    }
    const validate = validators[type];
    if (!validate(data)) {
      const issues = describeErrors(validate.errors, '/data');
      throw new GatewayError(
        'GW_ERR_EVENT_INVALID',
        `${type}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        { details: issues },
      );
    }
    return {
      id: this.ids.next(),
      type,
      cls: EVENT_TYPES[type].cls,
      deviceId,
      time: new Date(timeMs).toISOString(),
      dataJson: JSON.stringify(data),
    };
  }

  source(deviceId: string): string {
    return this.sourcePrefix + deviceId;
  }

  serialize(ev: PendingEvent, seq: number): string {
    return `${this.head}${ev.id}","source":${JSON.stringify(this.sourcePrefix + ev.deviceId)},"type":"${ev.type}","time":"${ev.time}","datacontenttype":"application/json","seq":${seq}${this.tail}${ev.dataJson}}`;
  }
}
