import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advertisementFromAd, encodeAdvertisement, parseAdStructures } from '../../drivers/ble-beacons/ad.js';
import {
  advertisedRssiAt1m,
  parseAltBeacon,
  parseBeacon,
  parseEddystone,
  parseIBeacon,
} from '../../drivers/ble-beacons/frames.js';
import {
  altBeaconAd,
  eddystoneAd,
  eddystoneEidFrame,
  eddystoneTlmFrame,
  eddystoneUidFrame,
  eddystoneUrlFrame,
  iBeaconAd,
} from '../../simulators/ble-frames.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const parseAd = (hex: string) => parseBeacon(advertisementFromAd(h(hex)));
const FUZZ_RUNS = 100_000;

describe('byte-exact frames (advertising data as on air)', () => {
  it('iBeacon: flags, 1A FF 4C 00 02 15, UUID, major, minor (big-endian), measured power', () => {
    const adv = '02 01 06 1A FF 4C 00 02 15 B9 40 7F 30 F5 F8 46 6E AF F9 25 55 6B 57 FE 6D 30 39 D4 31 B6';
    expect(parseAd(adv)).toEqual({
      ok: true,
      value: {
        format: 'ibeacon',
        uuid: 'b9407f30-f5f8-466e-aff9-25556b57fe6d',
        major: 12345,
        minor: 54321,
        measuredPower: -74,
      },
    });
    // Flags 02 01 1A (forforf/multi_beacon) parse the same.
    expect(parseAd(adv.replace('02 01 06', '02 01 1A'))).toMatchObject({ ok: true, value: { major: 12345 } });
  });

  it('AltBeacon: 1B FF, maker id little-endian, BE AC, 20-byte id, reference RSSI, reserved', () => {
    const adv =
      '02 01 06 1B FF 18 01 BE AC 2F 23 44 54 CF 6D 4A 0F AD F2 F4 91 1B A9 FF A6 00 01 00 02 C5 00';
    expect(parseAd(adv)).toEqual({
      ok: true,
      value: {
        format: 'altbeacon',
        manufacturerId: 0x0118,
        beaconId: '2f234454cf6d4a0fadf2f4911ba9ffa600010002',
        refRssi: -59,
        reserved: 0,
      },
    });
  });

  it('Eddystone-UID: Tx at 0 m, 10-byte namespace, 6-byte instance', () => {
    const adv =
      '02 01 06 03 03 AA FE 17 16 AA FE 00 E7 ED D1 EB EA C0 4E 5D EF A0 17 0A 0B 0C 0D 0E 0F 00 00';
    const r = parseAd(adv);
    expect(r).toEqual({
      ok: true,
      value: {
        format: 'eddystone-uid',
        txPower: -25,
        namespace: 'edd1ebeac04e5defa017',
        instance: '0a0b0c0d0e0f',
      },
    });
    expect(r.ok && advertisedRssiAt1m(r.value)).toBe(-66);
  });

  it('Eddystone-URL: scheme prefix and expansion codes', () => {
    // 0x00 "http://www." + "example" + 0x07 ".com"
    expect(parseAd('03 03 AA FE 0E 16 AA FE 10 EB 00 65 78 61 6D 70 6C 65 07')).toEqual({
      ok: true,
      value: { format: 'eddystone-url', txPower: -21, url: 'http://www.example.com' },
    });
    // 0x03 "https://" + "goo.gl/x" ; 0x00 ".com/" mid-string
    expect(parseEddystone(h('10 00 03 61 00 62'))).toEqual({
      ok: true,
      value: { format: 'eddystone-url', txPower: 0, url: 'https://a.com/b' },
    });
    expect(parseEddystone(h('10 00 04 61'))).toMatchObject({ ok: false, error: 'bad-url' });
    expect(parseEddystone(h('10 00 02 20'))).toMatchObject({ ok: false, error: 'bad-url' });
  });

  it('Eddystone-TLM: battery mV, 8.8 temperature, advertisement count, uptime in 0.1 s', () => {
    const adv = '03 03 AA FE 11 16 AA FE 20 00 0B B8 17 80 00 00 12 34 00 00 27 11';
    expect(parseAd(adv)).toEqual({
      ok: true,
      value: {
        format: 'eddystone-tlm',
        version: 0,
        batteryMv: 3000,
        temperatureC: 23.5,
        advCount: 0x1234,
        uptimeSec: 1000.1,
      },
    });
    // 0x8000 = no temperature; battery 0 = not measured; negative temperature
    expect(parseEddystone(h('20 00 00 00 80 00 00 00 00 01 00 00 00 0A'))).toEqual({
      ok: true,
      value: { format: 'eddystone-tlm', version: 0, advCount: 1, uptimeSec: 1 },
    });
    expect(parseEddystone(h('20 00 0A 00 FF 80 00 00 00 01 00 00 00 0A'))).toMatchObject({
      ok: true,
      value: { batteryMv: 2560, temperatureC: -0.5 },
    });
    expect(parseEddystone(h('20 01 00'))).toMatchObject({ ok: false, error: 'tlm-version' });
  });

  it('Eddystone-EID: Tx and 8-byte ephemeral id', () => {
    expect(parseAd('03 03 AA FE 0D 16 AA FE 30 E7 01 02 03 04 05 06 07 08')).toEqual({
      ok: true,
      value: { format: 'eddystone-eid', txPower: -25, eid: '0102030405060708' },
    });
  });

  it('typed errors: truncated headers, unknown Eddystone frames, non-beacons', () => {
    expect(parseIBeacon(h('4C 00 02 15 01 02'))).toMatchObject({ ok: false, error: 'truncated' });
    expect(parseAltBeacon(h('18 01 BE AC 01'))).toMatchObject({ ok: false, error: 'truncated' });
    expect(parseEddystone(h('00 E7 01'))).toMatchObject({ ok: false, error: 'truncated' });
    expect(parseEddystone(h('40 00'))).toMatchObject({ ok: false, error: 'eddystone-unknown' });
    expect(parseEddystone(Buffer.alloc(0))).toMatchObject({ ok: false, error: 'truncated' });
    expect(parseAd('02 01 06 05 09 50 68 6F 6E')).toEqual({ ok: false, error: 'no-beacon' });
    expect(parseIBeacon(h('4D 00 02 15'))).toEqual({ ok: false, error: 'no-beacon' });
  });

  it('AD structures: zero length ends the data, a length past the end is reported', () => {
    expect(parseAdStructures(h('02 01 06 00 FF FF'))).toEqual({
      structures: [{ type: 0x01, data: h('06') }],
      truncated: false,
    });
    expect(parseAdStructures(h('02 01 06 05 09 41'))).toMatchObject({
      truncated: true,
      structures: [{ type: 1 }],
    });
  });
});

