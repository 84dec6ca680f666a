import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BleReading } from '../../drivers/ble-beacons/reading.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { EventType } from '../../src/events/catalog.js';
import { EventFactory } from '../../src/events/envelope.js';
import { PresenceEngine } from '../../src/presence/engine.js';
import { BeaconHealth } from '../../src/presence/health.js';
import { presenceConfigIssues, toTuning } from '../../src/presence/module.js';
import { BeaconRegistry } from '../../src/presence/registry.js';
import { PresenceService } from '../../src/presence/service.js';
import { KeyStore } from '../../src/privacy/key-store.js';
import { Pseudonymizer } from '../../src/privacy/pseudonymizer.js';
import { tmpDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-11-24T23:59:00.000Z');
const NS = '53746f72654265616331';
const LOYALTY = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';
const dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

function setup(extra: Record<string, unknown> = {}) {
  const dir = tmpDir('sg-presence-');
  dirs.push(dir);
  const checked = validateConfig({
    store: { id: '0421' },
    gateway: { id: 'gw' },
    buffer: { path: join(dir.path, 'buffer.db') },
    registry: {
      beacons: [{ id: 'beacon-1', zone: 'dairy', eddystone: { namespace: NS, instance: '000000000001' } }],
      tags: [
        { id: 'loyalty-app', ibeacon: { uuid: LOYALTY, major: 100 } },
        { id: 'vip-app', ibeacon: { uuid: LOYALTY, major: 200 }, identity: 'clear' },
      ],
    },
    presence: { ble: { minDwellSec: 0 }, health: { missingAfterSec: 60 } },
    ...extra,
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  const config = checked.config;
  const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw' });
  const events: { device: string; type: EventType; data: Record<string, unknown>; time: number }[] = [];
  const registry = new BeaconRegistry(config.registry);
  const service = new PresenceService({
    engine: new PresenceEngine({
      ble: toTuning(config.presence.ble),
      wifi: toTuning(config.presence.wifi),
      dwellEveryMs: 0,
      maxSubjects: 100,
    }),
    registry,
    health: new BeaconHealth(registry.beacons, { batteryLowMv: 2500, missingAfterMs: 60_000 }, T0),
    pseudonymizer: new Pseudonymizer(new KeyStore({ file: join(dir.path, 'key.json'), rotateAtUtcHour: 0 }), {
      storeId: '0421',
      length: 16,
    }),
    presence: config.presence,
    ignoreRandomized: false,
    emit: (device, type, data, time) => {
      factory.create(type, device, data, time); // validates against the published schema
      events.push({ device, type, data: data as Record<string, unknown>, time });
    },
  });
  return { service, events, config };
}

function reading(
  service: PresenceService,
  time: number,
  address: string,
  frame: BleReading['frame'],
  rssi = -60,
): BleReading {
  return {
    receiver: 'ble-1',
    zone: 'dairy',
    time,
    rssi,
    address: service.pseudonymize('ble', address, time),
    addressKind: 'random-static',
    randomized: false,
    ...(frame ? { frame } : { frameError: 'no-beacon' as const }),
    unmatched: 'count',
  };
}

describe('PresenceService: readings → events (schema-checked)', () => {
  it('fixed beacons: TLM finds its beacon by address; battery-low, missing and ok again', () => {
    const { service, events } = setup();
    const uid = { format: 'eddystone-uid' as const, txPower: -20, namespace: NS, instance: '000000000001' };
    const tlm = (batteryMv: number) => ({
      format: 'eddystone-tlm' as const,
      version: 0 as const,
      batteryMv,
      temperatureC: 21,
      advCount: 5,
      uptimeSec: 9,
    });
    service.reading(reading(service, T0, 'd05eac000001', tlm(2300)));
    expect(events).toEqual([]); // a TLM from an address not yet tied to a beacon
    service.reading(reading(service, T0 + 1000, 'd05eac000001', uid, -70));
    service.reading(reading(service, T0 + 2000, 'd05eac000001', tlm(2300)));
    expect(events.map((e) => [e.device, e.type, e.data.status, e.data.previous])).toEqual([
      ['beacon-1', 'retail.beacon.health.v1', 'battery-low', 'ok'],
    ]);
    expect(events[0]?.data).toMatchObject({ zone: 'dairy', batteryMv: 2300, temperatureC: 21, rssi: -70 });
    service.tick(T0 + 2000 + 61_000);
    expect(events.at(-1)?.data).toMatchObject({ status: 'missing', previous: 'battery-low' });
    service.reading(reading(service, T0 + 70_000, 'd05eac000001', uid));
    service.reading(reading(service, T0 + 71_000, 'd05eac000001', tlm(3000)));
    // Heard again: still battery-low by its last telemetry, until a new TLM says otherwise.
    expect(events.slice(-2).map((e) => [e.data.status, e.data.previous])).toEqual([
      ['battery-low', 'missing'],
      ['ok', 'battery-low'],
    ]);
    expect(events.at(-1)?.data).toMatchObject({ batteryMv: 3000 });
  });

  it('a beacon never heard goes missing after missingAfter from start', () => {
    const { service, events } = setup();
    service.tick(T0 + 59_000);
    expect(events).toEqual([]);
    service.tick(T0 + 61_000);
    expect(events.map((e) => e.data)).toEqual([
      { beaconId: 'beacon-1', zone: 'dairy', status: 'missing', previous: 'unknown' },
    ]);
  });

  it('tags: hashed by default, the app token in clear when configured; unknown devices only counted', () => {
    const { service, events } = setup();
    const ib = (major: number, minor: number) => ({
      format: 'ibeacon' as const,
      uuid: LOYALTY,
      major,
      minor,
      measuredPower: -59,
    });
    service.reading(reading(service, T0, 'c15a00000001', ib(100, 1234)));
    service.reading(reading(service, T0, 'c15a00000002', ib(200, 77)));
    service.reading(reading(service, T0, 'c15a00000003', undefined));
    const enters = events.filter((e) => e.type === 'retail.presence.enter.v1');
    expect(enters.map((e) => [e.data.tag, e.data.subjectType, e.data.source])).toEqual([
      ['loyalty-app', 'tag', 'ble'],
      ['vip-app', 'tag', 'ble'],
    ]);
    expect(enters[0]?.data.subject).toMatch(/^[0-9a-f]{16}$/);
    expect(enters[1]?.data.subject).toBe(`${LOYALTY}/200/77`);
    expect(service.counts.ble).toMatchObject({ tag: 2, unmatched: 1, device: 0 });
  });

  it('unmatched: track makes every device a subject by its hashed address, flagged if randomized', () => {
    const { service, events } = setup();
    service.reading({
      ...reading(service, T0, '4a0000000001', undefined),
      unmatched: 'track',
      randomized: true,
    });
    expect(events[0]?.data).toMatchObject({ subjectType: 'device', randomized: true });
  });

  it('the daily key rotation closes open visits with reason "rotation"', () => {
    const { service, events } = setup();
    const ib = { format: 'ibeacon' as const, uuid: LOYALTY, major: 100, minor: 1, measuredPower: -59 };
    service.reading(reading(service, T0, 'c15a00000001', ib));
    service.tick(T0 + 1000);
    service.tick(T0 + 61_000); // past midnight UTC: a new key period
    const exit = events.find((e) => e.type === 'retail.presence.exit.v1');
    expect(exit?.data).toMatchObject({ reason: 'rotation', epoch: '2026-11-24' });
  });
});

describe('presence config rules', () => {
  it('lists cross-field problems by path', () => {
    const { config } = setup();
    const bad: Config = {
      ...config,
      registry: {
        beacons: [{ id: 'b', eddystone: { namespace: NS }, ibeacon: { uuid: LOYALTY } }],
        tags: [{ id: 't', identity: 'hashed' }],
      },
      presence: { ...config.presence, ble: { ...config.presence.ble, enterMeters: 6, exitMeters: 5 } },
      wifi: { meraki: { ...config.wifi.meraki, enabled: true } },
      zones: [{ id: 'a' }, { id: 'a' }],
    };
    expect(presenceConfigIssues(bad).map((i) => i.path)).toEqual([
      '/registry/beacons/0',
      '/registry/tags/0',
      '/presence/ble/exitMeters',
      '/zones/1/id',
      '/wifi/meraki/secretFile',
      '/wifi/meraki/validatorFile',
    ]);
  });
});
