import { err, ok, type Result } from '../../src/result.js';
import type { BleAdvertisement } from './ad.js';

/**
 * Beacon formats from noble's advertisement fields (PROTOCOLS.md §5). Pure: bytes in, a typed frame
 * or a typed reason out; never throws, whatever the bytes.
 */

export interface IBeaconFrame {
  format: 'ibeacon';
  /** 8-4-4-4-12 lower-case hex. */
  uuid: string;
  major: number;
  minor: number;
  /** RSSI at 1 m (int8). */
  measuredPower: number;
}

export interface AltBeaconFrame {
  format: 'altbeacon';
  manufacturerId: number;
  /** The 20-byte beacon id as 40 lower-case hex digits. */
  beaconId: string;
  /** Reference RSSI at 1 m (int8). */
  refRssi: number;
  reserved: number;
}

export interface EddystoneUidFrame {
  format: 'eddystone-uid';
  /** Calibrated Tx power at 0 m (int8). */
  txPower: number;
  /** 10 bytes, 20 hex digits. */
  namespace: string;
  /** 6 bytes, 12 hex digits. */
  instance: string;
}

export interface EddystoneUrlFrame {
  format: 'eddystone-url';
  txPower: number;
  url: string;
}

export interface EddystoneTlmFrame {
  format: 'eddystone-tlm';
  version: 0;
  /** Battery voltage in mV; absent when the beacon reports 0 (not measured). */
  batteryMv?: number;
  /** °C with 1/256 resolution; absent when the beacon reports 0x8000 (not measured). */
  temperatureC?: number;
  advCount: number;
  /** Time since power-on, seconds (0.1 s resolution). */
  uptimeSec: number;
}

export interface EddystoneEidFrame {
  format: 'eddystone-eid';
  txPower: number;
  /** 8 bytes, 16 hex digits. */
  eid: string;
}

export type BeaconFrame =
  | IBeaconFrame
  | AltBeaconFrame
  | EddystoneUidFrame
  | EddystoneUrlFrame
  | EddystoneTlmFrame
  | EddystoneEidFrame;

export type BeaconFormat = BeaconFrame['format'];

export type FrameError =
  /** None of the formats: not a beacon, or one we do not know. */
  | 'no-beacon'
  /** The format's header is there, the rest is too short. */
  | 'truncated'
  /** Eddystone-URL with an unknown scheme or a byte that is not URL text. */
  | 'bad-url'
  /** Eddystone-TLM other than version 0 (e.g. encrypted eTLM). */
  | 'tlm-version'
  /** Eddystone frame type not in the spec. */
  | 'eddystone-unknown';

export const EDDYSTONE_UUID = 'feaa';
const APPLE = 0x004c;

const uuidString = (hex: string) =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;

/** iBeacon: `4C 00 02 15`, 16-byte UUID, major and minor (big-endian), measured power. */
export function parseIBeacon(md: Buffer): Result<IBeaconFrame, FrameError> {
  if (md.length < 4 || md.readUInt16LE(0) !== APPLE || md[2] !== 0x02 || md[3] !== 0x15)
    return err('no-beacon');
  if (md.length < 25) return err('truncated', `${md.length} bytes`);
  return ok({
    format: 'ibeacon',
    uuid: uuidString(md.subarray(4, 20).toString('hex')),
    major: md.readUInt16BE(20),
    minor: md.readUInt16BE(22),
    measuredPower: md.readInt8(24),
  });
}

/** AltBeacon: maker id (LE), `BE AC`, 20-byte id, reference RSSI, reserved byte. */
export function parseAltBeacon(md: Buffer): Result<AltBeaconFrame, FrameError> {
  if (md.length < 4 || md[2] !== 0xbe || md[3] !== 0xac) return err('no-beacon');
  if (md.length < 26) return err('truncated', `${md.length} bytes`);
  return ok({
    format: 'altbeacon',
    manufacturerId: md.readUInt16LE(0),
    beaconId: md.subarray(4, 24).toString('hex'),
    refRssi: md.readInt8(24),
    reserved: md[25] as number,
  });
}

const URL_SCHEMES = ['http://www.', 'https://www.', 'http://', 'https://'] as const;
const URL_EXPANSIONS = [
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
] as const;