describe('property: encode as a beacon does, parse back the same fields', () => {
  const hexOf = (n: number) =>
    fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a).toString('hex'));
  const int8 = fc.integer({ min: -128, max: 127 });

  it('iBeacon', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        int8,
        (uuid, major, minor, measuredPower) => {
          const r = parseBeacon(advertisementFromAd(iBeaconAd({ uuid, major, minor, measuredPower })));
          expect(r).toEqual({
            ok: true,
            value: { format: 'ibeacon', uuid: uuid.toLowerCase(), major, minor, measuredPower },
          });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('AltBeacon', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        hexOf(20),
        int8,
        fc.integer({ min: 0, max: 255 }),
        (manufacturerId, beaconId, refRssi, reserved) => {
          const r = parseBeacon(
            advertisementFromAd(altBeaconAd({ manufacturerId, beaconId, refRssi, reserved })),
          );
          // A maker id of 0x004C with BE AC is still AltBeacon: iBeacon needs 02 15.
          expect(r).toEqual({
            ok: true,
            value: { format: 'altbeacon', manufacturerId, beaconId, refRssi, reserved },
          });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('Eddystone UID, TLM, EID and URL', () => {
    fc.assert(
      fc.property(int8, hexOf(10), hexOf(6), hexOf(8), (txPower, namespace, instance, eid) => {
        expect(
          parseBeacon(advertisementFromAd(eddystoneAd(eddystoneUidFrame({ txPower, namespace, instance })))),
        ).toEqual({
          ok: true,
          value: { format: 'eddystone-uid', txPower, namespace, instance },
        });
        expect(parseBeacon(advertisementFromAd(eddystoneAd(eddystoneEidFrame({ txPower, eid }))))).toEqual({
          ok: true,
          value: { format: 'eddystone-eid', txPower, eid },
        });
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: -127 * 256, max: 127 * 256 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (batteryMv, temp256, advCount, uptimeTenths) => {
          const frame = eddystoneTlmFrame({
            batteryMv,
            temperatureC: temp256 / 256,
            advCount,
            uptimeSec: uptimeTenths / 10,
          });
          expect(parseEddystone(frame)).toEqual({
            ok: true,
            value: {
              format: 'eddystone-tlm',
              version: 0,
              batteryMv,
              temperatureC: temp256 / 256,
              advCount,
              uptimeSec: uptimeTenths / 10,
            },
          });
        },
      ),
      { numRuns: 2000 },
    );
    const urlChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_~'.split(''));
    fc.assert(
      fc.property(
        int8,
        fc.constantFrom('http://www.', 'https://www.', 'http://', 'https://'),
        fc.array(urlChar, { minLength: 1, maxLength: 10 }),
        fc.constantFrom('', '.com/', '.org', '.info/x'),
        (txPower, scheme, host, tail) => {
          const url = `${scheme}${host.join('')}${tail}`;
          expect(parseBeacon(advertisementFromAd(eddystoneAd(eddystoneUrlFrame({ txPower, url }))))).toEqual({
            ok: true,
            value: { format: 'eddystone-url', txPower, url },
          });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('encodeAdvertisement is the inverse of advertisementFromAd for what noble reports', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 62 }), (bytes) => {
        const adv = advertisementFromAd(Buffer.from(bytes));
        expect(advertisementFromAd(encodeAdvertisement(adv))).toEqual(adv);
      }),
      { numRuns: 5000 },
    );
    for (const edge of ['02 16 01', '01 16', '03 20 01 02', '02 0A 80 03 FF 4C 00']) {
      const adv = advertisementFromAd(h(edge));
      expect(advertisementFromAd(encodeAdvertisement(adv)), edge).toEqual(adv);
    }
  });
});

describe('fuzzing: 100,000 random inputs per parser, never a throw', () => {
  const bytes = fc.uint8Array({ maxLength: 40 });

  it('parseAdStructures / advertisementFromAd', () => {
    fc.assert(
      fc.property(bytes, bytes, (a, b) => {
        const parsed = parseAdStructures(Buffer.from(a));
        expect(Array.isArray(parsed.structures)).toBe(true);
        expect(Array.isArray(advertisementFromAd(Buffer.from(a), Buffer.from(b)).serviceData)).toBe(true);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('parseIBeacon / parseAltBeacon on manufacturer data, biased to their headers', () => {
    const md = fc.oneof(
      bytes,
      bytes.map((a) => Buffer.concat([Buffer.from([0x4c, 0x00, 0x02, 0x15]), Buffer.from(a)])),
      bytes.map((a) => Buffer.concat([Buffer.from([0x18, 0x01, 0xbe, 0xac]), Buffer.from(a)])),
    );
    fc.assert(
      fc.property(md, (m) => {
        const buf = Buffer.from(m);
        for (const r of [parseIBeacon(buf), parseAltBeacon(buf)]) expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('parseEddystone, biased to the four frame types', () => {
    const frame = fc.tuple(
      fc.constantFrom(0x00, 0x10, 0x20, 0x30, 0x40, 0xff),
      fc.uint8Array({ maxLength: 24 }),
    );
    fc.assert(
      fc.property(frame, ([type, rest]) => {
        const r = parseEddystone(Buffer.from([type, ...rest]));
        if (!r.ok) expect(['truncated', 'bad-url', 'tlm-version', 'eddystone-unknown']).toContain(r.error);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('parseBeacon on random advertising data', () => {
    const withHeader = fc
      .tuple(
        fc.constantFrom('1aff4c000215', '1bff1801beac', '0303aafe1716aafe00', '0c16aafe10', '1116aafe20'),
        bytes,
      )
      .map(([head, rest]) => Buffer.concat([Buffer.from(head, 'hex'), Buffer.from(rest)]));
    fc.assert(
      fc.property(
        fc.oneof(
          bytes.map((a) => Buffer.from(a)),
          withHeader,
        ),
        (adv) => {
          const r = parseBeacon(advertisementFromAd(adv));
          expect(typeof r.ok).toBe('boolean');
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });
});
