import { describe, expect, it } from 'vitest';
import { buildZoneMap, merakiSightings, toDbm } from '../../drivers/wifi-presence/meraki.js';
import { MerakiPost } from '../../drivers/wifi-presence/meraki-schema.js';
import { iBeaconAd } from '../../simulators/ble-frames.js';
import { merakiBody } from '../../simulators/meraki.js';
import { DEMO_STORE_MAP, LOYALTY_UUID, zonesConfig } from '../../simulators/store-map.js';
import { createAjv, describeErrors } from '../../src/schema/ajv.js';

const validate = createAjv({ allErrors: true }).compile(MerakiPost);
const zones = buildZoneMap(zonesConfig(DEMO_STORE_MAP) as never);
const NOW = Date.parse('2026-11-24T10:00:00.000Z');
const AP = DEMO_STORE_MAP.accessPoints.map((a) => a.mac);
const opts = { zones, zoneBy: 'auto' as const, noiseFloorDbm: -95, nowMs: NOW };
const fakeHash = (mac: string) => `h-${mac.length}`;
const issues = (body: unknown) => (validate(body) ? [] : describeErrors(validate.errors));

describe('Meraki post validation', () => {
  it('accepts WiFi, BLE and Bluetooth posts, numbers as strings or numbers', () => {
    for (const type of ['WiFi', 'BLE', 'Bluetooth'] as const) {
      for (const numbersAsStrings of [true, false]) {
        const body = merakiBody(
          [{ mac: 'aa:bb:cc:00:00:01', position: [2, 3], rssi: { [AP[0] as string]: 40 }, time: NOW }],
          {
            secret: 's',
            type,
            numbersAsStrings,
          },
        );
        expect(issues(body), `${type} ${numbersAsStrings}`).toEqual([]);
      }
    }
    expect(issues({ version: 3, secret: 's', type: 'WiFi', data: { observations: [] } })).toEqual([]);
  });

  it('names the failing path', () => {
    const body = merakiBody([{ mac: 'aa:bb:cc:00:00:01', rssi: {}, time: NOW }], {
      secret: 's',
      type: 'WiFi',
    }) as {
      data: { observations: Record<string, unknown>[] };
    };
    (body.data.observations[0] as Record<string, unknown>).clientMac = 'nope';
    expect(issues(body).map((i) => i.path)).toContain('/data/observations/0/clientMac');
    expect(issues({ ...body, type: 'DevicesSeen' }).map((i) => i.path)).toContain('/type');
    expect(issues({ ...body, version: '2.0' }).map((i) => i.path)).toContain('/version');
    const badRssi = merakiBody(
      [{ mac: 'aa:bb:cc:00:00:01', position: [1, 1], rssi: { [AP[0] as string]: 40 }, time: NOW }],
      {
        secret: 's',
        type: 'WiFi',
      },
    ) as { data: { observations: { locations: { rssiRecords: { rssi: unknown }[] }[] }[] } };
    (badRssi.data.observations[0]?.locations[0]?.rssiRecords[0] as { rssi: unknown }).rssi = 'loud';
    expect(issues(badRssi).map((i) => i.path)).toContain(
      '/data/observations/0/locations/0/rssiRecords/0/rssi',
    );
  });
});

describe('Meraki observations to zones (pure)', () => {
  it('RSSI above the noise floor becomes dBm; a negative value is dBm already', () => {
    expect(toDbm(40, -95)).toBe(-55);
    expect(toDbm('40', -95)).toBe(-55);
    expect(toDbm(' -61 ', -95)).toBe(-61);
    expect(toDbm('x', -95)).toBeUndefined();
  });

  it('maps x/y into the polygon that contains it (located: distance 0)', () => {
    const body = merakiBody(
      [
        {
          mac: '3c:22:fb:00:00:01',
          position: [15, 12],
          rssi: { [AP[3] as string]: 45, [AP[0] as string]: 20 },
          time: NOW - 5000,
        },
      ],
      { secret: 's', type: 'WiFi', numbersAsStrings: true },
    );
    expect(validate(body)).toBe(true);
    const r = merakiSightings(body as never, opts, fakeHash, () => false);
    expect(r.unmapped).toBe(0);
    expect(r.clients).toEqual([
      {
        subject: 'h-17',
        randomizedMac: false,
        frames: [],
        sightings: [{ time: NOW - 5000, zone: 'dairy', rssi: -50, inside: true }],
      },
    ]);
  });

  it('by access point: the strongest RSSI per zone, from rssiRecords or latestRecord', () => {
    const located = merakiBody(
      [
        {
          mac: '3c:22:fb:00:00:01',
          position: [99, 99],
          rssi: { [AP[0] as string]: 30, [AP[1] as string]: 50 },
          time: NOW,
        },
      ],
      { secret: 's', type: 'WiFi' },
    );
    const a = merakiSightings(located as never, opts, fakeHash, () => false);
    expect(a.clients[0]?.sightings).toEqual([
      { time: NOW, zone: 'entrance', rssi: -65, inside: false },
      { time: NOW, zone: 'checkout', rssi: -45, inside: false },
    ]);
    const latest = merakiBody(
      [{ mac: '3c:22:fb:00:00:01', rssi: { [AP[2] as string]: 33 }, time: NOW - 1000 }],
      {
        secret: 's',
        type: 'WiFi',
      },
    );
    expect(merakiSightings(latest as never, opts, fakeHash, () => false).clients[0]?.sightings).toEqual([
      { time: NOW - 1000, zone: 'produce', rssi: -62, inside: false },
    ]);
    const polygonOnly = merakiSightings(
      latest as never,
      { ...opts, zoneBy: 'polygon' },
      fakeHash,
      () => false,
    );
    expect(polygonOnly.unmapped).toBe(1);
  });

  it('zoneBy "ap" ignores polygons', () => {
    const body = merakiBody(
      [{ mac: '3c:22:fb:00:00:01', position: [15, 12], rssi: { [AP[0] as string]: 45 }, time: NOW }],
      {
        secret: 's',
        type: 'WiFi',
      },
    );
    expect(
      merakiSightings(body as never, { ...opts, zoneBy: 'ap' }, fakeHash, () => false).clients[0]?.sightings,
    ).toEqual([{ time: NOW, zone: 'entrance', rssi: -50, inside: false }]);
  });

  it('BLE posts carry the beacon frames parsed from rawData; only the callback sees the MAC', () => {
    const raw = iBeaconAd({ uuid: LOYALTY_UUID, major: 100, minor: 1234, measuredPower: -59 }).toString(
      'hex',
    );
    const seen: string[] = [];
    for (const type of ['BLE', 'Bluetooth'] as const) {
      const body = merakiBody(
        [
          {
            mac: 'c1:5a:00:00:00:09',
            position: [2, 2],
            rssi: { [AP[0] as string]: 40 },
            time: NOW,
            bleRawData: raw,
          },
        ],
        {
          secret: 's',
          type,
        },
      );
      const r = merakiSightings(
        body as never,
        opts,
        (mac) => {
          seen.push(mac);
          return 'pseudonym';
        },
        () => false,
      );
      expect(r.clients[0]?.frames).toEqual([
        { format: 'ibeacon', uuid: LOYALTY_UUID, major: 100, minor: 1234, measuredPower: -59 },
      ]);
      expect(JSON.stringify(r)).not.toContain('c1:5a');
    }
    expect(seen).toEqual(['c1:5a:00:00:00:09', 'c1:5a:00:00:00:09']);
  });
});
