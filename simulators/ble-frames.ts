/**
 * Advertising data as beacons put it on air, byte for byte (PROTOCOLS.md §5): the inverse of the
 * driver's parsers, for simulators and tests.
 */

const FLAGS = Buffer.from([0x02, 0x01, 0x06]);

const ad = (type: number, data: Buffer) => Buffer.concat([Buffer.from([data.length + 1, type]), data]);
const int8 = (v: number) => {
  const b = Buffer.alloc(1);
  b.writeInt8(v);
  return b;
};
const hex = (h: string) => Buffer.from(h.replace(/-/g, ''), 'hex');

export interface IBeaconFields {
  uuid: string;
  major: number;
  minor: number;
  measuredPower: number;
}

/** iBeacon manufacturer data: `4C 00 02 15` UUID major minor power (25 bytes). */
export function iBeaconManufacturerData(f: IBeaconFields): Buffer {
  const b = Buffer.alloc(25);
  b.writeUInt16LE(0x004c, 0);
  b[2] = 0x02;
  b[3] = 0x15;
  hex(f.uuid).copy(b, 4);
  b.writeUInt16BE(f.major, 20);
  b.writeUInt16BE(f.minor, 22);
  b.writeInt8(f.measuredPower, 24);
  return b;
}

/** Flags + `1A FF 4C 00 02 15 …`: 30 bytes. */
export function iBeaconAd(f: IBeaconFields, flags = 0x06): Buffer {
  return Buffer.concat([Buffer.from([0x02, 0x01, flags]), ad(0xff, iBeaconManufacturerData(f))]);
}

export interface AltBeaconFields {
  manufacturerId: number;
  /** 40 hex digits. */
  beaconId: string;
  refRssi: number;
  reserved?: number;
}

/** Flags + `1B FF mfg(LE) BE AC id(20) ref reserved`. */
export function altBeaconAd(f: AltBeaconFields): Buffer {
  const md = Buffer.alloc(26);
  md.writeUInt16LE(f.manufacturerId, 0);
  md[2] = 0xbe;
  md[3] = 0xac;
  hex(f.beaconId).copy(md, 4);
  md.writeInt8(f.refRssi, 24);
  md[25] = f.reserved ?? 0;
  return Buffer.concat([FLAGS, ad(0xff, md)]);
}

/** `03 03 AA FE` + `LL 16 AA FE frame`. */
export function eddystoneAd(frame: Buffer): Buffer {
  return Buffer.concat([
    FLAGS,
    ad(0x03, Buffer.from([0xaa, 0xfe])),
    ad(0x16, Buffer.concat([Buffer.from([0xaa, 0xfe]), frame])),
  ]);
}

export function eddystoneUidFrame(f: { txPower: number; namespace: string; instance: string }): Buffer {
  return Buffer.concat([
    Buffer.from([0x00]),
    int8(f.txPower),
    hex(f.namespace),
    hex(f.instance),
    Buffer.from([0, 0]),
  ]);
}

const SCHEMES = ['http://www.', 'https://www.', 'http://', 'https://'];
const EXPANSIONS = [
  '.com/',
  '.org/',
  '.edu/',
  '.net/',
  '.info/',
  '.biz/',
  '.gov/',
  '.com',
  '.org',
  '.edu',
  '.net',
  '.info',
  '.biz',
  '.gov',
];

/** Encodes a URL with the longest scheme and expansions that fit; throws when it needs more than 17 bytes. */
export function eddystoneUrlFrame(f: { txPower: number; url: string }): Buffer {
  const scheme = SCHEMES.findIndex((s) => f.url.startsWith(s));
  if (scheme < 0) throw new Error(`no Eddystone scheme for ${f.url}`);
  let rest = f.url.slice((SCHEMES[scheme] as string).length);
  const bytes: number[] = [];
  while (rest.length > 0) {
    const e = EXPANSIONS.findIndex((x) => rest.startsWith(x));
    if (e >= 0) {
      bytes.push(e);
      rest = rest.slice((EXPANSIONS[e] as string).length);
    } else {
      bytes.push(rest.charCodeAt(0));
      rest = rest.slice(1);
    }
  }
  if (bytes.length > 17) throw new Error(`URL too long for Eddystone: ${f.url}`);
  return Buffer.concat([Buffer.from([0x10]), int8(f.txPower), Buffer.from([scheme, ...bytes])]);
}

export function eddystoneTlmFrame(f: {
  batteryMv: number;
  temperatureC?: number;
  advCount: number;
  uptimeSec: number;
}): Buffer {
  const b = Buffer.alloc(14);
  b[0] = 0x20;
  b[1] = 0x00;
  b.writeUInt16BE(f.batteryMv, 2);
  b.writeInt16BE(f.temperatureC === undefined ? -0x8000 : Math.round(f.temperatureC * 256), 4);
  b.writeUInt32BE(f.advCount >>> 0, 6);
  b.writeUInt32BE(Math.round(f.uptimeSec * 10) >>> 0, 10);
  return b;
}

export function eddystoneEidFrame(f: { txPower: number; eid: string }): Buffer {
  return Buffer.concat([Buffer.from([0x30]), int8(f.txPower), hex(f.eid)]);
}

/** A phone that is not a beacon: flags and a complete local name. */
export function plainDeviceAd(name: string): Buffer {
  return Buffer.concat([FLAGS, ad(0x09, Buffer.from(name, 'utf8'))]);
}
