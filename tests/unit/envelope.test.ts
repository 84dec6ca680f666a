import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEvent } from '../../src/consumer/consumer.js';
import { isGatewayError } from '../../src/errors.js';
import { EVENT_TYPES, type EventType } from '../../src/events/catalog.js';
import { EventFactory } from '../../src/events/envelope.js';
import { envelopeSchema } from '../../src/events/schemas.js';
import { createAjv } from '../../src/schema/ajv.js';

const T0 = Date.UTC(2025, 2, 14, 9, 30, 15, 42);
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const ajv = createAjv({ allErrors: true });
const validators = Object.fromEntries(
  (Object.keys(EVENT_TYPES) as EventType[]).map((type) => [type, ajv.compile(envelopeSchema(type))]),
) as Record<EventType, ReturnType<typeof ajv.compile>>;

function expectValid(type: EventType, json: string): Record<string, unknown> {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  const validate = validators[type];
  expect(validate(parsed), JSON.stringify(validate.errors)).toBe(true);
  return parsed;
}

function invalidPaths(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(isGatewayError(err, 'GW_ERR_EVENT_INVALID')).toBe(true);
    return ((err as { details: { path: string }[] }).details ?? []).map((i) => i.path).sort();
  }
  throw new Error('expected GW_ERR_EVENT_INVALID');
}

function invalidCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isGatewayError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('EventFactory', () => {
  const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-1' });

  it('serialises a scan into a CloudEvent that matches the published schema', () => {
    const ev = factory.create(
      'retail.scan.v1',
      'lane-1',
      { deviceId: 'lane-1', text: '4006381333931', aim: ']E0', symbology: 'ean-13' },
      T0,
    );
    expect(ev.cls).toBe('scan');
    const json = factory.serialize(ev, 17);
    const e = expectValid('retail.scan.v1', json);
    expect(e).toMatchObject({
      specversion: '1.0',
      id: ev.id,
      source: '/stores/0421/gateways/gw-1/devices/lane-1',
      type: 'retail.scan.v1',
      time: '2025-03-14T09:30:15.042Z',
      datacontenttype: 'application/json',
      seq: 17,
      bootid: factory.identity.bootId,
      storeid: '0421',
      gatewayid: 'gw-1',
      data: { deviceId: 'lane-1', text: '4006381333931', aim: ']E0', symbology: 'ean-13' },
    });
    expect(checkEvent(json).issues).toEqual([]);
  });

  it('serialises device status and gateway alarm events that match their schemas', () => {
    const status = factory.create(
      'retail.device.status.v1',
      'lane-1',
      { deviceId: 'lane-1', kind: 'serial-scanner', state: 'disconnected', path: '/dev/ttyUSB0', attempt: 0 },
      T0,
    );
    expect(status.cls).toBe('device');
    expectValid('retail.device.status.v1', factory.serialize(status, 1));
    const alarm = factory.create(
      'retail.gateway.alarm.v1',
      'gateway',
      { alarm: 'buffer-full', severity: 'critical', message: 'full', details: { rows: 3 } },
      T0,
    );
    expect(alarm.cls).toBe('device');
    expectValid('retail.gateway.alarm.v1', factory.serialize(alarm, 2));
  });

  it('gives time in RFC 3339 UTC with milliseconds, also on a whole second', () => {
    const ev = factory.create('retail.scan.v1', 'd', { deviceId: 'd', text: 'x', symbology: 'unknown' }, 0);
    expect(ev.time).toBe('1970-01-01T00:00:00.000Z');
  });

  it('uses a fresh boot id per factory unless one is given', () => {
    const other = new EventFactory({ storeId: '0421', gatewayId: 'gw-1' });
    expect(other.identity.bootId).not.toBe(factory.identity.bootId);
    expect(new EventFactory({ storeId: 's', gatewayId: 'g', bootId: 'b' }).identity.bootId).toBe('b');
  });

  it('gives every event a UUIDv7 id, unique and in creation order', () => {
    const data = { deviceId: 'd', text: 'x', symbology: 'unknown' };
    const ids = Array.from({ length: 2000 }, () => factory.create('retail.scan.v1', 'd', data, T0).id);
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries the creation time in the id, not the capture time', () => {
    // Ids order events as created (the dedup key stays unique even for back-dated readings).
    const before = Date.now();
    const ev = factory.create('retail.scan.v1', 'd', { deviceId: 'd', text: 'x', symbology: 'unknown' }, 0);
    const idMs = Number.parseInt(ev.id.replace(/-/g, '').slice(0, 12), 16);
    expect(idMs).toBeGreaterThanOrEqual(before);
    expect(ev.time).toBe('1970-01-01T00:00:00.000Z');
  });

  it('escapes store and gateway ids as JSON', () => {
    const f = new EventFactory({ storeId: 'st"ore', gatewayId: 'gw\\1' });
    const ev = f.create('retail.scan.v1', 'dev-1', { deviceId: 'd', text: 'x', symbology: 'unknown' }, T0);
    const e = JSON.parse(f.serialize(ev, 1)) as Record<string, unknown>;
    expect(e.storeid).toBe('st"ore');
    expect(e.gatewayid).toBe('gw\\1');
    expect(e.source).toBe('/stores/st"ore/gateways/gw\\1/devices/dev-1');
  });

  it('refuses a device id that is not one topic level', () => {
    for (const id of ['dev"1', 'a/b', 'lane+1', 'x#', '', ' lead']) {
      expect(
        invalidCode(() =>
          factory.create('retail.scan.v1', id, { deviceId: 'd', text: 'x', symbology: 'unknown' }, T0),
        ),
      ).toBe('GW_ERR_EVENT_INVALID');
    }
  });

  it('refuses invalid data with GW_ERR_EVENT_INVALID listing every failing path', () => {
    const paths = invalidPaths(() =>
      factory.create(
        'retail.scan.v1',
        'lane-1',
        // @ts-expect-error deliberately wrong
        { deviceId: 'lane 1', text: 42, aim: 'E0', extra: true },
        T0,
      ),
    );
    expect(paths).toEqual(['/data', '/data/aim', '/data/deviceId', '/data/symbology', '/data/text']);
  });

  it('names the type and the problems in the message', () => {
    try {
      // @ts-expect-error deliberately wrong
      factory.create('retail.device.status.v1', 'd', { deviceId: 'd', kind: 'x', state: 'on' }, T0);
      expect.unreachable();
    } catch (err) {
      expect(isGatewayError(err, 'GW_ERR_EVENT_INVALID')).toBe(true);
      expect((err as Error).message).toContain('retail.device.status.v1');
      expect((err as Error).message).toContain('/data/state: must be one of "connected"');
    }
  });

  it('refuses an alarm with an unknown alarm name', () => {
    expect(
      invalidPaths(() =>
        factory.create(
          'retail.gateway.alarm.v1',
          'gateway',
          // @ts-expect-error deliberately wrong
          { alarm: 'on-fire', severity: 'critical', message: 'x' },
          T0,
        ),
      ),
    ).toEqual(['/data/alarm']);
  });

  it('accepts any valid scan data and always produces a valid envelope', () => {
    const deviceId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
    fc.assert(
      fc.property(
        deviceId,
        fc.string({ maxLength: 200, unit: 'binary' }),
        fc.option(fc.stringMatching(/^\][A-Za-z0-9][0-9A-Za-z]$/), { nil: undefined }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }),
        (device, text, aim, seq, time) => {
          const data = { deviceId: device, text, ...(aim ? { aim } : {}), symbology: 'unknown' };
          const ev = factory.create('retail.scan.v1', device, data, time);
          const e = expectValid('retail.scan.v1', factory.serialize(ev, seq));
          expect(e.seq).toBe(seq);
          expect((e.data as { text: string }).text).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