function decodeUrl(scheme: number, body: Buffer): Result<string, FrameError> {
  const prefix = URL_SCHEMES[scheme];
  if (prefix === undefined) return err('bad-url', `scheme ${scheme}`);
  let url = prefix;
  for (const b of body) {
    const expansion = URL_EXPANSIONS[b];
    if (expansion !== undefined) url += expansion;
    else if (b > 0x20 && b < 0x7f) url += String.fromCharCode(b);
    else return err('bad-url', `byte 0x${b.toString(16).padStart(2, '0')}`);
  }
  return ok(url);
}

/** One Eddystone frame: the service data of UUID 0xFEAA. Frame type is the high nibble of byte 0. */
export function parseEddystone(data: Buffer): Result<BeaconFrame, FrameError> {
  if (data.length < 1) return err('truncated', '0 bytes');
  const type = (data[0] as number) & 0xf0;
  switch (type) {
    case 0x00:
      if (data.length < 18) return err('truncated', `UID ${data.length} bytes`);
      return ok({
        format: 'eddystone-uid',
        txPower: data.readInt8(1),
        namespace: data.subarray(2, 12).toString('hex'),
        instance: data.subarray(12, 18).toString('hex'),
      });
    case 0x10: {
      if (data.length < 3) return err('truncated', `URL ${data.length} bytes`);
      if (data.length > 20) return err('bad-url', `${data.length - 3} bytes of URL (at most 17)`);
      const url = decodeUrl(data[2] as number, data.subarray(3));
      return url.ok ? ok({ format: 'eddystone-url', txPower: data.readInt8(1), url: url.value }) : url;
    }
    case 0x20: {
      if (data.length < 2) return err('truncated', `TLM ${data.length} bytes`);
      if (data[1] !== 0) return err('tlm-version', `version ${data[1]}`);
      if (data.length < 14) return err('truncated', `TLM ${data.length} bytes`);
      const battery = data.readUInt16BE(2);
      const temp = data.readInt16BE(4);
      return ok({
        format: 'eddystone-tlm',
        version: 0,
        ...(battery === 0 ? {} : { batteryMv: battery }),
        ...(temp === -0x8000 ? {} : { temperatureC: temp / 256 }),
        advCount: data.readUInt32BE(6),
        uptimeSec: data.readUInt32BE(10) / 10,
      });
    }
    case 0x30:
      if (data.length < 10) return err('truncated', `EID ${data.length} bytes`);
      return ok({
        format: 'eddystone-eid',
        txPower: data.readInt8(1),
        eid: data.subarray(2, 10).toString('hex'),
      });
    default:
      return err('eddystone-unknown', `frame type 0x${type.toString(16)}`);
  }
}

/**
 * The beacon frame in an advertisement: iBeacon or AltBeacon in the manufacturer data, otherwise
 * Eddystone in the 0xFEAA service data. A header that matches but is cut short is reported as such.
 */
export function parseBeacon(
  adv: Pick<BleAdvertisement, 'manufacturerData' | 'serviceData'>,
): Result<BeaconFrame, FrameError> {
  const md = adv.manufacturerData;
  if (md && md.length > 0) {
    const ib = parseIBeacon(md);
    if (ib.ok || ib.error !== 'no-beacon') return ib;
    const alt = parseAltBeacon(md);
    if (alt.ok || alt.error !== 'no-beacon') return alt;
  }
  const eddystone = adv.serviceData?.find((s) => s.uuid === EDDYSTONE_UUID);
  if (eddystone) return parseEddystone(eddystone.data);
  return err('no-beacon');
}

/** RSSI at 1 m the frame advertises, for the distance estimate; undefined for TLM. */
export function advertisedRssiAt1m(frame: BeaconFrame): number | undefined {
  switch (frame.format) {
    case 'ibeacon':
      return frame.measuredPower;
    case 'altbeacon':
      return frame.refRssi;
    case 'eddystone-uid':
    case 'eddystone-url':
    case 'eddystone-eid':
      // Eddystone advertises Tx power at 0 m; 41 dB is the loss over the first metre.
      return frame.txPower - 41;
    default:
      return undefined;
  }
}
