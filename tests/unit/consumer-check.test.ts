import { describe, expect, it } from 'vitest';
import { checkEvent } from '../../src/consumer/consumer.js';
import { EventFactory } from '../../src/events/envelope.js';

const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-1' });
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 6);

function scanEvent(): Record<string, unknown> {
  const ev = factory.create(
    'retail.scan.v1',
    'lane-1',
    { deviceId: 'lane-1', text: '4006381333931', aim: ']E0', symbology: 'ean-13' },
    T0,
  );
  return JSON.parse(factory.serialize(ev, 42)) as Record<string, unknown>;
}

/** The distinct paths with a problem (one value may break several rules). */
const paths = (payload: string | Buffer) =>
  [...new Set(checkEvent(payload).issues.map((i) => i.path))].sort();

describe('checkEvent', () => {
  it('accepts a valid event, as string or bytes', () => {
    const json = JSON.stringify(scanEvent());
    for (const payload of [json, Buffer.from(json)]) {
      const r = checkEvent(payload);
      expect(r.issues).toEqual([]);
      expect(r.event).toMatchObject({ type: 'retail.scan.v1', seq: 42, data: { text: '4006381333931' } });
    }
  });

  it('accepts valid status and alarm events', () => {
    const status = factory.create(
      'retail.device.status.v1',
      'lane-1',
      { deviceId: 'lane-1', kind: 'serial-scanner', state: 'connected', path: '/dev/ttyACM0', attempt: 0 },
      T0,
    );
    const alarm = factory.create(
      'retail.gateway.alarm.v1',
      'gateway',
      { alarm: 'disk-low', severity: 'warning', message: 'low' },
      T0,
    );
    expect(checkEvent(factory.serialize(status, 1)).issues).toEqual([]);
    expect(checkEvent(factory.serialize(alarm, 2)).issues).toEqual([]);
  });

  it('lists every envelope problem by path', () => {
    const e = scanEvent();
    e.seq = 0;
    e.id = 'not-a-uuid';
    e.time = '2025-01-02T03:04:05Z';
    e.extra = 1;
    delete e.bootid;
    expect(paths(JSON.stringify(e))).toEqual(['/', '/bootid', '/id', '/seq', '/time']);
  });

  it('lists data problems by path', () => {
    const e = scanEvent();
    e.data = { deviceId: 'lane-1', text: 7, aim: 'E0' };
    expect(paths(JSON.stringify(e))).toEqual(['/data/aim', '/data/symbology', '/data/text']);
  });

  it('refuses a UUID that is not version 7', () => {
    const e = scanEvent();
    e.id = '3b241101-e2bb-4255-8caf-4136c566a962';
    expect(paths(JSON.stringify(e))).toEqual(['/id']);
  });

  it('refuses a source that does not name store, gateway and device', () => {
    const e = scanEvent();
    e.source = '/stores/0421/gateways/gw-1';
    expect(paths(JSON.stringify(e))).toEqual(['/source']);
  });

  it('reports an unknown type at /type and still returns the event', () => {
    const e = { ...scanEvent(), type: 'retail.unknown.v1' };
    const r = checkEvent(JSON.stringify(e));
    expect(r.event?.type).toBe('retail.unknown.v1');
    expect(r.issues).toEqual([{ path: '/type', message: 'unknown event type retail.unknown.v1' }]);
  });

  // The whole document is wrong, not its `type`: reported at the root, with no event returned,
  // like a payload that is not JSON at all.
  it.each(['null', '42', '"text"', '[]', '[{}]'])('reports JSON that is not an object (%s) at /', (json) => {
    const r = checkEvent(json);
    expect(r.event).toBeNull();
    expect(r.issues).toEqual([{ path: '/', message: 'not a JSON object' }]);
  });

  it('reports an object without a type at /type', () => {
    const r = checkEvent('{}');
    expect(r.issues).toEqual([{ path: '/type', message: 'unknown event type undefined' }]);
  });

  it.each(['', '{', 'not json', '\u0000\u0001'])('reports a payload that is not JSON (%j)', (payload) => {
    const r = checkEvent(Buffer.from(payload));
    expect(r.event).toBeNull();
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]?.path).toBe('/');
    expect(r.issues[0]?.message).toMatch(/^not JSON: /);
  });
});
