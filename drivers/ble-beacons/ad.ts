/**
 * Advertising data (AD structures, Core spec Vol 3 Part C 11) to the fields noble reports, and back.
 * Pure. `advertisementFromAd` reads bytes the way noble's hci-socket `Gap.parseServices` does, so
 * replayed recordings and live adapters give the driver the same values.
 */

export interface ServiceData {
  /** Lower-case hex, as noble gives it: 'feaa' for Eddystone. */
  uuid: string;
  data: Buffer;
}

/** The part of noble's `peripheral.advertisement` the driver uses. */
export interface BleAdvertisement {
  localName?: string;
  txPowerLevel?: number;
  manufacturerData?: Buffer;
  serviceData: ServiceData[];
  serviceUuids: string[];
}

export interface AdStructure {
  type: number;
  data: Buffer;
}

export interface AdParse {
  structures: AdStructure[];
  /** A length byte pointed past the end; the structures before it are kept. */
  truncated: boolean;
}

/** Splits advertising data into AD structures. A zero length byte ends the data (padding). */
export function parseAdStructures(bytes: Buffer): AdParse {
  const structures: AdStructure[] = [];
  let i = 0;
  while (i < bytes.length) {
    const length = bytes[i] as number;
    if (length === 0) break;
    if (i + 1 + length > bytes.length) return { structures, truncated: true };
    structures.push({ type: bytes[i + 1] as number, data: bytes.subarray(i + 2, i + 1 + length) });
    i += 1 + length;
  }
  return { structures, truncated: false };
}

const reversedHex = (b: Buffer) => Buffer.from(b).reverse().toString('hex');

function apply(adv: BleAdvertisement, { type, data }: AdStructure): void {
  switch (type) {
    case 0x02:
    case 0x03:
      for (let j = 0; j + 1 < data.length; j += 2) addUuid(adv, data.readUInt16LE(j).toString(16));
      break;
    case 0x06:
    case 0x07:
      for (let j = 0; j + 15 < data.length; j += 16) addUuid(adv, reversedHex(data.subarray(j, j + 16)));
      break;
    case 0x08:
    case 0x09:
      adv.localName = data.toString('utf8');
      break;
    case 0x0a:
      if (data.length >= 1) adv.txPowerLevel = data.readInt8(0);
      break;
    // As noble: pushed even when shorter than its UUID (the UUID is then what bytes there are).
    case 0x16:
      adv.serviceData.push({ uuid: reversedHex(data.subarray(0, 2)), data: data.subarray(2) });
      break;
    case 0x20:
      adv.serviceData.push({ uuid: reversedHex(data.subarray(0, 4)), data: data.subarray(4) });
      break;
    case 0x21:
      adv.serviceData.push({ uuid: reversedHex(data.subarray(0, 16)), data: data.subarray(16) });
      break;
    case 0xff:
      adv.manufacturerData = data;
      break;
  }
}

function addUuid(adv: BleAdvertisement, uuid: string): void {
  if (!adv.serviceUuids.includes(uuid)) adv.serviceUuids.push(uuid);
}

/** The advertisement noble would report for this advertising data and optional scan response. */
export function advertisementFromAd(adv: Buffer, scanResponse?: Buffer): BleAdvertisement {
  const out: BleAdvertisement = { serviceData: [], serviceUuids: [] };
  for (const s of parseAdStructures(adv).structures) apply(out, s);
  if (scanResponse) for (const s of parseAdStructures(scanResponse).structures) apply(out, s);
  return out;
}

function structure(type: number, data: Buffer): Buffer {
  const body = data.subarray(0, 254);
  return Buffer.concat([Buffer.from([body.length + 1, type]), body]);
}

const uuidBytes = (hex: string) =>
  Buffer.from(hex.padStart(hex.length <= 4 ? 4 : hex.length <= 8 ? 8 : 32, '0'), 'hex').reverse();

/**
 * AD structures for what noble reported (recording from a live adapter, where noble does not hand
 * over the raw bytes). Flags and AD types noble drops are not recovered; everything the driver
 * parses is. `advertisementFromAd(encodeAdvertisement(a))` gives `a` back.
 */
export function encodeAdvertisement(adv: BleAdvertisement): Buffer {
  const parts: Buffer[] = [];
  const short = adv.serviceUuids.filter((u) => u.length <= 4);
  const long = adv.serviceUuids.filter((u) => u.length > 8);
  if (short.length > 0) parts.push(structure(0x03, Buffer.concat(short.map(uuidBytes))));
  if (long.length > 0) parts.push(structure(0x07, Buffer.concat(long.map(uuidBytes))));
  for (const sd of adv.serviceData) {
    // Service data UUIDs are whole bytes already (noble hex-encodes them), short ones included.
    const type = sd.uuid.length <= 4 ? 0x16 : sd.uuid.length <= 8 ? 0x20 : 0x21;
    const uuid = sd.uuid.length < 4 && sd.data.length > 0 ? sd.uuid.padStart(4, '0') : sd.uuid;
    parts.push(structure(type, Buffer.concat([Buffer.from(uuid, 'hex').reverse(), sd.data])));
  }
  if (adv.localName !== undefined) parts.push(structure(0x09, Buffer.from(adv.localName, 'utf8')));
  if (adv.txPowerLevel !== undefined) {
    const b = Buffer.alloc(1);
    b.writeInt8(Math.max(-128, Math.min(127, adv.txPowerLevel)));
    parts.push(structure(0x0a, b));
  }
  if (adv.manufacturerData) parts.push(structure(0xff, adv.manufacturerData));
  return Buffer.concat(parts);
}
